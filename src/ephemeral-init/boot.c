/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Boot steps that /init (main.c) and the in-VM hook mode (hook.c) share.
 * Each stops the boot with one line when it fails. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "init.h"
#include "log.h"

int read_cmdline(struct ctx *c)
{
	char buf[4096], err[256];
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return step_fail(c, -errno, "cannot read /proc/cmdline");
	ssize_t n = read_full(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return step_fail(c, (int)n, "cannot read /proc/cmdline");
	buf[n] = 0;
	/* Decide the failure policy first, even if the rest does not parse. */
	fatal_set_ephemeral(strstr(buf, "qubes.ephemeral=1") != NULL);
	if (cmdline_parse(buf, &c->opt, err, sizeof(err)) < 0)
		return step_refuse(c, -EINVAL, "kernel command line: %s", err);
	fatal_set_ephemeral(c->opt.ephemeral);
	return 0;
}

/* Qubes boots VM kernels with xen_scrub_pages=0 and leaves turning it back
 * on to the initramfs (memory.c). Before any disk is read. */
int enable_scrubbing(struct ctx *c)
{
	int was = scrub_pages_read(NULL);
	c->scrub = scrub_pages_enable(NULL);
	meminit_from_kernel_log(&c->meminit);
	if (c->scrub < 0) {
		if (c->opt.ephemeral)
			return step_fail(c, c->scrub, "cannot turn on Xen balloon scrubbing (scrub_pages): memory this "
				    "qube hands back to Xen would reach other qubes unwiped");
		log_errno(c->scrub, "cannot turn on Xen balloon scrubbing (scrub_pages)");
	}
	if (c->hook && was == SCRUB_OFF && c->scrub == SCRUB_ON)
		log_info("the initramfs' own scrub_pages hook did not run: turned scrubbing on here");
	log_info("memory: Xen balloon scrubbing %s; kernel zeroes pages on alloc: %s, on free: %s",
		 c->scrub == SCRUB_ON ? "on (scrub_pages = 1)" :
		 c->scrub == SCRUB_ABSENT ? "absent (no Xen balloon driver: nothing handed back to scrub)" : "OFF",
		 c->meminit.alloc < 0 ? "unknown" : c->meminit.alloc ? "on" : "off",
		 c->meminit.free < 0 ? "unknown" : c->meminit.free ? "on" : "off");
	return 0;
}

/* Device events, the initramfs' module index and the drivers of the devices
 * present (coldplug): how both /init and the hook mode begin. */
int start_devices(struct ctx *c)
{
	int r;

	if ((c->uevent_fd = uevent_open()) < 0)
		return step_fail(c, c->uevent_fd, "cannot listen for device events");
	if ((r = modules_init(c)) < 0)
		return step_fail(c, r, "cannot read the initramfs module list");
	step_done(c, "modindex");
	if (c->opt.ephemeral)
		stack_modules_start(c);
	modules_coldplug(c);
	step_done(c, "coldplug");
	return 0;
}

int wait_disks(struct ctx *c)
{
	const struct options *o = &c->opt;
	int r;

	if ((r = wait_disk(c, o->disk_root, o->timeout_s, true)) < 0)
		return step_refuse(c, r, "root disk /dev/%s did not appear within %u s; check the VM's root volume",
		      o->disk_root, o->timeout_s);
	if ((r = wait_disk(c, o->disk_private, o->timeout_s, true)) < 0)
		return step_refuse(c, r, "private disk /dev/%s did not appear within %u s; check the VM's private volume",
		      o->disk_private, o->timeout_s);
	if ((r = wait_disk(c, o->disk_volatile, o->timeout_s, true)) < 0)
		return step_refuse(c, r, "volatile disk /dev/%s did not appear within %u s; the VM needs a volatile volume",
		      o->disk_volatile, o->timeout_s);
	return 0;
}

/* The origins must be read-only before anything opens them for writing. */
int lock_origins(struct ctx *c)
{
	char part[CMDLINE_DISK_NAME_MAX + 8];
	int r;

	if (TEST_FAIL(c, FAIL_READONLY))
		return step_refuse(c, -EIO, "cannot set root origin /dev/%s read-only: injected failure "
		      "(qubes.ephemeral.test.fail=readonly)", c->opt.disk_root);
	if ((r = find_root_partition(NULL, c->opt.disk_root, part, sizeof(part))) < 0)
		return step_fail(c, r, "cannot find the root partition on /dev/%s", c->opt.disk_root);
	struct disk whole;
	if ((r = disk_probe(&whole, c->opt.disk_root)) < 0 || (r = disk_force_readonly(&whole)) < 0)
		return step_fail(c, r, "cannot set /dev/%s read-only", c->opt.disk_root);
	if ((r = disk_probe(&c->root, part)) < 0 || (r = disk_force_readonly(&c->root)) < 0)
		return step_fail(c, r, "cannot set root origin /dev/%s read-only", part);
	c->root.was_writable |= whole.was_writable;
	if ((r = disk_probe(&c->private_, c->opt.disk_private)) < 0 ||
	    (r = disk_force_readonly(&c->private_)) < 0)
		return step_fail(c, r, "cannot set private origin /dev/%s read-only", c->opt.disk_private);
	if ((r = disk_probe(&c->volatile_, c->opt.disk_volatile)) < 0)
		return step_fail(c, r, "cannot open volatile disk /dev/%s", c->opt.disk_volatile);
	if (c->root.was_writable || c->private_.was_writable)
		log_info("origins were attached writable (root %s, private %s); forced read-only",
			 c->root.was_writable ? "yes" : "no", c->private_.was_writable ? "yes" : "no");
	return 0;
}

#define LIST(a) (a), sizeof(a) / sizeof((a)[0])

/* A stack module the loader thread did not find in RAM comes from the
 * modules disk, mounted only then: on the critical path only when needed. */
static int load_from_disk(struct ctx *c, int i, int r, bool *mounted, bool *mount_failed)
{
	if (r != -ENOENT)
		return r;
	/* not loaded by the thread (none ran): from RAM first, here */
	if (!*mounted && (r = load_module(c, stack_module_names[i], false)) != -ENOENT)
		return r;
	if (!*mounted) {
		int m;
		/* an in-VM kernel's initramfs carries its modules (hook.c); no modules disk */
		if (!c->hook && (m = mount_modules_disk(c)) < 0 && m != -ENODEV) {
			*mount_failed = true;
			return step_fail(c, m, "cannot mount modules disk /dev/%s read-only", c->opt.disk_modules);
		}
		*mounted = true;
		step_done(c, "moddisk");
	}
	return load_module(c, stack_module_names[i], i != STACK_AESNI);
}

int load_stack_modules(struct ctx *c)
{
	/* dm-crypt asks the crypto API for xts(aes) when its table loads, and
	 * with no modprobe in the initramfs nothing comes on demand. AES-NI
	 * must be there before the crypt table, which keeps the implementation
	 * it got; without it, the xts and ecb templates over the built-in
	 * generic AES. Each module load costs 10-30 ms under emulation, so the
	 * templates only then. */
	struct modreq generic_xts[STACK_GENERIC_XTS];
	const char *failed = NULL;
	bool mounted = false;
	int res[STACK_MODULES], r;

	for (int k = 0; k < STACK_GENERIC_XTS; k++)
		generic_xts[k] = (struct modreq){ stack_generic_xts_names[k], true };
	stack_modules_wait(res);
	for (int i = 0; i < STACK_MODULES; i++) {
		bool mount_failed = false;
		if ((r = load_from_disk(c, i, res[i], &mounted, &mount_failed)) >= 0)
			continue;
		if (mount_failed)
			return r;   /* c->why says it */
		if (i == STACK_AESNI) {
			log_info("no AES-NI (aesni-intel: %s): dm-crypt uses the generic AES, much slower",
				 strerror(-r));
			if ((r = load_modules(c, LIST(generic_xts), &failed)) >= 0)
				continue;
		} else {
			failed = stack_module_names[i];
		}
		return step_refuse(c, r, "cannot load kernel module %s: %s; it must be built in, in the initramfs "
				   "or on the modules disk", failed, strerror(-r));
	}
	return 0;
}
