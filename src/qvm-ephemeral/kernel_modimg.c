/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The variant's modules.img: a copy whose top-level initramfs (what HVMs
 * boot through the stubdomain) is replaced with debugfs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"
#include "log.h"
#include "qvm.h"

/*  * The initramfs copy inside modules.img is replaced with e2fsprogs' debugfs,
 * which edits the image file directly: nothing is mounted in dom0 (no loop
 * device, no kernel ext3 driver parsing an image we did not make, no mount
 * namespace games), it works on a plain file, and e2fsprogs is installed in
 * every Qubes dom0 (Fedora) as in Debian. debugfs exits 0 even when a command
 * fails, so the result is checked afterwards: the copy is dumped back and
 * compared by sha256, and `e2fsck -fn` must find the image clean. */

static int debugfs_run(struct build *b, bool rw, const char *cmds, char **out)
{
	char *argv[] = { b->debugfs, rw ? "-w" : "-R", rw ? "-f" : (char *)cmds, rw ? "-" : "modules.img",
			 rw ? "modules.img" : NULL, NULL };

	/* rw: commands on stdin, so paths with spaces in KERNELS_DIR never reach
	 * debugfs' command parser (it runs in the tmp folder, relative names) */
	return kio_run(b->tmpfd, argv, rw ? cmds : NULL, out);
}

static void log_tool_output(const char *out)
{
	if (!out)
		return;
	for (const char *p = out; *p;) {
		size_t n = strcspn(p, "\n");
		if (n && strncmp(p, "debugfs 1.", 10))
			fprintf(stderr, "    %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

int build_patch_modules_img(struct build *b, const char *initramfs_sha)
{
	char *out = NULL, sha[65];
	int r, fd;

	r = debugfs_run(b, false, "stat /initramfs", &out);
	if (r != 0 || !out || !strstr(out, "Type: regular")) {
		log_info("%s/%s/modules.img lacks the initramfs copy at its top level (that HVMs boot); "
			 "is it a Qubes modules.img?", b->c->dir, b->ver);
		if (qvm_verbose || r != 0)
			log_tool_output(out);
		free(out);
		return -EINVAL;
	}
	free(out);
	r = debugfs_run(b, true, "rm /initramfs\nwrite initramfs /initramfs\nsif /initramfs uid 0\nsif /initramfs gid 0\n",
			&out);
	kio_test_kill("debugfs");
	if (r != 0) {
		log_info("debugfs failed (exit %d) on the copy of %s/modules.img", r, b->ver);
		log_tool_output(out);
		free(out);
		return r < 0 ? r : -EIO;
	}
	char *wout = out;
	out = NULL;
	/* read it back: the bytes inside must be ours */
	r = debugfs_run(b, false, "dump /initramfs .initramfs-from-modules-img", &out);
	free(out);
	out = NULL;
	fd = openat(b->tmpfd, ".initramfs-from-modules-img", O_RDONLY | O_CLOEXEC);
	if (r != 0 || fd < 0 || kio_sha256_fd(fd, sha) < 0 || strcmp(sha, initramfs_sha)) {
		log_info("the initramfs inside the new modules.img is not the new initramfs (no room left in the image?); "
			 "debugfs said:");
		log_tool_output(wout);
		r = -EIO;
	} else {
		r = 0;
	}
	if (fd >= 0)
		close(fd);
	unlinkat(b->tmpfd, ".initramfs-from-modules-img", 0);
	free(wout);
	if (r < 0)
		return r;

	char e2fsck[4096];
	if (kio_find_tool("e2fsck", TEST_ENV("QVM_EPHEMERAL_E2FSCK"), e2fsck, sizeof(e2fsck)) < 0) {
		log_info("warning: e2fsck not found; the new modules.img was checked by content only");
		return 0;
	}
	char *argv[] = { e2fsck, "-fn", "modules.img", NULL };
	r = kio_run(b->tmpfd, argv, NULL, &out);
	if (r != 0) {
		log_info("e2fsck -fn finds the new modules.img inconsistent (exit %d):", r);
		log_tool_output(out);
		r = -EIO;
	}
	free(out);
	return r;
}
