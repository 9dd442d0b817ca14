/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "layout.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
static uint64_t round_down(uint64_t x, uint64_t a) { return x / a * a; }

static int fail(int r, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

static uint64_t meta_sectors_for(uint64_t data_sectors, uint32_t block)
{
	uint64_t blocks = data_sectors / block;
	uint64_t bytes = blocks * 64 + (UINT64_C(4) << 20);
	uint64_t s = round_up(bytes, 4096) / SECTOR_BYTES;
	return s < 4096 ? 4096 : s;
}

int layout_compute(uint64_t volatile_bytes, uint64_t swap_bytes, unsigned sector_size,
		   struct layout *l, char *err, size_t errlen)
{
	if (sector_size != 512 && sector_size != 4096)
		return fail(-EINVAL, err, errlen, "crypt sector size %u is neither 512 nor 4096", sector_size);
	memset(l, 0, sizeof(*l));
	l->crypt_sectors = round_down(volatile_bytes / SECTOR_BYTES, sector_size / SECTOR_BYTES);

	uint64_t swap = round_up(swap_bytes, 4096) / SECTOR_BYTES;
	uint64_t need = swap + 2 * LAYOUT_ALIGN_SECTORS + 4096 + LAYOUT_MIN_POOL_BYTES / SECTOR_BYTES;
	if (l->crypt_sectors < need)
		return fail(-ENOSPC, err, errlen,
			    "volatile disk is %llu MiB, too small for %llu MiB swap + 64 MiB pool; "
			    "enlarge the volatile volume or lower qubes.ephemeral.swap",
			    (unsigned long long)(volatile_bytes >> 20), (unsigned long long)(swap_bytes >> 20));

	/* swap first, then metadata, then data, each on a 1 MiB boundary */
	l->swap_start = 0;
	l->swap_sectors = swap;
	l->meta_start = round_up(swap, LAYOUT_ALIGN_SECTORS);
	uint64_t rest = l->crypt_sectors - l->meta_start;

	uint32_t block = LAYOUT_BLOCK_SECTORS;
	uint64_t meta;
	while (rest / block > LAYOUT_MAX_BLOCKS && block < (1u << 21))
		block *= 2;
	for (;;) {
		meta = meta_sectors_for(rest, block);
		if (meta <= LAYOUT_META_MAX_SECTORS / 2 || block >= (1u << 21))
			break;
		block *= 2;
	}
	l->meta_sectors = meta;
	l->data_start = round_up(l->meta_start + meta, LAYOUT_ALIGN_SECTORS);
	if (l->data_start >= l->crypt_sectors)
		return fail(-ENOSPC, err, errlen, "volatile disk too small for the thin-pool metadata");
	l->data_sectors = round_down(l->crypt_sectors - l->data_start, block);
	l->block_sectors = block;
	if (l->data_sectors * (uint64_t)SECTOR_BYTES < LAYOUT_MIN_POOL_BYTES)
		return fail(-ENOSPC, err, errlen,
			    "volatile disk leaves %llu MiB for the pool, need at least 64 MiB; "
			    "enlarge the volatile volume or lower qubes.ephemeral.swap",
			    (unsigned long long)(l->data_sectors * SECTOR_BYTES >> 20));
	return 0;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

unsigned probe_fs_block(const uint8_t *buf, size_t len)
{
	if (len >= 2048 && buf[1024 + 56] == 0x53 && buf[1024 + 57] == 0xEF) {
		uint32_t log = le32(buf + 1024 + 24);   /* s_log_block_size */
		if (log <= 6)
			return 1024u << log;
		return 512;
	}
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return 512;
	return 0;
}

int choose_sector_size(unsigned volatile_lbs, const unsigned *fs_block, size_t n,
		       unsigned *sector_size, char *err, size_t errlen)
{
	bool big = volatile_lbs <= 4096;
	for (size_t i = 0; i < n; i++)
		if (fs_block[i] != 0 && fs_block[i] < 4096)
			big = false;
	if (big) {
		*sector_size = 4096;
		return 0;
	}
	if (volatile_lbs > 512)
		return fail(-EINVAL, err, errlen,
			    "an origin has filesystem blocks smaller than 4096 bytes but the volatile "
			    "disk has %u-byte sectors; use a volatile disk with 512-byte sectors",
			    volatile_lbs);
	*sector_size = 512;
	return 0;
}

static int emit(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

int table_crypt(char *buf, size_t len, const char *key_desc, unsigned key_bytes,
		const char *dev, unsigned sector_size, unsigned flags)
{
	static const struct { unsigned flag; const char *word; } words[] = {
		{ CRYPT_NO_READ_WORKQUEUE, " no_read_workqueue" },
		{ CRYPT_NO_WRITE_WORKQUEUE, " no_write_workqueue" },
		{ CRYPT_SAME_CPU_CRYPT, " same_cpu_crypt" },
		{ CRYPT_SUBMIT_FROM_CRYPT_CPUS, " submit_from_crypt_cpus" },
	};
	char opt[128] = " allow_discards", size[24] = "";
	unsigned n = 1;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (flags & words[i].flag) {
			strcat(opt, words[i].word);
			n++;
		}
	/* plain64 IVs count 512-byte sectors unless iv_large_sectors; fine either
	 * way for a fresh device, so keep the default. */
	if (sector_size != 512) {
		snprintf(size, sizeof(size), " sector_size:%u", sector_size);
		n++;
	}
	return emit(buf, len, "aes-xts-plain64 :%u:logon:%s 0 %s 0 %u%s%s",
		    key_bytes, key_desc, dev, n, opt, size);
}

int table_linear(char *buf, size_t len, const char *dev, uint64_t offset)
{
	return emit(buf, len, "%s %llu", dev, (unsigned long long)offset);
}

int table_pool(char *buf, size_t len, const char *meta_dev, const char *data_dev,
	       uint32_t block_sectors)
{
	/* error_if_no_space: a full pool fails writes at once instead of queueing
	 * them forever (the default), so the guest sees ENOSPC, not a hang. */
	return emit(buf, len, "%s %s %u 0 1 error_if_no_space", meta_dev, data_dev, block_sectors);
}

int table_thin(char *buf, size_t len, const char *pool_dev, unsigned id, const char *origin_dev)
{
	return emit(buf, len, "%s %u %s", pool_dev, id, origin_dev);
}

int table_snapshot(char *buf, size_t len, const char *origin_dev, const char *cow_dev)
{
	/* as the stock Qubes init: non-persistent, 16-sector chunks */
	return emit(buf, len, "%s %s N 16", origin_dev, cow_dev);
}
