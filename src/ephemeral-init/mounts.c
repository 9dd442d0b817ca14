/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Mounts: the early API file systems, the modules disk, the new root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "init.h"
#include "log.h"

static int mount_one(const char *src, const char *dst, const char *type,
		     unsigned long flags, const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
		return -errno;
	return 0;
}

int mount_early(void)
{
	int r;
	if ((r = mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) < 0 ||
	    (r = mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) < 0 ||
	    (r = mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755")) < 0 ||
	    (r = mount_one("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")) < 0)
		return r;
	/* the console may not be our stdio yet when the kernel had no /dev/console */
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	mkdir(RUN_DIR, 0755);
	return 0;
}

/* Mounts the modules disk read-only when the disk exists; -ENODEV when the
 * VM has none (its kernel then needs everything built in or in the initramfs). */
int mount_modules_disk(struct ctx *c)
{
	char dev[64];
	struct disk d;
	int r;

	if (c->modules_mounted)
		return 0;
	if (wait_disk(c, c->opt.disk_modules, 5, false) < 0)
		return -ENODEV;
	snprintf(dev, sizeof(dev), "/dev/%s", c->opt.disk_modules);
	/* read-only at the block layer too: an ext3 journal replay would write */
	if ((r = disk_probe(&d, c->opt.disk_modules)) < 0 || (r = disk_force_readonly(&d)) < 0)
		return r;
	mkdir(MODULES_MNT, 0755);
	if (mount(dev, MODULES_MNT, "ext3", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0 &&
	    mount(dev, MODULES_MNT, "ext4", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return -errno;
	c->modules_mounted = true;
	return 0;   /* its modules.dep is read when a module is first wanted from it */
}

/* Ephemeral mode writes nothing into the root during boot (fstab bound from
 * /run, modules overlay upper in /run), so it mounts it as the kernel
 * command line says: each first write into the root copy would copy a
 * whole thin block from the origin through dm-crypt. The stock way mounts
 * rw for its edits; sysroot_finish then honours "ro". */
static bool sysroot_mounted_ro(const struct ctx *c)
{
	return c->opt.ephemeral && c->opt.root_ro;
}

int mount_sysroot(struct ctx *c, const char *dev)
{
	const char *type = c->opt.rootfstype[0] ? c->opt.rootfstype : "ext4";
	const char *data = c->opt.rootflags[0] ? c->opt.rootflags : NULL;

	if (TEST_FAIL(c, FAIL_MOUNT)) {
		log_info("mount: injected failure (qubes.ephemeral.test.fail=mount)");
		return -EIO;
	}
	mkdir(SYSROOT, 0755);
	if (mount(dev, SYSROOT, type, sysroot_mounted_ro(c) ? MS_RDONLY : 0, data) < 0)
		return -errno;
	return 0;
}

/* mkdir in the new root, for the rare root without the directory: a
 * read-only mounted root is made writable for just that. */
static int sysroot_mkdir(struct ctx *c, const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	if (errno != EROFS || !sysroot_mounted_ro(c))
		return -errno;
	if (mount(NULL, SYSROOT, NULL, MS_REMOUNT, NULL) < 0)
		return -errno;
	int r = mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
	if (mount(NULL, SYSROOT, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0 && !r)
		r = -errno;
	return r;
}

/* As the stock init: the modules disk is the lower layer of an overlay on
 * /lib/modules, so the VM can still write there. The stock upper layer is
 * the root's own /lib/modules; in ephemeral mode it is a directory in /run
 * (RAM, gone with the VM like the root copy), so boot writes no root block. */
int overlay_modules(struct ctx *c)
{
	char path[512], opts[512];
	struct stat st;
	int r;

	snprintf(path, sizeof(path), SYSROOT "/lib/modules/%s/kernel", c->kver);
	if (stat(path, &st) == 0)
		return 0;  /* the root carries its own modules for this kernel */
	if ((r = mount_modules_disk(c)) < 0)
		return r == -ENODEV ? 0 : r;
	if ((r = sysroot_mkdir(c, SYSROOT "/lib/modules")) < 0)
		return r;
	if (load_module(c, "overlay", false) == 0) {
		const char *upper = SYSROOT "/lib/modules", *work = SYSROOT "/lib/.modules_work";
		if (c->opt.ephemeral) {
			/* a failed mkdir in /run fails the mount below: bind fallback */
			upper = RUN_DIR "/modules/upper", work = RUN_DIR "/modules/work";
			mkdir(RUN_DIR "/modules", 0700);
			mkdir(upper, 0755);
			mkdir(work, 0700);
		} else if ((r = sysroot_mkdir(c, work)) < 0) {
			return r;
		}
		snprintf(opts, sizeof(opts), "lowerdir=" MODULES_MNT ",upperdir=%s,workdir=%s", upper, work);
		if (mount("none", SYSROOT "/lib/modules", "overlay", 0, opts) == 0)
			goto done;
		log_errno(-errno, "overlay on /lib/modules failed, binding %s instead", c->kver);
	}
	char src[512];
	snprintf(src, sizeof(src), MODULES_MNT "/%s", c->kver);
	snprintf(path, sizeof(path), SYSROOT "/lib/modules/%s", c->kver);
	if ((r = sysroot_mkdir(c, path)) < 0)
		return r;
	if (mount(src, path, NULL, MS_BIND, NULL) < 0)
		return -errno;
done:
	umount2(MODULES_MNT, MNT_DETACH);
	c->modules_mounted = false;
	return 0;
}

int sysroot_finish(struct ctx *c)
{
	if (!c->opt.root_ro || sysroot_mounted_ro(c))
		return 0;
	if (mount(NULL, SYSROOT, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return -errno;
	return 0;
}

/* With no modprobe in the initramfs, every crypto lookup the kernel makes
 * (e.g. aesni_intel asking for cryptd(...)) would fork a usermode helper
 * that can only fail. An empty modprobe path makes the kernel skip them;
 * the real root gets its path back before switch_root. */
static char saved_modprobe[256];

void modprobe_helper_off(void)
{
	int fd = open("/proc/sys/kernel/modprobe", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read_full(fd, saved_modprobe, sizeof(saved_modprobe) - 1);
	saved_modprobe[n > 0 ? n : 0] = 0;
	if (pwrite_full(fd, "\n", 1, 0) < 0)
		saved_modprobe[0] = 0;
	close(fd);
}

void modprobe_helper_restore(void)
{
	if (!saved_modprobe[0])
		return;
	int fd = open("/proc/sys/kernel/modprobe", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	int r = write_full(fd, saved_modprobe, strlen(saved_modprobe));
	if (r < 0)
		log_errno(r, "cannot restore /proc/sys/kernel/modprobe; the new root's kernel "
			  "module auto-loading is off");
	close(fd);
}
