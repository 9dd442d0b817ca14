/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/layout.c: splitting the volatile disk and the table strings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "layout.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)

static void check_invariants(const struct layout *l, unsigned sector)
{
	uint64_t step = sector / 512;
	assert_int_equal(l->crypt_sectors % step, 0);
	assert_int_equal(l->swap_start, 0);
	assert_true(l->meta_start >= l->swap_start + l->swap_sectors);
	assert_int_equal(l->meta_start % LAYOUT_ALIGN_SECTORS, 0);
	assert_int_equal(l->data_start % LAYOUT_ALIGN_SECTORS, 0);
	assert_true(l->data_start >= l->meta_start + l->meta_sectors);
	assert_true(l->data_start + l->data_sectors <= l->crypt_sectors);
	assert_int_equal(l->data_sectors % l->block_sectors, 0);
	assert_int_equal(l->block_sectors % 128, 0);   /* dm-thin: multiple of 64 KiB */
	assert_true(l->meta_sectors <= LAYOUT_META_MAX_SECTORS);
	assert_int_equal(l->meta_sectors % 8, 0);
}

static void twelve_gib_default(void **state)
{
	(void)state;
	struct layout l;
	char err[256];
	assert_int_equal(layout_compute(12 * GiB, 1 * GiB, 4096, &l, err, sizeof(err)), 0);
	check_invariants(&l, 4096);
	assert_int_equal(l.swap_sectors, 2 * 1024 * 1024);
	assert_int_equal(l.block_sectors, 128);
	/* metadata is a small fraction: < 1 % of the data */
	assert_true(l.meta_sectors * 100 < l.data_sectors);
	/* almost everything but swap is pool data */
	assert_true(l.data_sectors * 512 > 10 * GiB + 900 * MiB);
}

static void one_tib_sparse(void **state)
{
	(void)state;
	struct layout l;
	char err[256];
	assert_int_equal(layout_compute(1 * TiB, 1 * GiB, 4096, &l, err, sizeof(err)), 0);
	check_invariants(&l, 4096);
	assert_true(l.data_sectors * 512 > 1 * TiB - 4 * GiB);
	/* the block count, and with it the pool's setup work, stays bounded */
	assert_int_equal(l.block_sectors, 512);
	assert_true(l.data_sectors / l.block_sectors <= LAYOUT_MAX_BLOCKS);
	assert_true(l.meta_sectors * 512 < 300 * MiB);
	/* up to 256 GiB of data the block stays 64 KiB */
	assert_int_equal(layout_compute(257 * GiB, 1 * GiB, 4096, &l, err, sizeof(err)), 0);
	assert_int_equal(l.block_sectors, 128);
	assert_int_equal(layout_compute(257 * GiB + 2 * MiB, 1 * GiB, 4096, &l, err, sizeof(err)), 0);
	assert_int_equal(l.block_sectors, 256);
	check_invariants(&l, 4096);
}

static void huge_disk_grows_block(void **state)
{
	(void)state;
	struct layout l;
	char err[256];
	assert_int_equal(layout_compute(256 * TiB, 0, 4096, &l, err, sizeof(err)), 0);
	check_invariants(&l, 4096);
	assert_true(l.block_sectors > 128);
}

static void no_swap(void **state)
{
	(void)state;
	struct layout l;
	char err[256];
	assert_int_equal(layout_compute(1 * GiB, 0, 512, &l, err, sizeof(err)), 0);
	check_invariants(&l, 512);
	assert_int_equal(l.swap_sectors, 0);
	assert_int_equal(l.meta_start, 0);
}

static void too_small(void **state)
{
	(void)state;
	struct layout l;
	char err[256] = "";
	assert_int_equal(layout_compute(1 * GiB, 1 * GiB, 4096, &l, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "too small"));
	assert_int_equal(layout_compute(1 * GiB + 40 * MiB, 1 * GiB, 4096, &l, err, sizeof(err)), -ENOSPC);
	assert_int_equal(layout_compute(12 * GiB, 0, 1024, &l, err, sizeof(err)), -EINVAL);
}

static void odd_volatile_size_rounds_down(void **state)
{
	(void)state;
	struct layout l;
	char err[256];
	assert_int_equal(layout_compute(2 * GiB + 1536, 256 * MiB, 4096, &l, err, sizeof(err)), 0);
	assert_int_equal(l.crypt_sectors, 2 * GiB / 512);
	check_invariants(&l, 4096);
	assert_int_equal(layout_compute(2 * GiB + 1536, 256 * MiB, 512, &l, err, sizeof(err)), 0);
	assert_int_equal(l.crypt_sectors, 2 * GiB / 512 + 3);
}

static void fs_block_probe(void **state)
{
	(void)state;
	uint8_t buf[4096] = { 0 };
	assert_int_equal(probe_fs_block(buf, sizeof(buf)), 0);           /* blank */
	buf[1024 + 56] = 0x53;
	buf[1024 + 57] = 0xef;
	assert_int_equal(probe_fs_block(buf, sizeof(buf)), 1024);        /* log 0 */
	buf[1024 + 24] = 2;
	assert_int_equal(probe_fs_block(buf, sizeof(buf)), 4096);
	buf[1024 + 24] = 200;
	assert_int_equal(probe_fs_block(buf, sizeof(buf)), 512);         /* nonsense */
	memset(buf, 0, sizeof(buf));
	buf[3000] = 1;
	assert_int_equal(probe_fs_block(buf, sizeof(buf)), 512);         /* unknown data */
	assert_int_equal(probe_fs_block(buf, 100), 0);                   /* short, zeros */
}

static void sector_size_choice(void **state)
{
	(void)state;
	unsigned s = 0;
	char err[256];
	unsigned big[2] = { 4096, 4096 }, blank[2] = { 4096, 0 }, small[2] = { 4096, 1024 };
	assert_int_equal(choose_sector_size(512, big, 2, &s, err, sizeof(err)), 0);
	assert_int_equal(s, 4096);
	assert_int_equal(choose_sector_size(512, blank, 2, &s, err, sizeof(err)), 0);
	assert_int_equal(s, 4096);
	assert_int_equal(choose_sector_size(512, small, 2, &s, err, sizeof(err)), 0);
	assert_int_equal(s, 512);
	assert_int_equal(choose_sector_size(4096, small, 2, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "512-byte sectors"));
	assert_int_equal(choose_sector_size(4096, big, 2, &s, err, sizeof(err)), 0);
	assert_int_equal(s, 4096);
}

static void tables(void **state)
{
	(void)state;
	char b[256];
	assert_int_equal(table_crypt(b, sizeof(b), "qubes-ephemeral:volatile", 64, "254:32", 4096, 0), 0);
	assert_string_equal(b, "aes-xts-plain64 :64:logon:qubes-ephemeral:volatile 0 254:32 0 2 allow_discards sector_size:4096");
	assert_int_equal(table_crypt(b, sizeof(b), "k:d", 64, "8:0", 512, 0), 0);
	assert_string_equal(b, "aes-xts-plain64 :64:logon:k:d 0 8:0 0 1 allow_discards");
	assert_int_equal(table_crypt(b, sizeof(b), "k:d", 64, "8:0", 4096,
				     CRYPT_NO_READ_WORKQUEUE | CRYPT_NO_WRITE_WORKQUEUE), 0);
	assert_string_equal(b, "aes-xts-plain64 :64:logon:k:d 0 8:0 0 4 allow_discards "
			       "no_read_workqueue no_write_workqueue sector_size:4096");
	assert_int_equal(table_crypt(b, sizeof(b), "k:d", 64, "8:0", 512,
				     CRYPT_SAME_CPU_CRYPT | CRYPT_SUBMIT_FROM_CRYPT_CPUS | CRYPT_SECTOR_512), 0);
	assert_string_equal(b, "aes-xts-plain64 :64:logon:k:d 0 8:0 0 3 allow_discards "
			       "same_cpu_crypt submit_from_crypt_cpus");
	assert_int_equal(table_linear(b, sizeof(b), "253:0", 2048), 0);
	assert_string_equal(b, "253:0 2048");
	assert_int_equal(table_pool(b, sizeof(b), "253:2", "253:3", 128), 0);
	assert_string_equal(b, "253:2 253:3 128 0 1 error_if_no_space");
	assert_int_equal(table_thin(b, sizeof(b), "253:4", 1, "254:16"), 0);
	assert_string_equal(b, "253:4 1 254:16");
	assert_int_equal(table_snapshot(b, sizeof(b), "254:3", "254:34"), 0);
	assert_string_equal(b, "254:3 254:34 N 16");
	char tiny[8];
	assert_int_equal(table_linear(tiny, sizeof(tiny), "253:0", 123456789), -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(twelve_gib_default),
		cmocka_unit_test(one_tib_sparse),
		cmocka_unit_test(huge_disk_grows_block),
		cmocka_unit_test(no_swap),
		cmocka_unit_test(too_small),
		cmocka_unit_test(odd_volatile_size_rounds_down),
		cmocka_unit_test(fs_block_probe),
		cmocka_unit_test(sector_size_choice),
		cmocka_unit_test(tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
