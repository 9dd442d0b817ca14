/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hook mode: the same storage setup, run from the initramfs of an in-VM
 * kernel (initramfs-tools or dracut, built inside the template) instead of
 * as its /init. The initramfs' own init keeps mounting the root and
 * switching to it; we only take the place of Qubes' COW script:
 *
 *   ephemeral-init --hook check           exit 0: qubes.ephemeral=1, 1: not
 *   ephemeral-init --hook setup           local-top / pre-trigger: origins
 *                                         read-only, key, crypt, swap, pool,
 *                                         /dev/mapper/dmroot, private
 *   ephemeral-init --hook finish NEWROOT  init-bottom / pre-pivot: names
 *                                         /dev/PRIVATE and /dev/VOLATILE1, udev db
 *
 * Without qubes.ephemeral=1, setup and finish do nothing (exit 0). With it,
 * every failure prints one FATAL line and powers the VM off from here
 * (fatal() in main.c): never back to a script that could go on booting. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dm.h"
#include "init.h"
#include "log.h"

/* where the template package installs this binary (Makefile: install-vm) */
#define HOOK_BINARY "/usr/lib/qubes-ephemeral/ephemeral-init"

static void hook_setup(struct ctx *c)
{
	struct utsname u;
	dev_t dev;
	int r;

	uname(&u);
	snprintf(c->kver, sizeof(c->kver), "%s", u.release);
	log_info("ephemeral mode (initramfs hook), kernel %s", c->kver);
	if (enable_scrubbing(c) < 0)
		fatal("%s", c->why);
	if ((r = watchdog_start(&c->opt)) < 0)
		fatal_errno(r, "cannot start the setup watchdog");
	if (start_devices(c) < 0)
		fatal("%s", c->why);
	if (wait_disks(c) < 0)
		fatal("%s", c->why);
	if (lock_origins(c) < 0)
		fatal("%s", c->why);
	if (load_stack_modules(c) < 0)
		fatal("%s", c->why);
	/* Qubes' COW script must not have run (our hook removes it from the
	 * ephemeral boot): a dmroot of someone else would be a plain snapshot */
	int ctl = dm_open_control();
	if (ctl >= 0 && dm_devno(ctl, DM_ROOT, &dev) == 0)
		fatal("/dev/mapper/" DM_ROOT " already exists before qubes-ephemeral's setup: another "
		      "initramfs script made it; rebuild the initramfs with the qubes-ephemeral hook installed");
	if (ctl >= 0)
		close(ctl);
	if ((r = build_stack(c)) < 0)
		fatal("%s", c->why[0] ? c->why : strerror(-r));
	if ((r = write_state(c, "ephemeral")) < 0)
		fatal("cannot write " STATE_FILE ": %s", strerror(-r));
}

/* initramfs-tools mounts /run noexec, and that mount becomes the real
 * root's /run: the status tool is a link to the template's own binary
 * (where the package installed it), a copy of ours only without one. */
static void status_tool_link(const char *newroot)
{
	char path[512];
	int r;

	snprintf(path, sizeof(path), "%s" HOOK_BINARY, newroot);
	if (access(path, X_OK) == 0) {
		unlink(STATUS_TOOL);
		if (symlink(HOOK_BINARY, STATUS_TOOL) == 0)
			return;
	}
	if ((r = install_status_tool()) < 0)
		log_errno(r, "cannot install " STATUS_TOOL " (status will be unavailable)");
}

static void hook_finish(struct ctx *c, const char *newroot)
{
	struct stat st;
	dev_t root, swap;
	int r;

	c->newroot = newroot;
	if ((c->dm = dm_open_control()) < 0)
		fatal_errno(c->dm, "cannot open /dev/mapper/control");
	if ((r = dm_devno(c->dm, DM_ROOT, &root)) < 0)
		fatal_errno(r, "no /dev/mapper/" DM_ROOT " of qubes-ephemeral (did its setup hook run?)");
	/* the root the initramfs mounted must be our encrypted copy, nothing else */
	if (stat(newroot, &st) < 0)
		fatal("cannot look at the new root %s: %s", newroot, strerror(errno));
	if (st.st_dev != root)
		fatal("the new root %s is mounted from device %u:%u, not from the encrypted /dev/mapper/" DM_ROOT
		      " (%u:%u); check root= on the kernel command line", newroot,
		      major(st.st_dev), minor(st.st_dev), major(root), minor(root));
	if (lock_origins(c) < 0)
		fatal("%s", c->why);   /* again: nothing may have undone it since setup */
	/* redirect_names only asks whether there is a swap slice */
	c->layout.swap_sectors = dm_devno(c->dm, DM_SWAP, &swap) == 0;
	/* writes nothing into the root: it may stay mounted read-only */
	if ((r = newroot_prepare(c)) < 0)
		fatal("cannot prepare the new root: %s", strerror(-r));
	status_tool_link(newroot);
	log_info("new root %s prepared for the encrypted devices", newroot);
}

int hook_main(int argc, char **argv)
{
	static struct ctx c;  /* zero: .bss (see main.c) */
	c.uevent_fd = -1, c.dm = -1, c.hook = true;
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "check") && strcmp(mode, "setup") && !(strcmp(mode, "finish") == 0 && argc == 3)) {
		fprintf(stderr, "usage: ephemeral-init --hook check | setup | finish NEWROOT "
			"(from the initramfs scripts of an in-VM kernel)\n");
		return 2;
	}
	if (read_cmdline(&c) < 0)
		fatal("%s", c.why);   /* a malformed qubes.ephemeral* option stops the boot */
	if (!c.opt.ephemeral)
		return strcmp(mode, "check") == 0;
	if (strcmp(mode, "setup") == 0) {
		mkdir(RUN_DIR, 0755);
		hook_setup(&c);
	}
	else if (strcmp(mode, "finish") == 0)
		hook_finish(&c, argv[2]);
	return 0;
}
