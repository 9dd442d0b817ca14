/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ephemeral-init: /init of a Qubes VM initramfs.
 *
 * With qubes.ephemeral=1 every write path of the VM (root, private, swap)
 * goes through dm-crypt under a key that only this boot's kernel holds; the
 * origin disks are set read-only first. Any failure stops the boot before
 * userspace. Without it, the original initramfs' /init runs (stock.c). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "init.h"
#include "log.h"

static void boot_ephemeral(struct ctx *c)
{
	int r;

	test_hang(c, "disks");
	if (wait_disks(c) < 0)
		fatal("%s", c->why);
	step_done(c, "disks");
	test_hang(c, "origins");
	if (lock_origins(c) < 0)
		fatal("%s", c->why);
	step_done(c, "origins");
	test_hang(c, "modules");
	if (load_stack_modules(c) < 0)
		fatal("%s", c->why);
	step_done(c, "modules");
	if ((r = build_stack(c)) < 0)
		fatal("%s", c->why[0] ? c->why : strerror(-r));
	if ((r = mount_sysroot(c, "/dev/mapper/" DM_ROOT)) < 0)
		fatal("cannot mount the root file system from /dev/mapper/" DM_ROOT ": %s", strerror(-r));
	step_done(c, "mount");
	if ((r = newroot_prepare(c)) < 0)
		fatal("cannot prepare the new root: %s", strerror(-r));
#if TEST_HOOKS
	const char *mode = c->opt.test_plain ? "ephemeral-test-plain" : "ephemeral";
#else
	const char *mode = "ephemeral";
#endif
	if ((r = write_state(c, mode)) < 0)
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
	/* stock mode: the state only feeds ephemeral-status */
	if ((r = write_state(c, "stock")) < 0)
		log_errno(r, "cannot write " STATE_FILE " (ephemeral-status will say unknown)");
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

	if (!root_is_initramfs())
		fatal("/ is not an initramfs (ramfs or tmpfs): ephemeral-init runs only as the /init of an "
		      "initramfs; remove init= from the kernel command line");
	/* stock mode of a variant: the original /init, before we touch anything */
	stock_exec_original(argv);
	if ((r = mount_early()) < 0)
		fatal("cannot mount /proc, /sys, /dev or /run: %s", strerror(-r));
	if (read_cmdline(&c) < 0)
		fatal("%s", c.why);
	if (enable_scrubbing(&c) < 0)
		fatal("%s", c.why);
	if (c.opt.ephemeral && (r = watchdog_start(&c.opt)) < 0)
		fatal_errno(r, "cannot start the setup watchdog");
	modprobe_helper_off();
	uname(&u);
	snprintf(c.kver, sizeof(c.kver), "%s", u.release);
	log_info("%s mode, kernel %s", c.opt.ephemeral ? "ephemeral" : "stock", c.kver);

	step_done(&c, "api");
	if (start_devices(&c) < 0)
		fatal("%s", c.why);

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
	if (TEST_FAIL(&c, FAIL_SWITCH_ROOT))
		fatal("switch_root: injected failure (qubes.ephemeral.test.fail=switch_root)");
	switch_root_exec(SYSROOT, c.opt.init);
}
