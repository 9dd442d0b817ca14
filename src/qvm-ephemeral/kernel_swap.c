/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Putting a made variant in place atomically, and repairing what a killed
 * run left.
 *
 * Everything is written into KERNELS_DIR/.VER-ephemeral.tmp.XXXXXX (same
 * file system, so the last step is a rename), every file and the folder
 * fsync'ed, then swapped into place:
 *   no variant yet:   rename(tmp, variant) with RENAME_NOREPLACE
 *   a variant exists: renameat2(tmp, variant, RENAME_EXCHANGE), then the old
 *                     one (now at tmp) is removed; the name never disappears.
 *                     Without RENAME_EXCHANGE: variant -> .VER-ephemeral.old.X,
 *                     tmp -> variant; a run killed between the two renames
 *                     is repaired by the next run (variant_cleanup puts the
 *                     old one back).
 * So a kill at any point leaves the previous complete variant or the new
 * complete one; leftovers under hidden names are removed by the next run.
 *
 * Test hooks: QVM_EPHEMERAL_TEST_KILL_AT=exchanged|old-away (kernel_build.c);
 * QVM_EPHEMERAL_TEST_NO_EXCHANGE=1 takes the two-rename path as if the file
 * system had no RENAME_EXCHANGE (see tests/dom0/kernel.sh). */
#define _GNU_SOURCE
#include <dirent.h>
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

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int build_swap_in(struct build *b)
{
	const struct kctx *c = b->c;
	struct stat st;
	int r;

	if (fstatat(c->dirfd, b->variant, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return log_errno(-errno, "cannot stat %s/%s", c->dir, b->variant);
		r = renameat2(c->dirfd, b->tmpname, c->dirfd, b->variant, RENAME_NOREPLACE);
		if (r < 0 && (errno == EINVAL || errno == ENOSYS))
			r = renameat(c->dirfd, b->tmpname, c->dirfd, b->variant);
		if (r < 0)
			return log_errno(-errno, "cannot rename %s to %s in %s", b->tmpname, b->variant, c->dir);
		return 0;
	}
	/* test hook: QVM_EPHEMERAL_TEST_NO_EXCHANGE=1 takes the fallback path */
	const char *no_exchange = TEST_ENV("QVM_EPHEMERAL_TEST_NO_EXCHANGE");
	if (no_exchange && *no_exchange)
		errno = EINVAL;
	else if (renameat2(c->dirfd, b->tmpname, c->dirfd, b->variant, RENAME_EXCHANGE) == 0) {
		kio_test_kill("exchanged");
		fsync(c->dirfd);
		if ((r = kio_rm_rf(c->dirfd, b->tmpname)) < 0)
			log_errno(r, "warning: cannot remove the previous variant (now %s/%s)", c->dir, b->tmpname);
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return log_errno(-errno, "cannot exchange %s and %s in %s", b->tmpname, b->variant, c->dir);
	/* no RENAME_EXCHANGE on this file system: two renames */
	char old[KNAME_MAX + 48];
	snprintf(old, sizeof(old), "%s/.%s.old.XXXXXX", c->dir, b->variant);
	if (!mkdtemp(old))
		return log_errno(-errno, "cannot make a folder in %s", c->dir);
	const char *oldname = strrchr(old, '/') + 1;
	if (renameat(c->dirfd, b->variant, c->dirfd, oldname) < 0) {
		r = log_errno(-errno, "cannot move %s aside", b->variant);
		unlinkat(c->dirfd, oldname, AT_REMOVEDIR);
		return r;
	}
	kio_test_kill("old-away");
	if (renameat(c->dirfd, b->tmpname, c->dirfd, b->variant) < 0) {
		r = log_errno(-errno, "cannot rename %s to %s", b->tmpname, b->variant);
		renameat(c->dirfd, oldname, c->dirfd, b->variant);   /* put the old one back */
		return r;
	}
	fsync(c->dirfd);
	kio_rm_rf(c->dirfd, oldname);
	return 0;
}


void variant_cleanup(struct kctx *c)
{
	int fd = dup(c->dirfd);
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		const char *nm = e->d_name;
		const char *mark = strstr(nm, VARIANT_SUFFIX ".tmp."), *old = strstr(nm, VARIANT_SUFFIX ".old.");
		if (nm[0] != '.' || (!mark && !old))
			continue;
		if (old) {
			/* killed between the two renames: the old variant is all there is */
			char variant[KNAME_MAX];
			struct stat st;
			snprintf(variant, sizeof(variant), "%.*s", (int)(old - nm - 1 + strlen(VARIANT_SUFFIX)), nm + 1);
			if (fstatat(c->dirfd, variant, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT &&
			    renameat(c->dirfd, nm, c->dirfd, variant) == 0) {
				if (!qvm_quiet)
					printf("%s: restored from %s (a previous run was interrupted)\n", variant, nm);
				continue;
			}
		}
		int r = kio_rm_rf(c->dirfd, nm);
		if (r < 0)
			log_errno(r, "cannot remove the leftover %s/%s", c->dir, nm);
		else if (!qvm_quiet)
			printf("removed %s/%s (left by an interrupted run)\n", c->dir, nm);
	}
	closedir(d);
	fsync(c->dirfd);
}
