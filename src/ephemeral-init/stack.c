/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ephemeral storage stack (shared/DESIGN.md). Only built in ephemeral
 * mode. Each function returns a negative errno and leaves what failed in
 * c->why; the caller (main.c, hook.c) stops the boot with that one line.
 *   volatile -> crypt -> { swap, pool metadata, pool data } -> thin-pool
 *   -> thin dmroot (origin: root partition), thin private (origin: private disk)
 * Tables are computed by lib/layout.c; this file only loads them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dm.h"
#include "fileio.h"
#include "init.h"
#include "log.h"

#define PARAMS_MAX 512

/* Creates name with one target and makes it live, with a /dev/mapper node. */
static int create_device(struct ctx *c, const char *name, const char *type,
			 uint64_t sectors, const char *params, bool secure, dev_t *dev)
{
	struct dm_target t = { .start = 0, .length = sectors, .type = type, .params = params };
	char uuid[64];
	int r;

	snprintf(uuid, sizeof(uuid), DM_UUID_PREFIX "%s", name);
	if ((r = dm_create(c->dm, name, uuid, dev)) < 0)
		return step_fail(c, r, "cannot create device-mapper device %s", name);
	if ((r = dm_load(c->dm, name, &t, 1, false, secure)) < 0)
		return step_fail(c, r, "the kernel refused the %s table of %s", type, name);
	if ((r = dm_resume(c->dm, name)) < 0)
		return step_fail(c, r, "cannot activate %s", name);
	if ((r = dm_make_node(name, *dev)) < 0)
		return step_fail(c, r, "cannot create /dev/mapper/%s", name);
	return 0;
}

/* test builds: qubes.ephemeral.test.fail=STEP makes that step fail here */
static int injected(struct ctx *c, enum fail_step s)
{
#if TEST_HOOKS
	if (c->opt.test_fail == s)
		return step_fail(c, -ECANCELED, "%s: injected failure (qubes.ephemeral.test.fail=%s)",
				 fail_step_name(s), fail_step_name(s));
#else
	(void)c, (void)s;
#endif
	return 0;
}

static int choose_geometry(struct ctx *c)
{
	uint8_t head[8192];
	unsigned fs_block[2];
	char err[256];
	int r;

	if ((r = read_head(c->root.name, head, sizeof(head))) < 0)
		return step_fail(c, r, "cannot read root origin /dev/%s", c->root.name);
	fs_block[0] = probe_fs_block(head, sizeof(head));
	if ((r = read_head(c->private_.name, head, sizeof(head))) < 0) {
		explicit_bzero(head, sizeof(head));
		return step_fail(c, r, "cannot read private origin /dev/%s", c->private_.name);
	}
	fs_block[1] = probe_fs_block(head, sizeof(head));
	explicit_bzero(head, sizeof(head));
	if (c->opt.crypt_flags & CRYPT_SECTOR_512) {
		if (c->volatile_.lbs != 512)
			return step_fail(c, -EINVAL, "qubes.ephemeral.crypt_flags=sector512 needs a volatile disk "
					 "with 512-byte sectors, /dev/%s has %u", c->volatile_.name, c->volatile_.lbs);
		fs_block[0] = 512;   /* as if an origin had small blocks: 512 is chosen */
	}
	if ((r = choose_sector_size(c->volatile_.lbs, fs_block, 2, &c->sector_size, err, sizeof(err))) < 0 ||
	    (r = layout_compute(c->volatile_.bytes, c->opt.swap_bytes, c->sector_size, &c->layout, err, sizeof(err))) < 0)
		return step_fail(c, r, "%s", err);
	return 0;
}

static int build_crypt(struct ctx *c, dev_t *crypt)
{
	char params[PARAMS_MAX], vol[32];
	int r;

	devname_of(c->volatile_.dev, vol, sizeof(vol));
#if TEST_HOOKS
	if (c->opt.test_plain) {
		/* control runs only: proves the residue scan can find plaintext */
		log_info("TEST BUILD: qubes.ephemeral.test.plain=1, volatile data is NOT encrypted");
		table_linear(params, sizeof(params), vol, 0);
		return create_device(c, DM_CRYPT, "linear", c->layout.crypt_sectors, params, false, crypt);
	}
#endif
	int key = key_load(c);
	if (key < 0)
		return key;
	if ((r = table_crypt(params, sizeof(params), KEY_DESC, KEY_BYTES, vol, c->sector_size,
			       c->opt.crypt_flags)) < 0) {
		key_forget(key);
		return step_fail(c, r, "cannot write the dm-crypt table");
	}
	if ((r = injected(c, FAIL_CRYPT)) < 0) {
		key_forget(key);
		return r;
	}
	r = create_device(c, DM_CRYPT, "crypt", c->layout.crypt_sectors, params, true, crypt);
	/* dm-crypt copied the key when the table loaded; drop the keyring copy */
	key_forget(key);
	return r;
}

static int zero_start(const char *name, size_t bytes)
{
	char path[128];
	static uint8_t zeros[4096];  /* not const: .bss, not 4 KiB of the file */
	snprintf(path, sizeof(path), "/dev/mapper/%s", name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = 0;
	for (size_t off = 0; off < bytes && !r; off += sizeof(zeros))
		r = pwrite_full(fd, zeros, sizeof(zeros), (off_t)off);
	if (!r && fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int build_swap(struct ctx *c, const char *crypt)
{
	char params[PARAMS_MAX];
	dev_t dev;
	int r;

	if (!c->layout.swap_sectors)
		return 0;
	table_linear(params, sizeof(params), crypt, c->layout.swap_start);
	if ((r = create_device(c, DM_SWAP, "linear", c->layout.swap_sectors, params, false, &dev)) < 0)
		return r;
	if ((r = swap_format("/dev/mapper/" DM_SWAP, c->layout.swap_sectors * SECTOR_BYTES)) < 0)
		return step_fail(c, r, "cannot write the swap header");
	if ((r = injected(c, FAIL_SWAPON)) < 0)
		return r;
	if ((r = swap_enable("/dev/mapper/" DM_SWAP)) < 0)
		return step_fail(c, r, "swapon /dev/mapper/" DM_SWAP " failed");
	return 0;
}

static int build_pool(struct ctx *c, const char *crypt, dev_t *pool)
{
	const struct layout *l = &c->layout;
	char params[PARAMS_MAX], meta[32], data[32];
	dev_t dev;
	int r;

	table_linear(params, sizeof(params), crypt, l->meta_start);
	if ((r = create_device(c, DM_META, "linear", l->meta_sectors, params, false, &dev)) < 0)
		return r;
	devname_of(dev, meta, sizeof(meta));
	/* Never-written sectors of a fresh crypt device read as random bytes; an
	 * all-zero superblock is what tells dm-thin to format new metadata. */
	if ((r = zero_start(DM_META, 4096)) < 0)
		return step_fail(c, r, "cannot clear the thin-pool metadata superblock");
	table_linear(params, sizeof(params), crypt, l->data_start);
	if ((r = create_device(c, DM_DATA, "linear", l->data_sectors, params, false, &dev)) < 0)
		return r;
	devname_of(dev, data, sizeof(data));
	if ((r = injected(c, FAIL_POOL)) < 0)
		return r;
	table_pool(params, sizeof(params), meta, data, l->block_sectors);
	return create_device(c, DM_POOL, "thin-pool", l->data_sectors, params, false, pool);
}

static int build_thin(struct ctx *c, const char *pool, unsigned id, const char *name,
		      const struct disk *origin)
{
	char params[PARAMS_MAX], msg[32], org[32];
	dev_t dev;
	int r;

	snprintf(msg, sizeof(msg), "create_thin %u", id);
	if ((r = dm_message(c->dm, DM_POOL, 0, msg)) < 0)
		return step_fail(c, r, "thin-pool message \"%s\" failed", msg);
	if ((r = injected(c, FAIL_THIN)) < 0)
		return r;
	devname_of(origin->dev, org, sizeof(org));
	table_thin(params, sizeof(params), pool, id, org);
	/* the thin device has the origin's size, in whole crypt sectors */
	uint64_t step = c->sector_size / SECTOR_BYTES;
	uint64_t sectors = origin->bytes / SECTOR_BYTES / step * step;
	if (!sectors)
		return step_fail(c, -EINVAL, "origin /dev/%s is empty", origin->name);
	return create_device(c, name, "thin", sectors, params, false, &dev);
}

int build_stack(struct ctx *c)
{
	char crypt[32], pool[32];
	dev_t dev;
	int r;

	if ((r = choose_geometry(c)) < 0)
		return r;
	if ((c->dm = dm_open_control()) < 0)
		return step_fail(c, c->dm, "cannot open /dev/mapper/control (is dm-mod loaded?)");
	step_done(c, "geometry");
	test_hang(c, "crypt");
	if ((r = build_crypt(c, &dev)) < 0)
		return r;
	step_done(c, "crypt");
	devname_of(dev, crypt, sizeof(crypt));
	test_hang(c, "swap");
	if ((r = build_swap(c, crypt)) < 0)
		return r;
	step_done(c, "swap");
	test_hang(c, "pool");
	if ((r = build_pool(c, crypt, &dev)) < 0)
		return r;
	step_done(c, "pool");
	devname_of(dev, pool, sizeof(pool));
	test_hang(c, "thin");
	if ((r = build_thin(c, pool, 0, DM_ROOT, &c->root)) < 0 ||
	    (r = build_thin(c, pool, 1, DM_PRIVATE, &c->private_)) < 0)
		return r;
	step_done(c, "thin");
	log_info("encrypted stack ready: %llu MiB volatile, %llu MiB swap, %llu MiB pool, %u-byte sectors",
		 (unsigned long long)(c->volatile_.bytes >> 20),
		 (unsigned long long)(c->layout.swap_sectors * SECTOR_BYTES >> 20),
		 (unsigned long long)(c->layout.data_sectors * SECTOR_BYTES >> 20), c->sector_size);
	return 0;
}
