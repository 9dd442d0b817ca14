/* switch_root: move the API file systems into the new root, free the
 * initramfs' memory, make the new root "/" and exec its init. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
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

_Noreturn void switch_root_exec(const char *newroot, const char *init)
{
	static const char *const api[] = { "/dev", "/proc", "/sys", "/run" };
	char target[256];
	struct stat rootst;

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
	if (stat("/", &rootst) == 0) {
		int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			remove_tree(fd, rootst.st_dev);
	}
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
