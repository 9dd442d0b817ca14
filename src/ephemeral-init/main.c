/* ephemeral-init: /init of a Qubes VM initramfs.
 *
 * With qubes.ephemeral=1 every write path of the VM (root, private, swap)
 * goes through dm-crypt under a key that only this boot's kernel holds; the
 * origin disks are set read-only first. Any failure stops the boot before
 * userspace. Without it, it does what the stock Qubes init does. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "init.h"
#include "log.h"

#ifndef TEST_HOOKS
#define TEST_HOOKS 0
#endif
/* Only the test build (build/ephemeral-init-test) accepts qubes.ephemeral.test.*. */
static const bool test_hooks = TEST_HOOKS;

static bool ephemeral_mode;

_Noreturn void fatal(const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ephemeral_mode)
		fprintf(stderr, "qubes-ephemeral: FATAL: %s; refusing to boot without full encryption, powering off\n", msg);
	else
		fprintf(stderr, "qubes-ephemeral: FATAL: %s; cannot boot, powering off\n", msg);
	sync();
	reboot(RB_POWER_OFF);
	/* Only reached when not pid 1: never fall through to userspace. */
	for (;;)
		pause();
}

_Noreturn void fatal_errno(int r, const char *fmt, ...)
{
	va_list ap;
	char msg[400];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fatal("%s: %s", msg, strerror(r < 0 ? -r : r));
}

void read_cmdline(struct ctx *c)
{
	char buf[4096], err[256];
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fatal("cannot read /proc/cmdline: %s", strerror(errno));
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		fatal("cannot read /proc/cmdline: %s", strerror(errno));
	buf[n] = 0;
	/* Decide the failure policy first, even if the rest does not parse. */
	ephemeral_mode = strstr(buf, "qubes.ephemeral=1") != NULL;
	if (cmdline_parse(buf, &c->opt, err, sizeof(err)) < 0)
		fatal("kernel command line: %s", err);
	ephemeral_mode = c->opt.ephemeral;
	if (c->opt.test_any && !test_hooks)
		fatal("qubes.ephemeral.test.* options are accepted only by the test build; "
		      "remove them from the kernel options");
}

/* Device events, the initramfs' module index and the drivers of the devices
 * present (coldplug): how both /init and the hook mode begin. */
void start_devices(struct ctx *c)
{
	int r;

	if ((c->uevent_fd = uevent_open()) < 0)
		fatal("cannot listen for device events: %s", strerror(-c->uevent_fd));
	if ((r = modules_init(c)) < 0)
		fatal("cannot read the initramfs module list: %s", strerror(-r));
	step_done(c, "modindex");
	modules_coldplug(c);
	step_done(c, "coldplug");
}

void wait_disks(struct ctx *c)
{
	const struct options *o = &c->opt;
	int r;

	if ((r = wait_disk(c, o->disk_root, o->timeout_s, true)) < 0)
		fatal("root disk /dev/%s did not appear within %u s; check the VM's root volume",
		      o->disk_root, o->timeout_s);
	if ((r = wait_disk(c, o->disk_private, o->timeout_s, true)) < 0)
		fatal("private disk /dev/%s did not appear within %u s; check the VM's private volume",
		      o->disk_private, o->timeout_s);
	if ((r = wait_disk(c, o->disk_volatile, o->timeout_s, true)) < 0)
		fatal("volatile disk /dev/%s did not appear within %u s; the VM needs a volatile volume",
		      o->disk_volatile, o->timeout_s);
}

/* The origins must be read-only before anything opens them for writing. */
void lock_origins(struct ctx *c)
{
	char part[CMDLINE_DISK_NAME_MAX + 8];
	int r;

	if (c->opt.test_fail == FAIL_READONLY)
		fatal("cannot set root origin /dev/%s read-only: injected failure "
		      "(qubes.ephemeral.test.fail=readonly)", c->opt.disk_root);
	if ((r = find_root_partition(c->opt.disk_root, part, sizeof(part))) < 0)
		fatal("cannot find the root partition on /dev/%s: %s", c->opt.disk_root, strerror(-r));
	struct disk whole;
	if ((r = disk_probe(&whole, c->opt.disk_root)) < 0 || (r = disk_force_readonly(&whole)) < 0)
		fatal("cannot set /dev/%s read-only: %s", c->opt.disk_root, strerror(-r));
	if ((r = disk_probe(&c->root, part)) < 0 || (r = disk_force_readonly(&c->root)) < 0)
		fatal("cannot set root origin /dev/%s read-only: %s", part, strerror(-r));
	c->root.was_writable |= whole.was_writable;
	if ((r = disk_probe(&c->private_, c->opt.disk_private)) < 0 ||
	    (r = disk_force_readonly(&c->private_)) < 0)
		fatal("cannot set private origin /dev/%s read-only: %s", c->opt.disk_private, strerror(-r));
	if ((r = disk_probe(&c->volatile_, c->opt.disk_volatile)) < 0)
		fatal("cannot open volatile disk /dev/%s: %s", c->opt.disk_volatile, strerror(-r));
	if (c->root.was_writable || c->private_.was_writable)
		log_info("origins were attached writable (root %s, private %s); forced read-only",
			 c->root.was_writable ? "yes" : "no", c->private_.was_writable ? "yes" : "no");
}

/* AES-NI brings its own xts(aes); false (and why, on the console) when it
 * cannot load: no such CPU, or no such module */
static bool load_aesni(struct ctx *c)
{
	int r = load_module(c, "aesni-intel", false);
	if (r < 0)
		log_info("no AES-NI (aesni-intel: %s): dm-crypt uses the generic AES, much slower",
			 strerror(-r));
	return r == 0;
}

#define LIST(a) (a), sizeof(a) / sizeof((a)[0])

void load_stack_modules(struct ctx *c)
{
	/* dm-crypt asks the crypto API for xts(aes) when its table loads, and
	 * with no modprobe in the initramfs nothing comes on demand. AES-NI
	 * must come before the crypt table, which keeps the implementation it
	 * got; without it, the xts and ecb templates over the built-in generic
	 * AES. Each module load costs 10-30 ms under emulation, so the
	 * templates only then. */
	static const struct modreq dm[] = { { "dm-mod", true } };
	static const struct modreq generic_xts[] = { { "ecb", true }, { "xts", true } };
	static const struct modreq targets[] = { { "dm-crypt", true }, { "dm-thin-pool", true } };
	const char *failed = NULL;
	int r;

	/* an in-VM kernel's initramfs carries its modules (hook.c); no modules disk */
	if (!c->hook && (r = mount_modules_disk(c)) < 0 && r != -ENODEV)
		fatal("cannot mount modules disk /dev/%s read-only: %s", c->opt.disk_modules, strerror(-r));
	step_done(c, "moddisk");
	if ((r = load_modules(c, LIST(dm), &failed)) < 0 ||
	    (!load_aesni(c) && (r = load_modules(c, LIST(generic_xts), &failed)) < 0) ||
	    (r = load_modules(c, LIST(targets), &failed)) < 0)
		fatal("cannot load kernel module %s: %s; it must be built in, in the initramfs "
		      "or on the modules disk", failed, strerror(-r));
}

static void boot_ephemeral(struct ctx *c)
{
	int r;

	wait_disks(c);
	step_done(c, "disks");
	lock_origins(c);
	step_done(c, "origins");
	load_stack_modules(c);
	step_done(c, "modules");
	if ((r = build_stack(c)) < 0)
		fatal("cannot build the encrypted storage stack: %s", strerror(-r));
	if ((r = mount_sysroot(c, "/dev/mapper/" DM_ROOT)) < 0)
		fatal("cannot mount the root file system from /dev/mapper/" DM_ROOT ": %s", strerror(-r));
	step_done(c, "mount");
	if ((r = newroot_prepare(c)) < 0)
		fatal("cannot prepare the new root: %s", strerror(-r));
	if ((r = write_state(c, c->opt.test_plain ? "ephemeral-test-plain" : "ephemeral")) < 0)
		fatal("cannot write " STATE_FILE ": %s", strerror(-r));
	step_done(c, "newroot");
}

static void boot_stock(struct ctx *c)
{
	int r;

	if ((r = stock_setup(c)) < 0)
		fatal("stock setup failed: %s", strerror(-r));
	if ((r = mount_sysroot(c, "/dev/mapper/" DM_ROOT)) < 0)
		fatal("cannot mount the root file system from /dev/mapper/" DM_ROOT ": %s", strerror(-r));
	write_state(c, "stock");
}

int main(int argc, char **argv)
{
	const char *self = basename(argv[0]);
	if (strcmp(self, "ephemeral-status") == 0)
		return status_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return status_main(argc - 1, argv + 1);
	log_prog = "qubes-ephemeral";
	if (argc > 1 && strcmp(argv[1], "--hook") == 0)
		return hook_main(argc - 1, argv + 1);
	if (getpid() != 1) {
		fprintf(stderr, "ephemeral-init: runs only as /init of an initramfs (pid 1); "
			"use 'ephemeral-init status' inside a running VM\n");
		return 2;
	}

	/* set here, not by an initializer: a zero ctx stays in .bss, out of
	 * the binary's file */
	static struct ctx c;
	c.uevent_fd = -1, c.dm = -1;
	c.start_ms = monotonic_ms();
	struct utsname u;
	int r;

	if ((r = mount_early()) < 0)
		fatal("cannot mount /proc, /sys, /dev or /run: %s", strerror(-r));
	read_cmdline(&c);
	modprobe_helper_off();
	uname(&u);
	snprintf(c.kver, sizeof(c.kver), "%s", u.release);
	log_info("%s mode, kernel %s", c.opt.ephemeral ? "ephemeral" : "stock", c.kver);

	step_done(&c, "api");
	start_devices(&c);

	if (c.opt.ephemeral)
		boot_ephemeral(&c);
	else
		boot_stock(&c);

	/* both modes: `ephemeral-status` must be able to say "not ephemeral" too */
	if ((r = install_status_tool()) < 0)
		log_errno(r, "cannot install " STATUS_TOOL " (status will be unavailable)");
	step_done(&c, "status");
	if ((r = overlay_modules(&c)) < 0)
		fatal("cannot provide /lib/modules from the modules disk: %s", strerror(-r));
	step_done(&c, "overlay");
	modprobe_helper_restore();
	if ((r = sysroot_finish(&c)) < 0)
		fatal("cannot remount the new root read-only: %s", strerror(-r));
	/* /init's own time, from its first step to the exec of the real init
	 * (bench/run.sh reads this line) */
	step_done(&c, "finish");
	log_info("setup done in %lld ms (%lld ms since the kernel started); steps in ms: %s",
		 monotonic_ms() - c.start_ms, monotonic_ms(), c.steps);
	if (c.opt.test_fail == FAIL_SWITCH_ROOT)
		fatal("switch_root: injected failure (qubes.ephemeral.test.fail=switch_root)");
	switch_root_exec(SYSROOT, c.opt.init);
}
