/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ephemeral-init's storage stack, the edits for the new root and the status
 * verdict, against a fake root (fakeroot.h) with device-mapper, swapon and
 * the module loader replaced (fakekernel.h): which tables are loaded with
 * what, what stops the stack half-way, the udev records, /dev links and swap
 * unit mask, and what ephemeral-status concludes from tables and files.
 * ld-wrap: fatal fatal_errno disk_probe disk_force_readonly wait_disk dm_open_control dm_create dm_load dm_resume dm_message dm_make_node dm_devno dm_list dm_query syscall mount umount2 swap_enable ioctl
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "init.h"
int __real_mount(const char *, const char *, const char *, unsigned long, const void *);
#define FR_MOUNT __real_mount
#include "fakeroot.h"
#include "fakekernel.h"

static struct ctx c;

static void ctx_init(const char *cmdline)
{
	char err[256];
	memset(&c, 0, sizeof(c));
	c.uevent_fd = -1, c.dm = -1;
	assert_int_equal(cmdline_parse(cmdline, &c.opt, err, sizeof(err)), 0);
}

#define ENTER() do { fk_reset(); if (!fr_enter()) skip(); } while (0)

static int cleanup(void **state)
{
	(void)state;
	fr_leave();
	return 0;
}

static void ext4_origin(const char *dev, unsigned log_block)
{
	uint8_t sb[4096] = { 0 };
	sb[1024 + 56] = 0x53, sb[1024 + 57] = 0xEF;
	sb[1024 + 24] = (uint8_t)log_block;
	fr_mkdirs(dev);
	int fd = open(dev, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, sb, sizeof(sb)), (ssize_t)sizeof(sb));
	close(fd);
}

/* what lock_origins leaves: origins and the volatile disk probed */
static void probed_disks(const char *cmdline)
{
	ctx_init(cmdline);
	snprintf(c.root.name, sizeof(c.root.name), "xvda3");
	c.root.dev = makedev(202, 3), c.root.bytes = (1ull << 30) + 4096 + 512, c.root.lbs = 512;
	snprintf(c.private_.name, sizeof(c.private_.name), "xvdb");
	c.private_.dev = makedev(202, 16), c.private_.bytes = 2ull << 30, c.private_.lbs = 512;
	snprintf(c.volatile_.name, sizeof(c.volatile_.name), "xvdc");
	c.volatile_.dev = makedev(202, 32), c.volatile_.bytes = 4ull << 30, c.volatile_.lbs = 512;
	ext4_origin("/dev/xvda3", 2);
	ext4_origin("/dev/xvdb", 2);
}

/* ---- the stack ---- */

static void stack_tables(void **state)
{
	(void)state;
	char want[256];
	ENTER();
	probed_disks("qubes.ephemeral=1 qubes.ephemeral.swap=256M");
	assert_int_equal(build_stack(&c), 0);
	assert_string_equal(fk_dm_log,
		"create:ephemeral-crypt load:ephemeral-crypt resume:ephemeral-crypt "
		"create:ephemeral-swap load:ephemeral-swap resume:ephemeral-swap "
		"create:ephemeral-pool-meta load:ephemeral-pool-meta resume:ephemeral-pool-meta "
		"create:ephemeral-pool-data load:ephemeral-pool-data resume:ephemeral-pool-data "
		"create:ephemeral-pool load:ephemeral-pool resume:ephemeral-pool "
		"msg:ephemeral-pool:create_thin 0 create:dmroot load:dmroot resume:dmroot "
		"msg:ephemeral-pool:create_thin 1 create:ephemeral-private load:ephemeral-private resume:ephemeral-private");
	/* the crypt table names the key by its keyring description, never its bytes,
	 * and is loaded with the kernel's secure-data flag */
	struct fk_dm *crypt = fk_dm_find(DM_CRYPT);
	assert_string_equal(crypt->type, "crypt");
	assert_non_null(strstr(crypt->params, "aes-xts-plain64 :64:logon:qubes-ephemeral:volatile 0 202:32 0"));
	assert_non_null(strstr(crypt->params, "sector_size:4096"));
	assert_true(crypt->secure);
	assert_int_equal(c.sector_size, 4096);
	/* the key went to the keyring and was invalidated once dm-crypt had it */
	assert_string_equal(fk_key_log, "add:logon:qubes-ephemeral:volatile invalidate");
	/* swap: over the crypt device, formatted, on */
	assert_string_equal(fk_dm_find(DM_SWAP)->type, "linear");
	assert_non_null(strstr(fk_dm_find(DM_SWAP)->params, "253:0 "));
	assert_string_equal(fk_swap_log, "swapon:/dev/mapper/ephemeral-swap");
	const char *sw = fr_read("/dev/mapper/ephemeral-swap");
	(void)sw;
	int fd = open("/dev/mapper/ephemeral-swap", O_RDONLY);
	char magic[10];
	assert_int_equal(pread(fd, magic, 10, sysconf(_SC_PAGESIZE) - 10), 10);
	close(fd);
	assert_memory_equal(magic, "SWAPSPACE2", 10);
	assert_int_equal(fk_dm_find(DM_SWAP)->sectors, 256ull << 11);
	/* the pool over meta and data; the metadata superblock zeroed */
	struct stat st;
	assert_int_equal(stat("/dev/mapper/ephemeral-pool-meta", &st), 0);
	assert_int_equal(st.st_size, 4096);
	snprintf(want, sizeof(want), "253:%u 253:%u 128 ", minor(fk_dm_find(DM_META)->dev),
		 minor(fk_dm_find(DM_DATA)->dev));
	assert_string_equal(fk_dm_find(DM_POOL)->type, "thin-pool");
	assert_non_null(strstr(fk_dm_find(DM_POOL)->params, want));
	/* thin devices with the origins as external origins, whole crypt sectors long */
	snprintf(want, sizeof(want), "253:%u 0 202:3", minor(fk_dm_find(DM_POOL)->dev));
	assert_string_equal(fk_dm_find(DM_ROOT)->params, want);
	assert_int_equal(fk_dm_find(DM_ROOT)->sectors, ((1ull << 30) + 4096) / 512);
	snprintf(want, sizeof(want), "253:%u 1 202:16", minor(fk_dm_find(DM_POOL)->dev));
	assert_string_equal(fk_dm_find(DM_PRIVATE)->params, want);
	assert_false(fk_dm_find(DM_ROOT)->secure);
}

/* 1 KiB-block origins need 512-byte crypt sectors; no swap asked: none made */
static void stack_small_blocks_no_swap(void **state)
{
	(void)state;
	ENTER();
	probed_disks("qubes.ephemeral=1 qubes.ephemeral.swap=0");
	ext4_origin("/dev/xvdb", 0);
	assert_int_equal(build_stack(&c), 0);
	assert_int_equal(c.sector_size, 512);
	assert_null(strstr(fk_dm_find(DM_CRYPT)->params, "sector_size"));
	assert_null(fk_dm_find(DM_SWAP));
	assert_string_equal(fk_swap_log, "");
	assert_int_equal(c.layout.swap_sectors, 0);
}

/* each failure stops the stack where it happens, with one line in c->why;
 * the key never stays in the keyring */
static void stack_fails_closed(void **state)
{
	(void)state;
	static const struct { const char *fail, *why, *last; } cases[] = {
		{ "create:ephemeral-crypt", "cannot create device-mapper device ephemeral-crypt: Device or resource busy",
		  "create:ephemeral-crypt" },
		{ "load:ephemeral-crypt", "the kernel refused the crypt table of ephemeral-crypt: Invalid argument",
		  "load:ephemeral-crypt" },
		{ "resume:ephemeral-pool", "cannot activate ephemeral-pool: No such device or address", "resume:ephemeral-pool" },
		{ "msg:ephemeral-pool", "thin-pool message \"create_thin 0\" failed: Invalid argument",
		  "msg:ephemeral-pool:create_thin 0" },
	};
	ENTER();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fk_reset();
		probed_disks("qubes.ephemeral=1");
		fk_dm_fail = cases[i].fail;
		assert_true(build_stack(&c) < 0);
		assert_string_equal(c.why, cases[i].why);
		size_t n = strlen(fk_dm_log), m = strlen(cases[i].last);
		assert_true(n >= m);
		assert_string_equal(fk_dm_log + n - m, cases[i].last);
		assert_null(fk_dm_find(DM_ROOT) && fk_dm_find(DM_ROOT)->live ? "dmroot live" : NULL);
		if (strstr(fk_key_log, "add:"))
			assert_non_null(strstr(fk_key_log, "invalidate"));
	}
	/* swapon refused */
	fk_reset();
	probed_disks("qubes.ephemeral=1");
	fk_swap_err = -EINVAL;
	assert_true(build_stack(&c) < 0);
	assert_string_equal(c.why, "swapon /dev/mapper/ephemeral-swap failed: Invalid argument");
	assert_null(fk_dm_find(DM_POOL));
	/* no device-mapper */
	fk_reset();
	probed_disks("qubes.ephemeral=1");
	fk_dm_absent = true;
	assert_int_equal(build_stack(&c), -ENOENT);
	assert_non_null(strstr(c.why, "is dm-mod loaded?"));
	/* an origin that cannot be read */
	fk_reset();
	probed_disks("qubes.ephemeral=1");
	unlink("/dev/xvdb");
	assert_int_equal(build_stack(&c), -ENOENT);
	assert_string_equal(c.why, "cannot read private origin /dev/xvdb: No such file or directory");
	unlink("/dev/xvda3");
	assert_int_equal(build_stack(&c), -ENOENT);
	assert_string_equal(c.why, "cannot read root origin /dev/xvda3: No such file or directory");
	/* an empty origin */
	fk_reset();
	probed_disks("qubes.ephemeral=1");
	c.private_.bytes = 1024;
	assert_int_equal(build_stack(&c), -EINVAL);
	assert_string_equal(c.why, "origin /dev/xvdb is empty: Invalid argument");
	/* 512-byte sectors asked for on a 4096-byte disk */
	fk_reset();
	probed_disks("qubes.ephemeral=1 qubes.ephemeral.crypt_flags=sector512");
	c.volatile_.lbs = 4096;
	assert_int_equal(build_stack(&c), -EINVAL);
	assert_non_null(strstr(c.why, "needs a volatile disk with 512-byte sectors"));
	/* a volatile disk too small */
	fk_reset();
	probed_disks("qubes.ephemeral=1");
	c.volatile_.bytes = 1 << 20;
	assert_true(build_stack(&c) < 0);
	assert_string_equal(fk_dm_log, "");
}

/* test builds: injected failures at each step; the plain control run */
static void stack_test_hooks(void **state)
{
	(void)state;
	static const char *const steps[] = { "key", "crypt", "pool", "thin", "swapon" };
	char opt[128];
	ENTER();
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		fk_reset();
		snprintf(opt, sizeof(opt), "qubes.ephemeral=1 qubes.ephemeral.test.fail=%s", steps[i]);
		probed_disks(opt);
		assert_int_equal(build_stack(&c), -ECANCELED);
		assert_non_null(strstr(c.why, "injected failure"));
		assert_null(fk_dm_find(DM_ROOT) && fk_dm_find(DM_ROOT)->live ? "dmroot live" : NULL);
	}
	fk_reset();
	probed_disks("qubes.ephemeral=1 qubes.ephemeral.test.plain=1 qubes.ephemeral.test.keyhash=1");
	assert_int_equal(build_stack(&c), 0);
	assert_string_equal(fk_dm_find(DM_CRYPT)->type, "linear");
	assert_string_equal(fk_key_log, "");
	fk_reset();
	probed_disks("qubes.ephemeral=1 qubes.ephemeral.test.keyhash=1");
	fr_capture_stderr();
	assert_int_equal(build_stack(&c), 0);
	assert_non_null(strstr(fr_stderr(), "TEST keyhash="));
}

static void swap_header_refusals(void **state)
{
	(void)state;
	ENTER();
	assert_int_equal(swap_format("/dev/none", 1 << 20), -ENOENT);
	fr_write("/dev/tiny", "");
	assert_true(swap_format("/dev/tiny", 4096) < 0);   /* smaller than its header and one page */
}

/* ---- the new root ---- */

static const char *link_of(const char *path)
{
	static char t[256];
	ssize_t n = readlink(path, t, sizeof(t) - 1);
	t[n > 0 ? n : 0] = 0;
	return t;
}

static void stack_devices(bool swap)
{
	fk_dm_add(DM_CRYPT, makedev(253, 0), "crypt", "");
	if (swap)
		fk_dm_add(DM_SWAP, makedev(253, 1), "linear", "");
	fk_dm_add(DM_META, makedev(253, 2), "linear", "");
	fk_dm_add(DM_DATA, makedev(253, 3), "linear", "");
	fk_dm_add(DM_POOL, makedev(253, 4), "thin-pool", "");
	fk_dm_add(DM_ROOT, makedev(253, 5), "thin", "");
	fk_dm_add(DM_PRIVATE, makedev(253, 6), "thin", "");
}

static void newroot_names_and_udev(void **state)
{
	(void)state;
	struct stat st;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	stack_devices(true);
	c.layout.swap_sectors = 1 << 21;
	fr_mkdirs("/run/x");
	fr_write("/dev/xvdb", "a stale node");
	fr_capture_stderr();
	assert_int_equal(newroot_prepare(&c), 0);
	assert_non_null(strstr(fr_stderr(), "the fstab swap unit is masked (swap is on already)"));
	assert_string_equal(link_of("/dev/xvdb"), "mapper/ephemeral-private");
	assert_string_equal(link_of("/dev/xvdc1"), "mapper/ephemeral-swap");
	assert_string_equal(link_of("/run/systemd/system/dev-xvdc1.swap"), "/dev/null");
	/* internal devices: no other rules, and none offered to dom0 */
	assert_string_equal(fr_read("/run/udev/data/b253:0"),
		"E:DM_UDEV_PRIMARY_SOURCE_FLAG=1\nE:DM_UDEV_RULES_VSN=2\nE:DM_UDEV_DISABLE_DISK_RULES_FLAG=1\n"
		"E:DM_UDEV_DISABLE_OTHER_RULES_FLAG=1\nE:QUBES_EXPORT_BLOCK_DEVICE=0\n");
	assert_null(strstr(fr_read("/run/udev/data/b253:5"), "DISABLE_OTHER_RULES"));
	assert_non_null(strstr(fr_read("/run/udev/data/b253:5"), "QUBES_EXPORT_BLOCK_DEVICE=0"));
	for (int m = 0; m <= 6; m++) {
		char p[64];
		snprintf(p, sizeof(p), "/run/udev/data/b253:%d", m);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 07777, 01644);   /* kept by udevadm info --cleanup-db */
	}
	assert_non_null(strstr(fr_read("/run/udev/rules.d/98-qubes-ephemeral-hide.rules"),
			       "ENV{QUBES_EXPORT_BLOCK_DEVICE}=\"0\""));
}

static void newroot_without_swap(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1 qubes.ephemeral.disks=vda,vdb,vdc,vdd");
	stack_devices(false);
	fr_mkdirs("/run/x");
	fr_mkdirs("/dev/x");
	fr_capture_stderr();
	assert_int_equal(newroot_prepare(&c), 0);
	assert_non_null(strstr(fr_stderr(), "no swap, the fstab swap unit is masked"));
	assert_string_equal(link_of("/dev/vdb"), "mapper/ephemeral-private");
	assert_int_equal(access("/dev/vdc1", F_OK), -1);
	assert_string_equal(link_of("/run/systemd/system/dev-vdc1.swap"), "/dev/null");
	assert_int_equal(access("/run/udev/data/b253:1", F_OK), -1);
}

/* what cannot be written stops the boot (the caller's fatal) */
static void newroot_refusals(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	stack_devices(true);
	c.layout.swap_sectors = 1;
	fr_mkdirs("/dev/xvdb/busy");   /* a folder in the way */
	assert_true(newroot_prepare(&c) < 0);
	rmdir("/dev/xvdb/busy");
	rmdir("/dev/xvdb");
	/* no /run */
	assert_true(newroot_prepare(&c) < 0);
	assert_string_equal(link_of("/dev/xvdb"), "mapper/ephemeral-private");
	fr_mkdirs("/run/udev/x");
	fr_write("/run/udev/data", "not a folder");
	assert_true(newroot_prepare(&c) < 0);
}

static void state_and_status_tool(void **state)
{
	(void)state;
	struct stat st;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	snprintf(c.root.name, sizeof(c.root.name), "xvda3");
	snprintf(c.private_.name, sizeof(c.private_.name), "xvdb");
	snprintf(c.volatile_.name, sizeof(c.volatile_.name), "xvdc");
	c.root.was_writable = true;
	c.sector_size = 4096;
	c.layout.swap_sectors = 2048, c.layout.data_sectors = 4096, c.layout.block_sectors = 128;
	c.scrub = SCRUB_ABSENT;
	c.meminit.alloc = 1, c.meminit.free = -1;
	assert_true(write_state(&c, "ephemeral") < 0);   /* no /run */
	fr_mkdirs(RUN_DIR "/x");
	assert_int_equal(write_state(&c, "ephemeral"), 0);
	assert_string_equal(fr_read(STATE_FILE),
		"mode=ephemeral\nroot_origin=xvda3\nprivate_origin=xvdb\nvolatile=xvdc\n"
		"root_was_writable=yes\nprivate_was_writable=no\nsector_size=4096\nswap_bytes=1048576\n"
		"pool_data_bytes=2097152\npool_block_bytes=65536\nscrub_pages=absent\ninit_on_alloc=on\n"
		"init_on_free=unknown\n");
	/* the status tool is this very binary under another name */
	assert_true(install_status_tool() < 0);
	fr_write("/proc/self/exe", "\177ELF the binary");
	assert_int_equal(install_status_tool(), 0);
	assert_string_equal(fr_read(STATUS_TOOL), "\177ELF the binary");
	assert_int_equal(stat(STATUS_TOOL, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
}

/* ---- ephemeral-status ---- */

static int status_rc;
static const char *status(void)
{
	static char out[8192];
	char *argv[] = { "ephemeral-status", NULL };
	fflush(stdout);
	int saved = dup(1);
	int fd = open("/status.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 1);
	close(fd);
	status_rc = status_main(1, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	snprintf(out, sizeof(out), "%s", fr_read("/status.txt"));
	return out;
}

/* a VM as the boot leaves it: the tables, the state, read-only origins */
static void ephemeral_vm(void)
{
	struct stat st;
	assert_int_equal(stat("/", &st), 0);
	fk_dm_add(DM_CRYPT, makedev(253, 0), "crypt",
		  "aes-xts-plain64 :64:logon:qubes-ephemeral:volatile 0 202:32 0 2 allow_discards sector_size:4096");
	fk_dm_add(DM_SWAP, makedev(253, 1), "linear", "253:0 2048");
	fk_dm_add(DM_META, makedev(253, 2), "linear", "253:0 526336");
	fk_dm_add(DM_DATA, makedev(253, 3), "linear", "253:0 1050624");
	fk_dm_add(DM_POOL, makedev(253, 4), "thin-pool", "253:2 253:3 128 0 1 skip_block_zeroing");
	/* / of this process is the fake root: dmroot is its device */
	fk_dm_add(DM_ROOT, st.st_dev, "thin", "253:4 0 202:3");
	fk_dm_add(DM_PRIVATE, makedev(253, 6), "thin", "253:4 1 202:16");
	fr_write(STATE_FILE, "mode=ephemeral\nroot_origin=xvda3\nprivate_origin=xvdb\nvolatile=xvdc\n"
		 "root_was_writable=yes\nprivate_was_writable=no\ninit_on_alloc=on\ninit_on_free=off\nnoise\n");
	/* sysfs: the partition is a link into its disk's folder */
	fr_write("/sys/devices/vbd-51712/block/xvda/ro", "1\n");
	fr_write("/sys/devices/vbd-51712/block/xvda/xvda3/ro", "1\n");
	fr_write("/sys/devices/vbd-51712/block/xvda/xvda3/partition", "3\n");
	fr_mkdirs("/sys/class/block/x");
	unlink("/sys/class/block/xvda");
	unlink("/sys/class/block/xvda3");
	assert_int_equal(symlink("../../devices/vbd-51712/block/xvda", "/sys/class/block/xvda"), 0);
	assert_int_equal(symlink("../../devices/vbd-51712/block/xvda/xvda3", "/sys/class/block/xvda3"), 0);
	fr_write("/sys/class/block/xvdb/ro", "1\n");
	fr_write("/proc/keys", "0b1d6a5e I--Q---     1 perm 3f010000     0     0 user      other: 4\n");
	/* a swap file on / is on dmroot, so encrypted */
	fr_write("/swapfile", "");
	fr_write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1048572 0 -2\n");
	fr_write("/sys/devices/system/xen_memory/xen_memory0/scrub_pages", "1\n");
}

static void status_ephemeral(void **state)
{
	(void)state;
	ENTER();
	ephemeral_vm();
	const char *out = status();
	if (status_rc != 0)
		fprintf(stderr, "%s", out);
	assert_int_equal(status_rc, 0);
	assert_non_null(strstr(out, "mode:     ephemeral\n"));
	assert_non_null(strstr(out, "crypt:    aes-xts-plain64 over /dev/xvdc, 4096-byte sectors"));
	assert_non_null(strstr(out, "no longer in any keyring"));
	assert_non_null(strstr(out, "origins:  root read-only, private read-only (were writable at boot: root yes, "
			       "private no; forced read-only)"));
	assert_non_null(strstr(out, "swap:     /swapfile file"));
	assert_non_null(strstr(out, "pool:     data 1.8% used"));
	assert_non_null(strstr(out, "Xen balloon scrubbing on"));
	assert_non_null(strstr(out, "verdict:  ephemeral\n"));
}

/* each weakness found in the tables or the files is a "NOT ephemeral" */
static void status_not_ephemeral(void **state)
{
	(void)state;
	ENTER();
	/* the whole root disk writable, though its partition is read-only */
	ephemeral_vm();
	fr_write("/sys/devices/vbd-51712/block/xvda/ro", "0\n");
	const char *out = status();
	assert_int_equal(status_rc, 1);
	assert_non_null(strstr(out, "origins:  root WRITABLE"));
	assert_non_null(strstr(out, "verdict:  NOT ephemeral: "));
	fr_write("/sys/devices/vbd-51712/block/xvda/ro", "1\n");
	/* the private origin writable */
	fr_write("/sys/class/block/xvdb/ro", "0\n");
	out = status();
	assert_int_equal(status_rc, 1);
	assert_non_null(strstr(out, "private WRITABLE"));
	fr_write("/sys/class/block/xvdb/ro", "1\n");
	/* the key still in a keyring */
	fr_write("/proc/keys", "1d6a5e I--Q--- 1 perm 3f010000 0 0 logon qubes-ephemeral:volatile: 64\n");
	out = status();
	assert_int_equal(status_rc, 1);
	assert_non_null(strstr(out, "STILL IN A KEYRING"));
	fr_write("/proc/keys", "");
	/* a swap partition the tables cannot vouch for */
	fr_write("/dev/xvdc1", "");
	fr_write("/proc/swaps", "Filename Type Size Used Priority\n/dev/xvdc1 partition 1048572 0 -2\n/gone file 4 0 -3\n");
	out = status();
	assert_int_equal(status_rc, 1);
	assert_non_null(strstr(out, "verdict:  NOT ephemeral: "));
	fr_write("/proc/swaps", "Filename Type Size Used Priority\n");
	out = status();
	assert_non_null(strstr(out, "swap:     none active"));
	assert_int_equal(status_rc, 0);
	unlink("/proc/swaps");
	out = status();
	assert_non_null(strstr(out, "/proc/swaps unreadable"));
	assert_int_equal(status_rc, 1);
}

static void status_tables_lie(void **state)
{
	(void)state;
	ENTER();
	/* a linear "crypt" device */
	ephemeral_vm();
	snprintf(fk_dm_find(DM_CRYPT)->type, 16, "linear");
	const char *out = status();
	assert_int_equal(status_rc, 1);
	assert_non_null(strstr(out, "is a linear mapping, NOT encrypted"));
	/* key bytes in the table */
	snprintf(fk_dm_find(DM_CRYPT)->type, 16, "crypt");
	snprintf(fk_dm_find(DM_CRYPT)->params, 512, "aes-xts-plain64 00112233 0 202:32 0");
	out = status();
	assert_int_equal(status_rc, 1);
	assert_non_null(strstr(out, "TABLE SHOWS KEY MATERIAL"));
	assert_non_null(strstr(out, "512-byte sectors"));
	/* no crypt device, no pool status, no state */
	fk_reset();
	ephemeral_vm();
	snprintf(fk_dm_find(DM_CRYPT)->name, DM_NAME_LEN_MAX, "other");
	fk_pool_status = "garbage";
	unlink(STATE_FILE);
	out = status();
	fk_pool_status = "1 120/4096 3000/163840 - rw discard_passdown queue_if_no_space - 1024";
	assert_int_equal(status_rc, 1);
	assert_non_null(strstr(out, "crypt:    no ephemeral-crypt device"));
	assert_non_null(strstr(out, "pool:     status unavailable"));
	assert_non_null(strstr(out, "mode:     unknown (no /run/qubes-ephemeral/state)"));
	assert_non_null(strstr(out, "origins:  root UNKNOWN, private UNKNOWN"));
}

/* stock mode (Qubes' own dm snapshot): status describes the tables it
 * finds, not the ephemeral stack's layers */
static void status_stock_tables(void **state)
{
	(void)state;
	ENTER();
	struct stat st;
	assert_int_equal(stat("/", &st), 0);
	fk_dm_add(DM_ROOT, st.st_dev, "snapshot", "202:3 202:33 N 16");
	fr_write(STATE_FILE, "mode=stock\nroot_origin=xvda3\n");
	const char *out = status();
	assert_int_equal(status_rc, 1);
	assert_non_null(strstr(out, "crypt:    no ephemeral-crypt device"));
	assert_non_null(strstr(out, "/ = dmroot, a snapshot mapping: not on the ephemeral pool"));
	assert_non_null(strstr(out, "private: no ephemeral-private device: not on the ephemeral pool"));
	assert_null(strstr(out, "(thin, origin"));
	assert_non_null(strstr(out, "verdict:  NOT ephemeral: "));
}

/* cannot tell: exit 2, never "ephemeral" */
static void status_cannot_tell(void **state)
{
	(void)state;
	ENTER();
	ephemeral_vm();
	fk_dm_absent = true;
	fr_capture_stderr();
	status();
	assert_int_equal(status_rc, 2);
	assert_non_null(strstr(fr_stderr(), "cannot open /dev/mapper/control (run as root)"));
	fk_dm_absent = false;
	fk_dm_list_fails = true;
	fr_capture_stderr();
	status();
	assert_int_equal(status_rc, 2);
	assert_non_null(strstr(fr_stderr(), "cannot list the device-mapper devices"));
}

/* ---- stock mode: what Qubes' own initramfs does ---- */

static void stock_disks(bool root_writable)
{
	ctx_init("root=/dev/mapper/dmroot ro");
	snprintf(c.kver, sizeof(c.kver), "6.1.0-test");
	fr_write("/sys/class/block/xvda/xvda3/uevent", "PARTN=3\n");
	fk_add_disk("xvda", 202, 0, 20ull << 30, root_writable);
	fk_add_disk("xvda3", 202, 3, 19ull << 30, root_writable);
	fk_add_disk("xvdc", 202, 32, 10ull << 30, true);
	fk_add_disk("xvdc1", 202, 33, 1ull << 30, true);
	fk_add_disk("xvdc2", 202, 34, 9ull << 30, true);
	fr_write("/dev/xvdc", "");
	fr_write("/dev/xvdc1", "");
	fr_write("/lib/modules/6.1.0-test/modules.dep", "kernel/drivers/md/dm-snapshot.ko:\n");
	fr_write("/lib/modules/6.1.0-test/kernel/drivers/md/dm-snapshot.ko", "dm_snapshot");
	assert_int_equal(modules_init(&c), 0);
}

static void stock_snapshot(void **state)
{
	(void)state;
	uint8_t mbr[512];
	ENTER();
	stock_disks(false);
	fr_capture_stderr();
	int r = stock_setup(&c);
	assert_non_null(strstr(fr_stderr(), "COW setup"));
	assert_int_equal(r, 0);
	/* the volatile disk: [1 MiB gap][1 GiB swap][COW], re-read by the kernel */
	int fd = open("/dev/xvdc", O_RDONLY);
	assert_int_equal(read(fd, mbr, sizeof(mbr)), 512);
	close(fd);
	assert_int_equal(mbr[510], 0x55);
	assert_int_equal(mbr[511], 0xAA);
	assert_int_equal(mbr[446 + 4], 0x82);
	assert_int_equal(mbr[462 + 4], 0x83);
	assert_int_equal(fk_rrpart, 1);
	/* the swap partition formatted (swapon is the template's) */
	char magic[10];
	fd = open("/dev/xvdc1", O_RDONLY);
	assert_int_equal(pread(fd, magic, 10, sysconf(_SC_PAGESIZE) - 10), 10);
	close(fd);
	assert_memory_equal(magic, "SWAPSPACE2", 10);
	assert_string_equal(fk_swap_log, "");
	/* dmroot: a snapshot of the root partition on the COW partition */
	assert_string_equal(fk_mod_log, "dm_snapshot");
	assert_string_equal(fk_dm_find(DM_ROOT)->type, "snapshot");
	assert_string_equal(fk_dm_find(DM_ROOT)->params, "202:3 202:34 N 16");
	assert_int_equal(fk_dm_find(DM_ROOT)->sectors, (19ull << 30) / 512);
	assert_string_equal(c.private_.name, "xvdb");
	moddb_free(c.initrd_db);
}

static void stock_writable_root(void **state)
{
	(void)state;
	char target[64];
	ENTER();
	stock_disks(true);
	assert_int_equal(stock_setup(&c), 0);
	ssize_t n = readlink("/dev/mapper/dmroot", target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = 0;
	assert_string_equal(target, "../xvda3");
	assert_null(fk_dm_find(DM_ROOT));
	assert_int_equal(fk_rrpart, 1);
	moddb_free(c.initrd_db);
}

static void stock_refusals(void **state)
{
	(void)state;
	ENTER();
	/* a volatile disk smaller than the stock 1 GiB swap */
	stock_disks(false);
	fk_disk("xvdc")->bytes = 512 << 20;
	fr_capture_stderr();
	assert_int_equal(stock_setup(&c), -ENOSPC);
	assert_non_null(strstr(fr_stderr(), "smaller than 1 GiB swap"));
	moddb_free(c.initrd_db);
	/* no root disk, no volatile disk, no COW partition, no dm-snapshot */
	static const char *const gone[] = { "xvda", "xvdc", "xvdc2" };
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		fk_reset();
		stock_disks(false);
		fk_disk(gone[i])->absent = true;
		assert_true(stock_setup(&c) < 0);
		assert_null(fk_dm_find(DM_ROOT));
		moddb_free(c.initrd_db);
	}
	fk_reset();
	stock_disks(false);
	unlink("/lib/modules/6.1.0-test/modules.dep");
	moddb_free(c.initrd_db);
	assert_int_equal(modules_init(&c), 0);
	assert_int_equal(stock_setup(&c), -ENOENT);
	fk_reset();
	stock_disks(false);
	fk_dm_fail = "load:dmroot";
	assert_int_equal(stock_setup(&c), -EINVAL);
	moddb_free(c.initrd_db);
	unlink("/dev/xvdc");
	fk_reset();
	stock_disks(true);
	unlink("/dev/xvdc");
	fr_mkdirs("/dev/xvdc/x");
	assert_true(stock_setup(&c) < 0);
	moddb_free(c.initrd_db);
}

/* ---- the key ---- */

static void key_lifecycle(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	int id = key_load(&c);
	if (id == -ENOSYS || id == -EPERM || id == -EACCES)
		skip();   /* no keyring for this process here */
	assert_true(id > 0);
	assert_string_equal(fk_key_log, "add:logon:qubes-ephemeral:volatile");
	key_forget(id);
	assert_string_equal(fk_key_log, "add:logon:qubes-ephemeral:volatile invalidate");
	key_forget(0);   /* nothing to forget */
	fr_capture_stderr();
	key_forget(id);  /* gone already: said, not fatal */
	assert_non_null(strstr(fr_stderr(), "cannot invalidate key"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(stack_tables, cleanup),
		cmocka_unit_test_teardown(stack_small_blocks_no_swap, cleanup),
		cmocka_unit_test_teardown(stack_fails_closed, cleanup),
		cmocka_unit_test_teardown(stack_test_hooks, cleanup),
		cmocka_unit_test_teardown(swap_header_refusals, cleanup),
		cmocka_unit_test_teardown(newroot_names_and_udev, cleanup),
		cmocka_unit_test_teardown(newroot_without_swap, cleanup),
		cmocka_unit_test_teardown(newroot_refusals, cleanup),
		cmocka_unit_test_teardown(state_and_status_tool, cleanup),
		cmocka_unit_test_teardown(status_ephemeral, cleanup),
		cmocka_unit_test_teardown(status_not_ephemeral, cleanup),
		cmocka_unit_test_teardown(status_tables_lie, cleanup),
		cmocka_unit_test_teardown(status_stock_tables, cleanup),
		cmocka_unit_test_teardown(status_cannot_tell, cleanup),
		cmocka_unit_test_teardown(key_lifecycle, cleanup),
		cmocka_unit_test_teardown(stock_snapshot, cleanup),
		cmocka_unit_test_teardown(stock_writable_root, cleanup),
		cmocka_unit_test_teardown(stock_refusals, cleanup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
