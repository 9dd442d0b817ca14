/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checks of an original kernel folder's files before anything is written:
 * the initramfs must be one the kernel can unpack, modules.img an ext image. */
#define _GNU_SOURCE
#include <sys/mman.h>
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

/* The initramfs must be what the kernel can unpack: cpio archives and/or
 * one compressed stream that decompresses to a cpio. */
int build_check_initramfs(struct build *b, int fd)
{
	struct stat st;
	struct ird_scan s;
	char why[256];
	int r = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0) {
		log_info("%s/%s/initramfs is empty: not an initramfs", b->c->dir, b->ver);
		return -EINVAL;
	}
	unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return log_errno(-errno, "cannot read %s/%s/initramfs", b->c->dir, b->ver);
	if (initramfs_scan(p, (size_t)st.st_size, &s, why, sizeof(why)) < 0) {
		log_info("%s/%s/initramfs is not an initramfs the kernel can unpack: %s", b->c->dir, b->ver, why);
		r = -EINVAL;
	}
	munmap(p, (size_t)st.st_size);
	if (r < 0 || s.comp == IRD_NONE)
		return r;
	/* the compressed part: its first bytes must be a newc header */
	unsigned char head[6];
	size_t got;
	if (lseek(fd, (off_t)s.comp_offset, SEEK_SET) < 0)
		return -errno;
	r = kio_decompress_head(fd, s.comp, head, sizeof(head), &got);
	if (r == -ENOENT) {
		log_info("warning: no %s tool to check the %s part of %s/initramfs; its magic is right", ird_comp_name(s.comp),
			 ird_comp_name(s.comp), b->ver);
		return 0;
	}
	if (r < 0)
		return log_errno(r, "cannot check %s/%s/initramfs", b->c->dir, b->ver);
	if (got < 6 || (memcmp(head, "070701", 6) && memcmp(head, "070702", 6))) {
		log_info("%s/%s/initramfs is not an initramfs the kernel can unpack: its %s part at offset %llu does not "
			 "decompress to a cpio archive", b->c->dir, b->ver, ird_comp_name(s.comp),
			 (unsigned long long)s.comp_offset);
		return -EINVAL;
	}
	if (qvm_verbose)
		log_info("%s/initramfs: %zu uncompressed cpio part(s), then %s", b->ver, s.ncpio, ird_comp_name(s.comp));
	return 0;
}

int build_check_modules_img(struct build *b, int fd)
{
	unsigned char sb[2048];
	ssize_t n = pread(fd, sb, sizeof(sb), 0);
	if (n < 0)
		return log_errno(-errno, "cannot read %s/%s/modules.img", b->c->dir, b->ver);
	if (!ext_magic_ok(sb, (size_t)n)) {
		log_info("%s/%s/modules.img is not an ext2/3/4 image (no superblock magic)", b->c->dir, b->ver);
		return -EINVAL;
	}
	return 0;
}
