/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The variant's initramfs: the appender (src/lib/appender.h) over the
 * original, with the ephemeral-init binary and version of this run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appender.h"
#include "kernel.h"
#include "log.h"
#include "qvm.h"

int variant_write_initramfs(const struct kctx *c, int srcfd, int dirfd, mode_t mode, const struct append_file *extra,
			    size_t nextra, uint64_t *cpio_offset)
{
	const struct append_payload p = { .init = c->init, .init_len = c->init_len, .version = c->version,
					  .extra = extra, .nextra = nextra };
	bool write_failed;
	int r, fd = openat(dirfd, "initramfs", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

	if (fd < 0)
		return -errno;
	r = append_copy_in(srcfd, fd, cpio_offset, &write_failed);
	if (r == 0) {
		kio_test_kill("append");
		r = append_write_cpio(fd, &p);
	}
	if (r == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
		r = -errno;
	close(fd);
	return r;
}

/* The original's /init as the kernel would leave it: the last one in its
 * uncompressed archives, then in its compressed part. Kept in our cpio so
 * that stock mode runs it unchanged. */
struct orig_init {
	unsigned char *buf;     /* the decompressed part, when it came from there */
	struct newc_file f;
	bool found;
	char target[4096];      /* a symlink's target, made absolute */
};

static int find_original_init(int fd, struct orig_init *o)
{
	struct stat st;
	struct ird_scan s;
	char why[256];
	int r;

	memset(o, 0, sizeof(*o));
	if (fstat(fd, &st) < 0)
		return -errno;
	unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r = initramfs_scan(p, (size_t)st.st_size, &s, why, sizeof(why));
	if (r == 0) {
		size_t plain = s.comp == IRD_NONE ? (size_t)st.st_size : (size_t)s.comp_offset;
		struct newc_file f;
		r = newc_find_last(p, plain, "init", &f);
		if (r == 0) {
			/* copied out: p goes away below */
			if (!(o->buf = malloc(f.size ? f.size : 1)))
				r = -ENOMEM;
			else {
				memcpy(o->buf, f.data, f.size);
				o->f = f, o->f.data = o->buf, o->found = true;
			}
		}
		if (r == -ENOENT)
			r = 0;
	}
	munmap(p, (size_t)st.st_size);
	if (r < 0 || s.comp == IRD_NONE)
		return r;
	unsigned char *d;
	size_t dlen;
	if (lseek(fd, (off_t)s.comp_offset, SEEK_SET) < 0)
		return -errno;
	if ((r = kio_decompress_all(fd, s.comp, KERNEL_ORIGINAL_INIT_MAX, &d, &dlen)) < 0)
		return r;
	struct newc_file f;
	r = newc_find_last(d, dlen, "init", &f);
	if (r == 0) {
		free(o->buf);
		o->buf = d, o->f = f, o->found = true;
		return 0;
	}
	free(d);
	return r == -ENOENT ? 0 : r;
}

/* The kept init as a file of our archive. A relative symlink target is
 * relative to / (where /init was), not to our folder: made absolute. */
static int original_init_file(struct orig_init *o, struct append_file *f)
{
	*f = (struct append_file){ KERNEL_ORIGINAL_INIT_PATH, o->f.data, o->f.size, o->f.mode & 07777, false };
	if ((o->f.mode & 0170000) != 0120000)
		return 0;
	const char *t = (const char *)o->f.data;
	size_t n = (size_t)snprintf(o->target, sizeof(o->target), "%s%.*s", o->f.size && t[0] == '/' ? "" : "/",
				    (int)o->f.size, t);
	if (n >= sizeof(o->target))
		return -ENAMETOOLONG;
	f->data = o->target, f->len = n, f->mode = 0777, f->symlink = true;
	return 0;
}

int build_write_initramfs(struct build *b, int srcfd, mode_t mode, uint64_t *cpio_offset)
{
	struct orig_init o;
	int r;

	if ((r = find_original_init(srcfd, &o)) < 0) {
		free(o.buf);
		return log_errno(r, "cannot read the /init of %s/initramfs (to keep it for stock mode)", b->ver);
	}
	if (!o.found)
		log_info("warning: %s/initramfs has no /init; without qubes.ephemeral=1 the variant uses "
			 "ephemeral-init's own stock mode", b->ver);
	struct carry_set m;
	build_carry_modules(b, &m);
	if (m.n && qvm_verbose)
		log_info("%s carries %zu files of the storage stack's modules", b->variant, m.n - 1);
	if (o.found && (r = original_init_file(&o, &m.f[m.n])) < 0) {
		log_errno(r, "cannot keep the /init of %s/initramfs", b->ver);
	} else {
		m.n += o.found;
		r = variant_write_initramfs(b->c, srcfd, b->tmpfd, mode, m.f, m.n, cpio_offset);
		if (r == -EMEDIUMTYPE || r == -ENODATA)
			log_info("%s/%s/initramfs is not an initramfs (changed since it was checked?)", b->c->dir, b->ver);
		else if (r < 0)
			log_errno(r, "cannot write the new initramfs of %s", b->variant);
	}
	carry_set_free(&m);
	free(o.buf);
	return r;
}
