/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Making one kernel variant: KERNELS_DIR/VER -> KERNELS_DIR/VER-ephemeral.
 * The original folder and its files are only ever opened O_RDONLY; every
 * file is written into a hidden temp folder beside the variant, which
 * kernel_swap.c puts in place atomically. The parts: kernel_origin.c
 * (checks), kernel_initramfs.c, kernel_modimg.c (debugfs),
 * kernel_manifest.c, kernel_swap.c.
 *
 * Test hook: QVM_EPHEMERAL_TEST_KILL_AT=STEP SIGKILLs the process at STEP,
 * one of: tmpdir copy append initramfs modules-copy debugfs manifest
 * exchanged old-away (see tests/dom0/kernel.sh). */
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

/* Copies or patches every file; fills the manifest. */
static int make_files(struct build *b, char names[][KNAME_MAX], size_t n)
{
	int r = 0;
	bool copied = false;

	for (size_t i = 0; i < n && r == 0; i++) {
		const char *name = names[i];
		struct stat st;
		int fd = openat(b->verfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return log_errno(-errno, "cannot open %s/%s/%s", b->c->dir, b->ver, name);
		if (fstat(fd, &st) < 0 || (r = build_record_src(b, name, fd)) < 0) {
			r = log_errno(r < 0 ? r : -errno, "cannot read %s/%s/%s", b->c->dir, b->ver, name);
		} else if (!strcmp(name, "initramfs")) {
			r = build_write_initramfs(b, fd, st.st_mode & 07777, &b->m.cpio_offset);
			if (r == 0)
				kio_test_kill("initramfs");
		} else if (!strcmp(name, "modules.img")) {
			r = kio_copy(fd, b->tmpfd, name, st.st_mode & 07777);
			if (r < 0)
				log_errno(r, "cannot copy %s/%s", b->ver, name);
			else
				kio_test_kill("modules-copy");
		} else {
			r = kio_copy(fd, b->tmpfd, name, st.st_mode & 07777);
			if (r < 0)
				log_errno(r, "cannot copy %s/%s", b->ver, name);
			else if (!copied)
				kio_test_kill("copy"), copied = true;
		}
		close(fd);
	}
	if (r < 0)
		return r;
	/* modules.img last: it needs the patched initramfs */
	char ird_sha[65] = "";
	for (size_t i = 0; i < n && r == 0; i++)
		if (strcmp(names[i], "modules.img") && (r = build_record_out(b, names[i])) == 0 &&
		    !strcmp(names[i], "initramfs"))
			memcpy(ird_sha, b->m.out[b->m.nout - 1].sha, sizeof(ird_sha));
	if (r < 0)
		return log_errno(r, "cannot read back the new files of %s", b->variant);
	if ((r = build_patch_modules_img(b, ird_sha)) < 0)
		return r;
	if ((r = build_record_out(b, "modules.img")) < 0)
		return log_errno(r, "cannot read back the new modules.img");
	return 0;
}


int variant_build(struct kctx *c, const char *ver)
{
	struct build b = { .c = c, .ver = ver, .verfd = -1, .tmpfd = -1 };
	char names[MANIFEST_MAX_FILES][KNAME_MAX];
	size_t n;
	int r;
	bool has[3] = { false, false, false };
	static const char *need[3] = { "vmlinuz", "initramfs", "modules.img" };

	if ((r = kernel_variant_name(ver, b.variant, sizeof(b.variant))) < 0) {
		log_info("invalid kernel name \"%s\"", ver);
		return r;
	}
	if (kio_find_tool("debugfs", TEST_ENV("QVM_EPHEMERAL_DEBUGFS"), b.debugfs, sizeof(b.debugfs)) < 0) {
		log_info("cannot make %s: debugfs not found (install e2fsprogs); it replaces the initramfs copy inside "
			 "modules.img", b.variant);
		return -ENOENT;
	}
	b.verfd = openat(c->dirfd, ver, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.verfd < 0) {
		r = -errno;
		if (r == -ENOENT)
			log_info("cannot make %s: no kernel %s in %s", b.variant, ver, c->dir);
		else
			log_errno(r, "cannot make %s: cannot open %s/%s", b.variant, c->dir, ver);
		return r;
	}
	if ((r = kernel_list_files(b.verfd, names, MANIFEST_MAX_FILES, &n)) < 0) {
		log_errno(r, "cannot list %s/%s", c->dir, ver);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 3; k++)
			has[k] |= !strcmp(names[i], need[k]);
	for (int k = 0; k < 3; k++) {
		if (!has[k]) {
			log_info("cannot make %s: %s/%s has no %s%s", b.variant, c->dir, ver, need[k],
				 k == 0 ? " (not a kernel)" : k == 2 ? " (Qubes cannot start a qube with it either)" : "");
			r = -ENOENT;
			goto out;
		}
	}
	/* checks before writing anything */
	for (int k = 1; k < 3; k++) {
		int fd = openat(b.verfd, need[k], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = log_errno(-errno, "cannot open %s/%s/%s", c->dir, ver, need[k]);
			goto out;
		}
		r = k == 1 ? build_check_initramfs(&b, fd) : build_check_modules_img(&b, fd);
		close(fd);
		if (r < 0) {
			log_info("nothing written: %s not made", b.variant);
			goto out;
		}
	}

	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.XXXXXX", c->dir, b.variant) >= sizeof(tmp)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if (!mkdtemp(tmp)) {
		r = log_errno(-errno, "cannot make a folder in %s", c->dir);
		goto out;
	}
	snprintf(b.tmpname, sizeof(b.tmpname), "%s", strrchr(tmp, '/') + 1);
	kio_test_kill("tmpdir");
	if ((b.tmpfd = openat(c->dirfd, b.tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = log_errno(-errno, "cannot open %s", tmp);
		goto fail;
	}
	fchmod(b.tmpfd, 0755);
	snprintf(b.m.tool, sizeof(b.m.tool), "%s", KERNEL_TOOL_VERSION);
	snprintf(b.m.base, sizeof(b.m.base), "%s", ver);
	snprintf(b.m.version, sizeof(b.m.version), "%s", c->version);
	memcpy(b.m.init_sha, c->init_sha, sizeof(b.m.init_sha));
	if ((r = make_files(&b, names, n)) < 0)
		goto fail;
	if ((r = build_write_manifest(&b)) < 0) {
		log_errno(r, "cannot write the manifest of %s", b.variant);
		goto fail;
	}
	if (fsync(b.tmpfd) < 0) {
		r = log_errno(-errno, "cannot sync %s", tmp);
		goto fail;
	}
	kio_test_kill("manifest");
	if ((r = build_sources_unchanged(&b)) < 0)
		goto fail;
	if ((r = build_swap_in(&b)) < 0)
		goto fail;
	if (fsync(c->dirfd) < 0)
		r = log_errno(-errno, "cannot sync %s", c->dir);
	goto out;
fail:
	kio_rm_rf(c->dirfd, b.tmpname);
	log_info("%s not made; %s left as it was", b.variant, c->dir);
out:
	if (b.tmpfd >= 0)
		close(b.tmpfd);
	if (b.verfd >= 0)
		close(b.verfd);
	return r;
}
