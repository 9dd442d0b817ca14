/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ephemeral-init's boot steps against a fake root (fakeroot.h) with the
 * kernel's part replaced (fakekernel.h): the command line, scrubbing, which
 * origins are set read-only and the refusal when that does not stick, the
 * disk waits, module load order from modules.dep, the mounts the steps ask
 * for, and the in-VM hook mode from check to finish.
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "init.h"
int __real_mount(const char *, const char *, const char *, unsigned long, const void *);
#define FR_MOUNT __real_mount
#include "fakeroot.h"
#include "fakekernel.h"

#define KVER "6.1.0-test"
/* A boot step that fails returns a negative errno with c.why set; only its
 * caller (main, hook_main) stops the boot with it. The step itself must
 * never call fatal(). fk_fatal_msg gets c.why: the line the boot prints. */
#define STEP_STOPS(call) ({ \
	volatile int step_r_ = 0; \
	if (CALLS_FATAL(step_r_ = (call))) \
		fail_msg("%s called fatal(): only main() and hook_main() may stop the boot", #call); \
	if (step_r_ < 0) \
		snprintf(fk_fatal_msg, sizeof(fk_fatal_msg), "%s", c.why); \
	step_r_ < 0; })

static struct ctx c;

static void ctx_init(const char *cmdline)
{
	char err[256];
	moddb_free(c.initrd_db);
	moddb_free(c.disk_db);
	memset(&c, 0, sizeof(c));
	c.uevent_fd = -1, c.dm = -1;
	assert_int_equal(cmdline_parse(cmdline, &c.opt, err, sizeof(err)), 0);
	snprintf(c.kver, sizeof(c.kver), KVER);
}

#define ENTER() do { fk_reset(); if (!fr_enter()) skip(); } while (0)

static int cleanup(void **state)
{
	int res[STACK_MODULES];

	(void)state;
	/* a step that stopped the boot before the stack's modules leaves the
	 * loader thread (the boot would power off): join it here */
	stack_modules_wait(res);
	fr_leave();
	moddb_free(c.initrd_db);
	moddb_free(c.disk_db);
	moddb_free(c.carried_db);
	c.initrd_db = c.disk_db = c.carried_db = NULL;
	if (c.uevent_fd >= 0)
		close(c.uevent_fd);
	c.uevent_fd = -1;
	return 0;
}

/* Qubes' disks: root xvda with its root filesystem in partition 3 */
static void qubes_disks(bool root_writable, bool private_writable)
{
	fr_write("/sys/class/block/xvda/xvda1/uevent", "MAJOR=202\nMINOR=1\nDEVNAME=xvda1\nDEVTYPE=partition\nPARTN=1\n");
	fr_write("/sys/class/block/xvda/xvda3/uevent", "MAJOR=202\nMINOR=3\nDEVNAME=xvda3\nDEVTYPE=partition\nPARTN=3\n");
	fk_add_disk("xvda", 202, 0, 20ull << 30, root_writable);
	fk_add_disk("xvda3", 202, 3, 19ull << 30, root_writable);
	fk_add_disk("xvdb", 202, 16, 2ull << 30, private_writable);
	fk_add_disk("xvdc", 202, 32, 10ull << 30, true);
}

static struct fk_disk *disk_named(const char *name)
{
	for (size_t i = 0; i < sizeof(fk_disks) / sizeof(fk_disks[0]); i++)
		if (fk_disks[i].name && !strcmp(fk_disks[i].name, name))
			return &fk_disks[i];
	fail_msg("no fake disk %s", name);
	return NULL;
}

/* ---- the command line ---- */

static void cmdline_from_proc(void **state)
{
	(void)state;
	ENTER();
	fr_write("/proc/cmdline", "root=/dev/mapper/dmroot ro qubes.ephemeral=1 qubes.ephemeral.disks=vda,vdb,vdc,vdd "
		 "qubes.ephemeral.timeout=7 qubes.ephemeral.watchdog=200\n");
	memset(&c, 0, sizeof(c));
	assert_false(STEP_STOPS(read_cmdline(&c)));
	assert_true(c.opt.ephemeral);
	assert_string_equal(c.opt.disk_root, "vda");
	assert_string_equal(c.opt.disk_volatile, "vdc");
	assert_string_equal(c.opt.disk_modules, "vdd");
	assert_int_equal(c.opt.timeout_s, 7);
	assert_int_equal(c.opt.watchdog_s, 200);
	assert_true(c.opt.root_ro);
}

static void cmdline_refusals_stop_the_boot(void **state)
{
	(void)state;
	ENTER();
	memset(&c, 0, sizeof(c));
	/* no /proc */
	assert_true(STEP_STOPS(read_cmdline(&c)));
	assert_non_null(strstr(fk_fatal_msg, "cannot read /proc/cmdline"));
	fr_write("/proc/cmdline", "qubes.ephemeral=1 qubes.ephemeral.swap=12Q\n");
	assert_true(STEP_STOPS(read_cmdline(&c)));
	assert_non_null(strstr(fk_fatal_msg, "kernel command line: "));
	assert_non_null(strstr(fk_fatal_msg, "qubes.ephemeral.swap"));
	fr_write("/proc/cmdline", "qubes.ephemeral=1 qubes.ephemeral.watchdog=1\n");
	assert_true(STEP_STOPS(read_cmdline(&c)));
	assert_non_null(strstr(fk_fatal_msg, "qubes.ephemeral.watchdog"));
}

/* the watchdog takes the longer of its option and the disk wait + 30 s; a
 * kick records the step, stop disarms it */
static void watchdog_and_steps(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1 qubes.ephemeral.watchdog=5 qubes.ephemeral.timeout=1");
	c.start_ms = monotonic_ms();
	assert_int_equal(watchdog_start(&c.opt), 0);
	step_done(&c, "api");
	step_done(&c, "disks");
	watchdog_stop();
	assert_non_null(strstr(c.steps, "api "));
	assert_non_null(strstr(c.steps, ", disks "));
	assert_int_equal(step_fail(&c, -ENOENT, "cannot find %s", "x"), -ENOENT);
	assert_string_equal(c.why, "cannot find x: No such file or directory");
	test_hang(&c, "disks");   /* not asked for: returns */
}

/* ---- scrubbing ---- */

#define SCRUB "/sys/devices/system/xen_memory/xen_memory0/scrub_pages"

static void scrubbing_turned_on(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	c.hook = true;
	fr_write(SCRUB, "0\n");
	fr_capture_stderr();
	assert_false(STEP_STOPS(enable_scrubbing(&c)));
	const char *err = fr_stderr();
	assert_int_equal(c.scrub, SCRUB_ON);
	assert_non_null(strstr(err, "scrub_pages hook did not run"));
	assert_non_null(strstr(err, "Xen balloon scrubbing on"));
	assert_string_equal(fr_read(SCRUB), "1");
}

/* the kernel keeps it off: ephemeral mode stops, stock mode says so */
static void scrubbing_refused(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	fr_mkdirs(SCRUB);
	assert_int_equal(mkdir(SCRUB, 0755), 0);
	assert_true(STEP_STOPS(enable_scrubbing(&c)));
	assert_non_null(strstr(fk_fatal_msg, "cannot turn on Xen balloon scrubbing"));
	ctx_init("");
	fr_capture_stderr();
	assert_false(STEP_STOPS(enable_scrubbing(&c)));
	assert_true(c.scrub < 0);
	assert_non_null(strstr(fr_stderr(), "Xen balloon scrubbing OFF"));
}

/* ---- origins ---- */

static void origins_locked(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	qubes_disks(true, false);
	fr_capture_stderr();
	assert_false(STEP_STOPS(lock_origins(&c)));
	/* the whole root disk, the root partition and the private disk; the volatile disk stays writable */
	assert_string_equal(fk_disk_log, "probe:xvda ro:xvda probe:xvda3 ro:xvda3 probe:xvdb ro:xvdb probe:xvdc");
	assert_true(disk_named("xvda")->locked && disk_named("xvda3")->locked && disk_named("xvdb")->locked);
	assert_false(disk_named("xvdc")->locked);
	assert_string_equal(c.root.name, "xvda3");
	assert_int_equal(c.root.dev, makedev(202, 3));
	assert_string_equal(c.volatile_.name, "xvdc");
	assert_int_equal(c.volatile_.bytes, 10ull << 30);
	assert_true(c.root.was_writable);
	assert_false(c.private_.was_writable);
	assert_non_null(strstr(fr_stderr(), "origins were attached writable (root yes, private no); forced read-only"));
}

/* only the whole disk was attached writable: the root origin counts as writable */
static void origins_whole_disk_writable(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	qubes_disks(false, false);
	disk_named("xvda")->was_writable = true;
	fr_capture_stderr();
	assert_false(STEP_STOPS(lock_origins(&c)));
	assert_true(c.root.was_writable);
	assert_non_null(strstr(fr_stderr(), "(root yes, private no)"));
}

/* read-only that does not stick on any origin stops the boot there */
static void origins_fail_closed(void **state)
{
	(void)state;
	static const struct { const char *disk, *msg, *log; } cases[] = {
		{ "xvda", "cannot set /dev/xvda read-only: Operation not permitted", "probe:xvda ro:xvda" },
		{ "xvda3", "cannot set root origin /dev/xvda3 read-only: Operation not permitted",
		  "probe:xvda ro:xvda probe:xvda3 ro:xvda3" },
		{ "xvdb", "cannot set private origin /dev/xvdb read-only: Operation not permitted",
		  "probe:xvda ro:xvda probe:xvda3 ro:xvda3 probe:xvdb ro:xvdb" },
	};
	ENTER();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fk_reset();
		ctx_init("qubes.ephemeral=1");
		qubes_disks(true, true);
		disk_named(cases[i].disk)->ro_fails = true;
		assert_true(STEP_STOPS(lock_origins(&c)));
		assert_string_equal(fk_fatal_msg, cases[i].msg);
		assert_string_equal(fk_disk_log, cases[i].log);
	}
	/* a probe that fails is the same refusal */
	fk_reset();
	qubes_disks(true, true);
	disk_named("xvdb")->probe_fails = true;
	assert_true(STEP_STOPS(lock_origins(&c)));
	assert_string_equal(fk_fatal_msg, "cannot set private origin /dev/xvdb read-only: Input/output error");
	assert_false(disk_named("xvdb")->locked);
	/* no volatile disk */
	fk_reset();
	qubes_disks(true, true);
	disk_named("xvdc")->absent = true;
	assert_true(STEP_STOPS(lock_origins(&c)));
	assert_string_equal(fk_fatal_msg, "cannot open volatile disk /dev/xvdc: No such file or directory");
}

static void origins_without_root_disk(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	assert_true(STEP_STOPS(lock_origins(&c)));
	assert_string_equal(fk_fatal_msg, "cannot find the root partition on /dev/xvda: No such file or directory");
	assert_string_equal(fk_disk_log, "");
	/* test builds: the injected failure comes before anything is touched */
	ctx_init("qubes.ephemeral=1 qubes.ephemeral.test.fail=readonly");
	qubes_disks(true, true);
	assert_true(STEP_STOPS(lock_origins(&c)));
	assert_non_null(strstr(fk_fatal_msg, "injected failure"));
	assert_string_equal(fk_disk_log, "");
}

/* Qubes' rule through the boot's own path (sysroot NULL: the fake /sys) */
static void root_partition_rule(void **state)
{
	(void)state;
	char out[64];
	ENTER();
	fr_write("/sys/class/block/xvda/xvda1/uevent", "PARTN=1\nPARTNAME=Root filesystem\n");
	fr_write("/sys/class/block/xvda/xvda3/uevent", "PARTN=3\n");
	assert_int_equal(find_root_partition(NULL, "xvda", out, sizeof(out)), 0);
	assert_string_equal(out, "xvda1");
	fr_write("/sys/class/block/xvdz/power/uevent", "");
	assert_int_equal(find_root_partition(NULL, "xvdz", out, sizeof(out)), 0);
	assert_string_equal(out, "xvdz");
}

/* ---- the disks themselves (devices.c, not replaced) ---- */

int __real_disk_probe(struct disk *d, const char *name);
int __real_disk_force_readonly(struct disk *d);

/* a "disk" that is no block device cannot be probed nor set read-only:
 * both refuse, so the boot stops instead of going on writable */
static void real_disk_calls_fail_closed(void **state)
{
	(void)state;
	struct disk d;
	uint8_t head[16];
	char name[16];
	ENTER();
	fr_write("/dev/xvda", "not a block device");
	assert_int_equal(__real_disk_probe(&d, "xvda"), -ENOTTY);
	assert_int_equal(__real_disk_probe(&d, "xvdq"), -ENOENT);
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "xvda");
	assert_true(__real_disk_force_readonly(&d) < 0);
	snprintf(d.name, sizeof(d.name), "xvdq");
	assert_int_equal(__real_disk_force_readonly(&d), -ENOENT);
	/* read_head pads a short origin with zeros */
	memset(head, 0xaa, sizeof(head));
	fr_write("/dev/short", "abc");
	assert_int_equal(read_head("short", head, sizeof(head)), 0);
	assert_memory_equal(head, "abc\0\0\0\0\0\0\0\0\0\0\0\0\0", sizeof(head));
	assert_int_equal(read_head("xvdq", head, sizeof(head)), -ENOENT);
	devname_of(makedev(202, 3), name, sizeof(name));
	assert_string_equal(name, "202:3");
}

/* a regular file named like the disk is not the disk: the wait ends in a timeout */
static void real_wait_disk_times_out(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	fr_write("/dev/xvda", "");
	c.uevent_fd = uevent_open();
	fr_capture_stderr();
	long long t0 = monotonic_ms();
	assert_int_equal(__real_wait_disk(&c, "xvda", 1, true), -ETIMEDOUT);
	assert_true(monotonic_ms() - t0 >= 900);
	assert_non_null(strstr(fr_stderr(), "waiting for /dev/xvda"));
}

static void disk_waits(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1 qubes.ephemeral.timeout=3");
	assert_true(STEP_STOPS(wait_disks(&c)));
	assert_string_equal(fk_fatal_msg, "root disk /dev/xvda did not appear within 3 s; check the VM's root volume");
	qubes_disks(false, false);
	disk_named("xvdb")->absent = true;
	assert_true(STEP_STOPS(wait_disks(&c)));
	assert_non_null(strstr(fk_fatal_msg, "private disk /dev/xvdb did not appear"));
	disk_named("xvdb")->absent = false;
	disk_named("xvdc")->absent = true;
	assert_true(STEP_STOPS(wait_disks(&c)));
	assert_non_null(strstr(fk_fatal_msg, "the VM needs a volatile volume"));
	disk_named("xvdc")->absent = false;
	fk_disk_log[0] = 0;
	assert_false(STEP_STOPS(wait_disks(&c)));
	assert_string_equal(fk_disk_log, "wait:xvda wait:xvdb wait:xvdc");
}

/* ---- modules ---- */

#define MODDIR "/lib/modules/" KVER

static void fake_module(const char *dir, const char *rel, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fr_write(path, name);
}

/* a modules.dep as depmod writes it, and the module files */
static void fake_modules(const char *dir, bool with_thin)
{
	char path[512], dep[2048];
	static const char *const mods[][2] = {
		{ "kernel/drivers/md/dm-mod.ko", "dm_mod" },
		{ "kernel/drivers/md/dm-crypt.ko", "dm_crypt" },
		{ "kernel/drivers/md/dm-bufio.ko", "dm_bufio" },
		{ "kernel/drivers/md/dm-bio-prison.ko", "dm_bio_prison" },
		{ "kernel/drivers/md/persistent-data/dm-persistent-data.ko", "dm_persistent_data" },
		{ "kernel/lib/libcrc32c.ko", "libcrc32c" },
		{ "kernel/crypto/xts.ko", "xts" },
		{ "kernel/crypto/ecb.ko", "ecb" },
		{ "kernel/crypto/cryptd.ko", "cryptd" },
		{ "kernel/crypto/crypto_simd.ko", "crypto_simd" },
		{ "kernel/arch/x86/crypto/aesni-intel.ko", "aesni_intel" },
		{ "kernel/drivers/virtio/virtio.ko", "virtio" },
		{ "kernel/drivers/virtio/virtio_ring.ko", "virtio_ring" },
		{ "kernel/drivers/block/virtio_blk.ko.xz", "virtio_blk" },
		{ "kernel/drivers/md/dm-thin-pool.ko", "dm_thin_pool" },
	};
	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
		fake_module(dir, mods[i][0], mods[i][1]);
	snprintf(dep, sizeof(dep),
		 "kernel/drivers/md/dm-mod.ko:\n"
		 "kernel/drivers/md/dm-crypt.ko: kernel/drivers/md/dm-mod.ko\n"
		 "kernel/drivers/md/dm-bufio.ko:\n"
		 "kernel/drivers/md/dm-bio-prison.ko:\n"
		 "kernel/drivers/md/persistent-data/dm-persistent-data.ko: kernel/drivers/md/dm-bufio.ko kernel/lib/libcrc32c.ko\n"
		 "kernel/lib/libcrc32c.ko:\n"
		 "kernel/crypto/xts.ko:\n"
		 "kernel/crypto/ecb.ko:\n"
		 "kernel/crypto/cryptd.ko:\n"
		 "kernel/crypto/crypto_simd.ko: kernel/crypto/cryptd.ko\n"
		 "kernel/arch/x86/crypto/aesni-intel.ko: kernel/crypto/crypto_simd.ko kernel/crypto/cryptd.ko\n"
		 "kernel/drivers/virtio/virtio.ko:\n"
		 "kernel/drivers/virtio/virtio_ring.ko:\n"
		 "kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
		 "%s",
		 with_thin ? "kernel/drivers/md/dm-thin-pool.ko: kernel/drivers/md/persistent-data/dm-persistent-data.ko "
			     "kernel/drivers/md/dm-bio-prison.ko kernel/drivers/md/dm-mod.ko\n" : "");
	snprintf(path, sizeof(path), "%s/modules.dep", dir);
	fr_write(path, dep);
	snprintf(path, sizeof(path), "%s/modules.alias", dir);
	fr_write(path, "alias crypto-xts xts\nalias virtio:d00000002v* virtio_blk\nalias crypto-ecb ecb\n");
	snprintf(path, sizeof(path), "%s/modules.builtin", dir);
	fr_write(path, "kernel/crypto/aes_generic.ko\nkernel/fs/ext4/ext4.ko\n");
}

/* where in the load log a module is (-1: not loaded) */
static long at(const char *mod)
{
	char word[80];
	snprintf(word, sizeof(word), " %s ", mod);
	char log[1100];
	snprintf(log, sizeof(log), " %s ", fk_mod_log);
	const char *p = strstr(log, word);
	return p ? p - log : -1;
}

/* without AES-NI: dm-mod, the generic xts(aes) templates, then the targets,
 * each after what it needs and each once */
static void stack_modules_generic_aes(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	c.hook = true;
	fake_modules(MODDIR, true);
	fk_mod_refused = "aesni_intel";
	assert_int_equal(modules_init(&c), 0);
	fr_capture_stderr();
	assert_false(STEP_STOPS(load_stack_modules(&c)));
	assert_non_null(strstr(fr_stderr(), "no AES-NI"));
	assert_true(at("dm_mod") == 0);
	assert_true(at("ecb") > 0 && at("xts") > at("ecb") && at("dm_crypt") > at("xts"));
	assert_true(at("libcrc32c") > at("dm_crypt") && at("dm_persistent_data") > at("libcrc32c"));
	assert_true(at("dm_bufio") < at("dm_persistent_data"));
	assert_true(at("dm_thin_pool") > at("dm_bio_prison"));
	assert_int_equal(at("aesni_intel"), -1);
	/* dm-mod once, though three modules need it */
	assert_null(strstr(fk_mod_log + 1, "dm_mod"));
	/* all in RAM: the modules disk is not on the way */
	assert_null(strstr(c.steps, "moddisk"));
}

/* with AES-NI: no generic templates; loaded modules are not loaded again */
static void stack_modules_aesni(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	c.hook = true;
	fake_modules(MODDIR, true);
	fr_mkdirs("/sys/module/dm_mod/x");
	mkdir("/sys/module/dm_mod", 0755);
	assert_int_equal(modules_init(&c), 0);
	assert_false(STEP_STOPS(load_stack_modules(&c)));
	assert_true(at("crypto_simd") >= 0 && at("aesni_intel") > at("crypto_simd"));
	assert_int_equal(at("ecb"), -1);
	assert_int_equal(at("xts"), -1);
	assert_int_equal(at("dm_mod"), -1);
	assert_true(at("dm_thin_pool") > at("dm_crypt"));
}

/* the loader thread (started before coldplug) loads what RAM has; what it
 * lacks comes from the modules disk, mounted only then */
static void stack_modules_thread(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	fake_modules(MODDIR, true);
	assert_int_equal(modules_init(&c), 0);
	stack_modules_start(&c);
	assert_false(STEP_STOPS(load_stack_modules(&c)));
	assert_true(at("dm_mod") == 0 && at("aesni_intel") > at("crypto_simd") && at("dm_thin_pool") > at("dm_crypt"));
	assert_null(strstr(c.steps, "moddisk"));
	assert_string_equal(fk_mount_log, "");
}

static void stack_modules_thread_then_disk(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	fake_modules(MODDIR, false);
	fake_module("/.modules-disk/" KVER, "kernel/drivers/md/dm-thin-pool.ko", "dm_thin_pool_from_disk");
	fr_write("/.modules-disk/" KVER "/modules.dep", "kernel/drivers/md/dm-thin-pool.ko:\n");
	fk_add_disk("xvdd", 202, 48, 500 << 20, false);
	assert_int_equal(modules_init(&c), 0);
	stack_modules_start(&c);
	assert_false(STEP_STOPS(load_stack_modules(&c)));
	assert_non_null(strstr(c.steps, "moddisk"));
	assert_true(at("dm_thin_pool_from_disk") > at("dm_crypt"));
}

/* a required module that is nowhere, or that the kernel refuses, stops the boot */
static void stack_modules_missing(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	c.hook = true;
	fake_modules(MODDIR, true);
	fk_mod_refused = "dm_crypt";
	assert_int_equal(modules_init(&c), 0);
	assert_true(STEP_STOPS(load_stack_modules(&c)));
	assert_non_null(strstr(fk_fatal_msg, "cannot load kernel module dm-crypt: No such device"));
	assert_int_equal(at("dm_thin_pool"), -1);
	fk_reset();
	ctx_init("qubes.ephemeral=1");
	c.hook = true;
	fake_modules(MODDIR, false);
	assert_int_equal(modules_init(&c), 0);
	assert_true(STEP_STOPS(load_stack_modules(&c)));
	assert_string_equal(fk_fatal_msg, "cannot load kernel module dm-thin-pool: No such file or directory; it must be "
			    "built in, in the initramfs or on the modules disk");
	/* no module index at all: only built-in modules */
	moddb_free(c.initrd_db);
	c.initrd_db = NULL;
	assert_int_equal(load_module(&c, "xts", false), -ENOENT);
}

/* the modules disk: mounted read-only, read-only at the block layer first,
 * asked after the initramfs */
static void modules_disk(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	fake_modules(MODDIR, false);
	fake_module("/.modules-disk/" KVER, "kernel/fs/overlayfs/overlay.ko", "overlay");
	fake_module("/.modules-disk/" KVER, "kernel/drivers/md/dm-thin-pool.ko", "dm_thin_pool_from_disk");
	fr_write("/.modules-disk/" KVER "/modules.dep", "kernel/fs/overlayfs/overlay.ko:\n"
		 "kernel/drivers/md/dm-thin-pool.ko:\n");
	fk_add_disk("xvdd", 202, 48, 500 << 20, false);
	assert_int_equal(modules_init(&c), 0);
	assert_false(STEP_STOPS(load_stack_modules(&c)));
	assert_true(c.modules_mounted);
	assert_non_null(strstr(fk_disk_log, "ro:xvdd"));
	assert_non_null(strstr(fk_mount_log, "[/dev/xvdd /.modules-disk ext3 0x7 -]"));
	assert_true(at("dm_thin_pool_from_disk") > at("dm_crypt"));
	assert_int_equal(load_module(&c, "overlay", true), 0);
	assert_true(at("overlay") > 0);
	assert_int_equal(mount_modules_disk(&c), 0);   /* once */
	assert_int_equal(load_module(&c, "no-such-module", false), -ENOENT);
}

static void modules_disk_refusals(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	fake_modules(MODDIR, false);   /* dm-thin-pool must come from the disk */
	/* a modules disk that will not stay read-only is not mounted */
	fk_add_disk("xvdd", 202, 48, 500 << 20, false);
	disk_named("xvdd")->ro_fails = true;
	assert_int_equal(modules_init(&c), 0);
	assert_true(STEP_STOPS(load_stack_modules(&c)));
	assert_string_equal(fk_fatal_msg, "cannot mount modules disk /dev/xvdd read-only: Operation not permitted");
	assert_string_equal(fk_mount_log, "");
	/* ext3 and ext4 both refused */
	disk_named("xvdd")->ro_fails = false;
	fk_mount_fail = "/.modules-disk";
	assert_true(STEP_STOPS(load_stack_modules(&c)));
	assert_non_null(strstr(fk_mount_log, "ext4"));
	/* a disk without modules.dep: built-in and initramfs modules only,
	 * said once; dm-thin-pool is then nowhere */
	fk_mount_fail = NULL;
	fr_capture_stderr();
	assert_true(STEP_STOPS(load_stack_modules(&c)));
	assert_non_null(strstr(fr_stderr(), "modules disk has no " KVER "/modules.dep"));
	assert_non_null(strstr(fk_fatal_msg, "dm-thin-pool"));
	assert_null(c.disk_db);
	/* no modules disk at all */
	fk_reset();
	ctx_init("qubes.ephemeral=1");
	assert_int_equal(mount_modules_disk(&c), -ENODEV);
}

/* coldplug: the driver of each device's modalias, again while that makes
 * new devices; a compressed module asks the kernel to decompress it */
static void coldplug(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1");
	fake_modules(MODDIR, true);
	fr_write("/sys/bus/virtio/devices/virtio0/modalias", "virtio:d00000002v00001AF4\n");
	fr_write("/sys/bus/virtio/devices/virtio1/modalias", "virtio:d00000002v00001AF4\n");
	fr_write("/sys/bus/pci/devices/0000:00:01.0/modalias", "pci:v00008086d00001237sv*\n");
	fr_mkdirs("/sys/bus/empty/devices/x");
	assert_false(STEP_STOPS(start_devices(&c)));
	int res[STACK_MODULES];
	stack_modules_wait(res);   /* ephemeral mode: the stack's loader ran beside coldplug */
	assert_true(c.uevent_fd >= 0);
	assert_true(at("virtio") >= 0 && at("virtio_ring") >= 0);
	assert_true(at("virtio_blk(compressed)") > at("virtio"));
	assert_non_null(strstr(c.steps, "modindex"));
	assert_non_null(strstr(c.steps, "coldplug"));
	/* each modalias is tried once */
	fk_mod_log[0] = 0;
	assert_int_equal(modules_coldplug(&c), 0);
	assert_string_equal(fk_mod_log, "");
}

/* ---- mounts ---- */

static void sysroot_mounts(void **state)
{
	(void)state;
	ENTER();
	/* ephemeral + ro: mounted read-only, nothing to do at the end */
	ctx_init("qubes.ephemeral=1 ro");
	assert_int_equal(mount_sysroot(&c, "/dev/mapper/dmroot"), 0);
	assert_int_equal(sysroot_finish(&c), 0);
	assert_string_equal(fk_mount_log, "[/dev/mapper/dmroot /sysroot ext4 0x1 -]");
	/* stock: rw for its edits, then read-only as asked */
	fk_reset();
	ctx_init("ro rootfstype=xfs rootflags=noatime");
	assert_int_equal(mount_sysroot(&c, "/dev/mapper/dmroot"), 0);
	assert_int_equal(sysroot_finish(&c), 0);
	assert_string_equal(fk_mount_log, "[/dev/mapper/dmroot /sysroot xfs 0 noatime] [- /sysroot - 0x21 -]");
	/* rw: stays rw */
	fk_reset();
	ctx_init("qubes.ephemeral=1 rw");
	assert_int_equal(mount_sysroot(&c, "/dev/mapper/dmroot"), 0);
	assert_int_equal(sysroot_finish(&c), 0);
	assert_string_equal(fk_mount_log, "[/dev/mapper/dmroot /sysroot ext4 0 -]");
	/* failures */
	fk_reset();
	fk_mount_fail = "/sysroot";
	assert_int_equal(mount_sysroot(&c, "/dev/mapper/dmroot"), -EINVAL);
	ctx_init("ro");
	assert_int_equal(sysroot_finish(&c), -EINVAL);
	ctx_init("qubes.ephemeral=1 qubes.ephemeral.test.fail=mount");
	fk_reset();
	assert_int_equal(mount_sysroot(&c, "/dev/mapper/dmroot"), -EIO);
	assert_string_equal(fk_mount_log, "");
}

static void modules_overlay(void **state)
{
	(void)state;
	ENTER();
	ctx_init("qubes.ephemeral=1 ro");
	fake_module("/.modules-disk/" KVER, "kernel/fs/overlayfs/overlay.ko", "overlay");
	fr_write("/.modules-disk/" KVER "/modules.dep", "kernel/fs/overlayfs/overlay.ko:\n");
	fr_mkdirs("/sysroot/lib/x");
	fr_mkdirs(RUN_DIR "/x");
	c.modules_mounted = true;
	assert_int_equal(modules_use_disk(&c), 0);
	/* ephemeral: the upper layer in /run, nothing written into the root */
	assert_int_equal(overlay_modules(&c), 0);
	assert_string_equal(fk_mount_log, "[none /sysroot/lib/modules overlay 0 lowerdir=/.modules-disk,"
			    "upperdir=/run/qubes-ephemeral/modules/upper,workdir=/run/qubes-ephemeral/modules/work] "
			    "[umount /.modules-disk 2]");
	assert_int_equal(access("/run/qubes-ephemeral/modules/upper", F_OK), 0);
	assert_int_equal(access("/sysroot/lib/.modules_work", F_OK), -1);
	assert_false(c.modules_mounted);
	assert_string_equal(fk_mod_log, "overlay");
	/* no overlay: the modules folder bound instead */
	fk_reset();
	c.modules_mounted = true;
	fk_mount_fail = "/sysroot/lib/modules";
	assert_int_equal(overlay_modules(&c), 0);
	assert_non_null(strstr(fk_mount_log, "[/.modules-disk/" KVER " /sysroot/lib/modules/" KVER " - 0x1000 -]"));
	/* stock: the upper layer is the root's own */
	fk_reset();
	ctx_init("ro");
	c.modules_mounted = true;
	assert_int_equal(modules_use_disk(&c), 0);
	assert_int_equal(overlay_modules(&c), 0);
	assert_non_null(strstr(fk_mount_log, "upperdir=/sysroot/lib/modules,workdir=/sysroot/lib/.modules_work"));
	assert_int_equal(access("/sysroot/lib/.modules_work", F_OK), 0);
	/* the root has its own modules for this kernel: nothing to do */
	fk_reset();
	fr_mkdirs("/sysroot/lib/modules/" KVER "/kernel/x");
	mkdir("/sysroot/lib/modules/" KVER "/kernel", 0755);
	assert_int_equal(overlay_modules(&c), 0);
	assert_string_equal(fk_mount_log, "");
}

static void early_mounts_and_modprobe(void **state)
{
	(void)state;
	ENTER();
	assert_int_equal(mount_early(), 0);
	assert_string_equal(fk_mount_log, "[proc /proc proc 0xe -] [sysfs /sys sysfs 0xe -] "
			    "[devtmpfs /dev devtmpfs 0x2 mode=0755] [tmpfs /run tmpfs 0x6 mode=0755]");
	assert_int_equal(access(RUN_DIR, F_OK), 0);
	fk_reset();
	fk_mount_fail = "/sys";
	assert_int_equal(mount_early(), -EINVAL);
	/* the usermode helper off during setup, back before switch_root */
	fr_write("/proc/sys/kernel/modprobe", "/sbin/modprobe\n");
	modprobe_helper_off();
	assert_int_equal(fr_read("/proc/sys/kernel/modprobe")[0], '\n');   /* proc takes it as the new value */
	modprobe_helper_restore();
	assert_string_equal(fr_read("/proc/sys/kernel/modprobe"), "/sbin/modprobe\n");
}

/* ---- hook mode ---- */

static int hook(const char *a1, const char *a2)
{
	char *argv[] = { "--hook", (char *)a1, (char *)a2, NULL };
	return hook_main(a2 ? 3 : a1 ? 2 : 1, argv);
}

static void hook_without_ephemeral(void **state)
{
	(void)state;
	ENTER();
	fr_write("/proc/cmdline", "root=/dev/mapper/dmroot ro\n");
	assert_int_equal(hook("check", NULL), 1);
	assert_int_equal(hook("setup", NULL), 0);
	assert_int_equal(hook("finish", "/newroot"), 0);
	assert_string_equal(fk_dm_log, "");
	assert_string_equal(fk_disk_log, "");
	fr_capture_stderr();
	assert_int_equal(hook("bogus", NULL), 2);
	assert_int_equal(hook("finish", NULL), 2);
	assert_int_equal(hook(NULL, NULL), 2);
	assert_non_null(strstr(fr_stderr(), "usage: ephemeral-init --hook"));
	fr_write("/proc/cmdline", "qubes.ephemeral=1\n");
	assert_int_equal(hook("check", NULL), 0);
}

static void ext4_origin(const char *dev)
{
	uint8_t sb[4096] = { 0 };
	sb[1024 + 56] = 0x53, sb[1024 + 57] = 0xEF;
	sb[1024 + 24] = 2;     /* 4096-byte blocks */
	fr_mkdirs(dev);
	int fd = open(dev, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, sb, sizeof(sb)), (ssize_t)sizeof(sb));
	close(fd);
}

/* setup from the initramfs of an in-VM kernel: the whole stack */
static void hook_setup_builds_the_stack(void **state)
{
	(void)state;
	ENTER();
	fr_write("/proc/cmdline", "root=/dev/mapper/dmroot ro qubes.ephemeral=1 qubes.ephemeral.swap=64M\n");
	fr_write(SCRUB, "0\n");
	qubes_disks(false, false);
	ext4_origin("/dev/xvda3");
	ext4_origin("/dev/xvdb");
	struct utsname u;
	uname(&u);
	char dir[300];
	snprintf(dir, sizeof(dir), "/lib/modules/%s", u.release);
	fake_modules(dir, true);
	fr_mkdirs(RUN_DIR "/x");
	fr_capture_stderr();
	int r = -1;
	bool stopped = CALLS_FATAL(r = hook("setup", NULL));
	watchdog_stop();
	const char *err = fr_stderr();
	if (stopped)
		fprintf(stderr, "fatal: %s\n%s", fk_fatal_msg, err);
	assert_false(stopped);
	assert_int_equal(r, 0);
	assert_non_null(strstr(err, "encrypted stack ready"));
	assert_non_null(fk_dm_find(DM_ROOT));
	assert_non_null(fk_dm_find(DM_PRIVATE));
	assert_non_null(fk_dm_find(DM_SWAP));
	assert_true(disk_named("xvda3")->locked && disk_named("xvdb")->locked);
	assert_non_null(strstr(fr_read(STATE_FILE), "mode=ephemeral\nroot_origin=xvda3\nprivate_origin=xvdb\n"));
	assert_non_null(strstr(fr_read(STATE_FILE), "scrub_pages=on\n"));
	assert_string_equal(fk_swap_log, "swapon:/dev/mapper/ephemeral-swap");
	/* a dmroot made by someone else before us: stop (in a child: the
	 * hook's context is static, a second setup in this process would leak) */
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bool f = CALLS_FATAL(hook("setup", NULL));
		watchdog_stop();
		dprintf(p[1], "%d %s", f, fk_fatal_msg);
		_exit(0);
	}
	close(p[1]);
	char out[1024] = "";
	ssize_t n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = 0;
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_true(out[0] == '1');
	assert_non_null(strstr(out, "already exists before qubes-ephemeral's setup"));
}

static void hook_finish(void **state)
{
	(void)state;
	struct stat st;
	char target[256];
	ENTER();
	fr_write("/proc/cmdline", "root=/dev/mapper/dmroot ro qubes.ephemeral=1\n");
	qubes_disks(false, false);
	fr_write("/newroot/usr/lib/qubes-ephemeral/ephemeral-init", "#!/bin/true\n");
	assert_int_equal(chmod("/newroot/usr/lib/qubes-ephemeral/ephemeral-init", 0755), 0);
	/* no dmroot: setup did not run */
	assert_true(CALLS_FATAL(hook("finish", "/newroot")));
	assert_non_null(strstr(fk_fatal_msg, "did its setup hook run?"));
	/* a dmroot that is not what the initramfs mounted */
	fk_dm_add(DM_ROOT, makedev(253, 9), "thin", "253:4 0 202:3");
	assert_true(CALLS_FATAL(hook("finish", "/newroot")));
	assert_non_null(strstr(fk_fatal_msg, "not from the encrypted /dev/mapper/dmroot (253:9)"));
	assert_true(CALLS_FATAL(hook("finish", "/nonexistent")));
	assert_non_null(strstr(fk_fatal_msg, "cannot look at the new root /nonexistent"));
	/* the new root is dmroot: origins checked again, names redirected */
	assert_int_equal(stat("/newroot", &st), 0);
	fk_reset();
	qubes_disks(false, false);
	fk_dm_add(DM_ROOT, st.st_dev, "thin", "253:4 0 202:3");
	fk_dm_add(DM_SWAP, makedev(253, 1), "linear", "253:0 0");
	fk_dm_add(DM_PRIVATE, makedev(253, 6), "thin", "253:4 1 202:16");
	mkdir("/dev", 0755);
	fr_mkdirs(RUN_DIR "/x");
	assert_false(CALLS_FATAL(assert_int_equal(hook("finish", "/newroot"), 0)));
	assert_true(disk_named("xvda3")->locked && disk_named("xvdb")->locked);
	ssize_t n = readlink("/dev/xvdc1", target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = 0;
	assert_string_equal(target, "mapper/ephemeral-swap");
	n = readlink(STATUS_TOOL, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = 0;
	assert_string_equal(target, "/usr/lib/qubes-ephemeral/ephemeral-init");
	/* origins that no longer stay read-only: stop */
	fk_reset();
	qubes_disks(false, false);
	disk_named("xvdb")->ro_fails = true;
	fk_dm_add(DM_ROOT, st.st_dev, "thin", "253:4 0 202:3");
	assert_true(CALLS_FATAL(hook("finish", "/newroot")));
	assert_non_null(strstr(fk_fatal_msg, "cannot set private origin /dev/xvdb read-only"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(cmdline_from_proc, cleanup),
		cmocka_unit_test_teardown(cmdline_refusals_stop_the_boot, cleanup),
		cmocka_unit_test_teardown(watchdog_and_steps, cleanup),
		cmocka_unit_test_teardown(scrubbing_turned_on, cleanup),
		cmocka_unit_test_teardown(scrubbing_refused, cleanup),
		cmocka_unit_test_teardown(origins_locked, cleanup),
		cmocka_unit_test_teardown(origins_whole_disk_writable, cleanup),
		cmocka_unit_test_teardown(origins_fail_closed, cleanup),
		cmocka_unit_test_teardown(origins_without_root_disk, cleanup),
		cmocka_unit_test_teardown(root_partition_rule, cleanup),
		cmocka_unit_test_teardown(real_disk_calls_fail_closed, cleanup),
		cmocka_unit_test_teardown(real_wait_disk_times_out, cleanup),
		cmocka_unit_test_teardown(disk_waits, cleanup),
		cmocka_unit_test_teardown(stack_modules_generic_aes, cleanup),
		cmocka_unit_test_teardown(stack_modules_aesni, cleanup),
		cmocka_unit_test_teardown(stack_modules_thread, cleanup),
		cmocka_unit_test_teardown(stack_modules_thread_then_disk, cleanup),
		cmocka_unit_test_teardown(stack_modules_missing, cleanup),
		cmocka_unit_test_teardown(modules_disk, cleanup),
		cmocka_unit_test_teardown(modules_disk_refusals, cleanup),
		cmocka_unit_test_teardown(coldplug, cleanup),
		cmocka_unit_test_teardown(sysroot_mounts, cleanup),
		cmocka_unit_test_teardown(modules_overlay, cleanup),
		cmocka_unit_test_teardown(early_mounts_and_modprobe, cleanup),
		cmocka_unit_test_teardown(hook_without_ephemeral, cleanup),
		cmocka_unit_test_teardown(hook_setup_builds_the_stack, cleanup),
		cmocka_unit_test_teardown(hook_finish, cleanup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
