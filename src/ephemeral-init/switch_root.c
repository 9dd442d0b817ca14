/* SPDX-License-Identifier: GPL-2.0-or-later */
/* switch_root: move the API file systems into the new root, free the
 * initramfs' memory, make the new root "/" and exec its init. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "init.h"
#include "log.h"

/* Removes everything below dirfd that is on device `dev` (the initramfs);
 * mount points (other devices) are left alone. */
static void remove_tree(int dirfd, dev_t dev)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				remove_tree(sub, dev);
			unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
		} else {
			unlinkat(dirfd, e->d_name, 0);
		}
	}
	closedir(d);
}

#define RAMFS_MAGIC_ 0x858458f6
#define TMPFS_MAGIC_ 0x01021994

static bool fd_is_initramfs(int fd)
{
	struct statfs sf;
	return fstatfs(fd, &sf) == 0 &&
	       ((unsigned long)sf.f_type == RAMFS_MAGIC_ || (unsigned long)sf.f_type == TMPFS_MAGIC_);
}

bool root_is_initramfs(void)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool r = fd_is_initramfs(fd);
	close(fd);
	return r;
}

int initramfs_empty(int dirfd)
{
	struct stat st;
	/* booted with init= on a real root, this would wipe that root */
	if (!fd_is_initramfs(dirfd) || fstat(dirfd, &st) < 0) {
		close(dirfd);
		return -EPERM;
	}
	remove_tree(dirfd, st.st_dev);
	return 0;
}

_Noreturn void switch_root_exec(const char *newroot, const char *init)
{
	static const char *const api[] = { "/dev", "/proc", "/sys", "/run" };
	char target[256];

	/* before anything moves: a wrong root must not lose its /dev and /proc either */
	if (!root_is_initramfs())
		fatal("/ is not an initramfs (ramfs or tmpfs): refusing to switch root from it; ephemeral-init "
		      "runs only as the /init of an initramfs, not with init= on a real root");
	for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++) {
		snprintf(target, sizeof(target), "%s%s", newroot, api[i]);
		mkdir(target, 0755);
		if (mount(api[i], target, NULL, MS_MOVE, NULL) < 0) {
			log_errno(-errno, "cannot move %s into the new root", api[i]);
			umount2(api[i], MNT_DETACH);
		}
	}
	if (chdir(newroot) < 0)
		fatal("chdir %s: %s", newroot, strerror(errno));
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || initramfs_empty(fd) < 0)
		fatal("/ is not an initramfs (ramfs or tmpfs): refusing to delete its files; ephemeral-init "
		      "runs only as the /init of an initramfs, not with init= on a real root");
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		fatal("cannot move %s to /: %s", newroot, strerror(errno));
	if (chroot(".") < 0 || chdir("/") < 0)
		fatal("cannot chroot into the new root: %s", strerror(errno));
	/* checked only now: init is usually a symlink that must resolve in the new root */
	if (access(init, X_OK) < 0)
		fatal("init %s not found or not executable in the new root (set init= on the kernel command line)", init);
	execl(init, init, (char *)NULL);
	fatal("cannot execute %s: %s", init, strerror(errno));
}
