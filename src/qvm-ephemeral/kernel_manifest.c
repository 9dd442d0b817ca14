/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The variant's manifest (.qubes-ephemeral-source): what it was made
 * from and what it holds, written at build time and refreshed by sync. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "kernel.h"
#include "log.h"
#include "qvm.h"

static void mfile_stat(struct mfile *f, const char *name, const struct stat *st)
{
	size_t l = strnlen(name, sizeof(f->name) - 1);
	memcpy(f->name, name, l);
	f->name[l] = '\0';
	f->size = (uint64_t)st->st_size;
	f->ino = (uint64_t)st->st_ino;
	f->mtime_s = st->st_mtim.tv_sec, f->mtime_ns = st->st_mtim.tv_nsec;
	f->ctime_s = st->st_ctim.tv_sec, f->ctime_ns = st->st_ctim.tv_nsec;
}


int build_write_manifest(struct build *b)
{
	char *text;
	int r = manifest_format(&b->m, &text), fd;
	if (r < 0)
		return r;
	fd = openat(b->tmpfd, KERNEL_MANIFEST, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		r = -errno;
	else {
		r = write_full(fd, text, strlen(text));
		if (r == 0 && fsync(fd) < 0)
			r = -errno;
		close(fd);
	}
	free(text);
	return r;
}

/* Records VER's file name (open fd) in the manifest, sha256 included. */
int build_record_src(struct build *b, const char *name, int fd)
{
	struct stat st;
	struct mfile *f = &b->m.src[b->m.nsrc];
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	mfile_stat(f, name, &st);
	if ((r = kio_sha256_fd(fd, f->sha)) < 0)
		return r;
	b->m.nsrc++;
	return 0;
}

int build_record_out(struct build *b, const char *name)
{
	struct stat st;
	struct mfile *f = &b->m.out[b->m.nout];
	int fd = openat(b->tmpfd, name, O_RDONLY | O_CLOEXEC), r = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else {
		mfile_stat(f, name, &st);
		r = kio_sha256_fd(fd, f->sha);
	}
	close(fd);
	if (r == 0)
		b->m.nout++;
	return r;
}


/* VER's files must not have changed while we read them. */
int build_sources_unchanged(struct build *b)
{
	for (size_t i = 0; i < b->m.nsrc; i++) {
		const struct mfile *f = &b->m.src[i];
		struct stat st;
		if (fstatat(b->verfd, f->name, &st, 0) < 0 || (uint64_t)st.st_size != f->size ||
		    (uint64_t)st.st_ino != f->ino || st.st_mtim.tv_sec != f->mtime_s ||
		    st.st_mtim.tv_nsec != f->mtime_ns || st.st_ctim.tv_sec != f->ctime_s ||
		    st.st_ctim.tv_nsec != f->ctime_ns) {
			log_info("%s/%s/%s changed while the variant was made (package update?); run it again",
				 b->c->dir, b->ver, f->name);
			return -EAGAIN;
		}
	}
	return 0;
}


int variant_refresh_manifest(struct kctx *c, const char *variant, struct manifest *m)
{
	char *text, tmpname[KNAME_MAX + 32];
	int vfd, fd, r;

	if ((r = manifest_format(m, &text)) < 0)
		return r;
	if ((vfd = openat(c->dirfd, variant, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		free(text);
		return -errno;
	}
	snprintf(tmpname, sizeof(tmpname), "%s.new", KERNEL_MANIFEST);
	unlinkat(vfd, tmpname, 0);
	fd = openat(vfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
	} else {
		r = write_full(fd, text, strlen(text));
		if (r == 0 && fsync(fd) < 0)
			r = -errno;
		close(fd);
		if (r == 0 && renameat(vfd, tmpname, vfd, KERNEL_MANIFEST) < 0)
			r = -errno;
		if (r < 0)
			unlinkat(vfd, tmpname, 0);
		else
			fsync(vfd);
	}
	close(vfd);
	free(text);
	return r;
}
