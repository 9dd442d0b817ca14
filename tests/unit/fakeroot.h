/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A fake root for the boot steps of ephemeral-init: a temp folder this test
 * process chroot()s into, so the steps' own absolute paths (/sys/class/block,
 * /dev, /run, /proc/cmdline, /lib/modules) land in files the test wrote.
 *
 * Safety: the folder is made beside the build, never on a tmpfs or ramfs
 * (inside it root_is_initramfs() must stay false, so fatal() could never
 * power anything off); as root the process first takes a private mount
 * namespace, so even a stray mount() could not reach the machine; without
 * root it takes a user namespace (chroot needs CAP_SYS_CHROOT), and the
 * tests are skipped where neither works. Leaving chroots back with a kept
 * fd of the real root; the folder is removed by fr_teardown on every exit of
 * a test (cmocka runs teardowns after failed assertions too). Nothing in it
 * is a device node: block ioctls on its "disks" fail as on a broken disk. */
#pragma once
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef FR_MOUNT
#define FR_MOUNT mount   /* __real_mount in a test that replaces mount() */
#endif

static char fr_dir[512];
static int fr_real_root = -1, fr_real_cwd = -1;
static int fr_ok = -1;           /* -1 not tried, 0 cannot chroot here, 1 can */

static __attribute__((unused)) void fr_write_id_map(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0) { /* checked by chroot below */ }
		close(fd);
	}
}

/* once per process: the namespace that allows chroot and keeps mounts private */
static int fr_namespace(void)
{
	if (fr_ok >= 0)
		return fr_ok;
	fr_ok = 0;
	if (geteuid() == 0) {
		if (unshare(CLONE_NEWNS) < 0 || FR_MOUNT(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			return 0;
	} else {
		char map[64];
		uid_t uid = geteuid();
		gid_t gid = getegid();
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			return 0;
		fr_write_id_map("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		fr_write_id_map("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		fr_write_id_map("/proc/self/gid_map", map);
	}
	fr_real_root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fr_real_cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fr_ok = fr_real_root >= 0 && fr_real_cwd >= 0;
	return fr_ok;
}

static int fr_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Makes the folder and enters it: "/" is the fake root until fr_leave().
 * false: this machine cannot chroot (the test should skip()). */
static bool fr_enter(void)
{
	struct statfs sf;
	const char *base = getenv("QE_FAKEROOT_DIR");
	if (!fr_namespace())
		return false;
	if (!base)
		base = access("build", W_OK) == 0 ? "build" : "/var/tmp";
	snprintf(fr_dir, sizeof(fr_dir), "%s/fakeroot.XXXXXX", base);
	if (!mkdtemp(fr_dir))
		return false;
	/* never a tmpfs or ramfs: it would pass for an initramfs inside */
	if (statfs(fr_dir, &sf) < 0 || (unsigned long)sf.f_type == 0x01021994 ||
	    (unsigned long)sf.f_type == 0x858458f6) {
		rmdir(fr_dir);
		fr_dir[0] = 0;
		return false;
	}
	if (chroot(fr_dir) < 0 || chdir("/") < 0) {
		rmdir(fr_dir);
		fr_dir[0] = 0;
		return false;
	}
	return true;
}

static int fr_saved_stderr = -1;
static void fr_leave(void)
{
	if (fr_saved_stderr >= 0) {
		fflush(stderr);
		dup2(fr_saved_stderr, 2);
		close(fr_saved_stderr);
		fr_saved_stderr = -1;
	}
	if (!fr_dir[0])
		return;
	if (fchdir(fr_real_root) < 0 || chroot(".") < 0 || fchdir(fr_real_cwd) < 0) {
		fprintf(stderr, "fakeroot: cannot leave %s\n", fr_dir);
		abort();
	}
	nftw(fr_dir, fr_rm, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	fr_dir[0] = 0;
}

/* mkdir -p of path's parent folders (inside the fake root) */
static __attribute__((unused)) void fr_mkdirs(const char *path)
{
	char p[512];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
}

static __attribute__((unused)) void fr_write(const char *path, const char *text)
{
	fr_mkdirs(path);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "fakeroot: cannot write %s: %s\n", path, strerror(errno));
		abort();
	}
	fputs(text, f);
	fclose(f);
}

/* the whole file, or "" when missing (a static buffer: copy before the next call) */
static __attribute__((unused)) const char *fr_read(const char *path)
{
	static char buf[16384];
	buf[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return buf;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* stderr into a file of the fake root for the lines a step prints */
static __attribute__((unused)) void fr_capture_stderr(void)
{
	fflush(stderr);
	fr_saved_stderr = dup(2);
	int fd = open("/stderr.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	dup2(fd, 2);
	close(fd);
}

static __attribute__((unused)) const char *fr_stderr(void)
{
	if (fr_saved_stderr >= 0) {
		fflush(stderr);
		dup2(fr_saved_stderr, 2);
		close(fr_saved_stderr);
		fr_saved_stderr = -1;
	}
	return fr_read("/stderr.txt");
}
