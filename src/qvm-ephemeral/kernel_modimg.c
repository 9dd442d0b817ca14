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

#include "carry.h"
#include "fileio.h"
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

/* --- the stack's modules, carried in the variant's initramfs --- */

/* debugfs on VER's own modules.img, read-only (no -w), commands on stdin;
 * the build's tmp folder (inside KERNELS_DIR) is the working folder, where
 * `dump` writes. */
static int debugfs_read(struct build *b, const char *cmds, char **out)
{
	char img[KNAME_MAX + 32];
	snprintf(img, sizeof(img), "../%s/modules.img", b->ver);
	char *argv[] = { b->debugfs, "-f", "-", img, NULL };
	return kio_run(b->tmpfd, argv, cmds, out);
}

/* The image's top-level folder that holds modules.dep: its KVER. Exactly
 * one, or none is used. */
static int find_kver(struct build *b, char *kver, size_t n)
{
	char *out = NULL, *line, *save = NULL;
	int found = 0, r = debugfs_read(b, "ls -p /\n", &out);

	if (r != 0 || !out) {
		free(out);
		return r < 0 ? r : -EIO;
	}
	/* ls -p: "/INODE/MODE/UID/GID/NAME/SIZE/" per entry; folders' MODE 040xxx */
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char mode[16], name[256];
		if (sscanf(line, "/%*u/%15[0-9]/%*u/%*u/%255[^/]/", mode, name) != 2 || strncmp(mode, "040", 3) ||
		    !strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "lost+found") || strchr(name, ' '))
			continue;
		if (found++ == 0)
			snprintf(kver, n, "%s", name);
	}
	free(out);
	return found == 1 ? 0 : -ENOENT;
}

/* Dumps /KVER/rel of the image into the tmp folder as NAME, reads it into
 * *data and removes it. */
static int dump_file(struct build *b, const char *kver, const char *rel, char **data, size_t *len)
{
	static const char name[] = ".carry-file";
	char cmds[1024], *out = NULL;
	int r;

	if (strpbrk(rel, " \"\n") || (size_t)snprintf(cmds, sizeof(cmds), "dump /%s/%s %s\n", kver, rel, name) >= sizeof(cmds))
		return -EINVAL;
	unlinkat(b->tmpfd, name, 0);
	r = debugfs_read(b, cmds, &out);
	free(out);
	if (r == 0)
		r = read_file_at(b->tmpfd, name, 0, (size_t)64 << 20, data, len);
	else if (r > 0)
		r = -EIO;
	unlinkat(b->tmpfd, name, 0);
	return r;
}

struct image_reader {
	struct build *b;
	char kver[256];
};

static int read_from_image(void *arg, const char *rel, char **data, size_t *len)
{
	struct image_reader *ir = arg;
	return dump_file(ir->b, ir->kver, rel, data, len);
}

int build_carry_modules(struct build *b, struct carry_set *m)
{
	struct image_reader ir = { .b = b };
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = find_kver(b, ir.kver, sizeof(ir.kver))) == 0)
		r = carry_collect(read_from_image, &ir, m);
	if (r < 0)
		/* not a security matter: the init loads what is not carried from
		 * the modules disk, as before, only later in the boot */
		log_info("warning: cannot carry the storage stack's modules from %s/%s/modules.img (%s%s%s); "
			 "the variant's VMs load them from their modules disk", b->c->dir, b->ver,
			 m->failed[0] ? m->failed : "", m->failed[0] ? ": " : "", strerror(-r));
	return 0;
}
