/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The variant's initramfs: the appender (src/lib/appender.h) over the
 * original, with the ephemeral-init binary and version of this run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int build_write_initramfs(struct build *b, int srcfd, mode_t mode, uint64_t *cpio_offset)
{
	struct carried m;
	build_carry_modules(b, &m);
	if (m.n && qvm_verbose)
		log_info("%s carries %zu files of the storage stack's modules", b->variant, m.n - 1);
	int r = variant_write_initramfs(b->c, srcfd, b->tmpfd, mode, m.f, m.n, cpio_offset);
	carried_free(&m);

	if (r == -EMEDIUMTYPE || r == -ENODATA)
		log_info("%s/%s/initramfs is not an initramfs (changed since it was checked?)", b->c->dir, b->ver);
	else if (r < 0)
		log_errno(r, "cannot write the new initramfs of %s", b->variant);
	return r;
}
