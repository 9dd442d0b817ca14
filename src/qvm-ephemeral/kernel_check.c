/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Is a variant current? Reads its manifest, its own files and the
 * original folder (read-only). Cheap when nothing changed: a file whose
 * size, inode, mtime and ctime are as recorded is not hashed again. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "kernel.h"
#include "sha256.h"

const char *vstate_name(enum vstate s)
{
	switch (s) {
	case VS_CURRENT: return "current";
	case VS_STALE: return "stale";
	case VS_ORPHAN: return "orphan";
	case VS_FOREIGN: return "foreign";
	case VS_BROKEN: return "broken";
	}
	return "?";
}

static int judge(struct vcheck *v, enum vstate st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int judge(struct vcheck *v, enum vstate st, const char *fmt, ...)
{
	va_list ap;
	v->st = st;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	return 0;
}

/* The version file and /init of our cpio at the manifest's offset. */
static int read_our_cpio(int vfd, struct vcheck *v)
{
	struct stat st;
	int fd = openat(vfd, "initramfs", O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return judge(v, VS_BROKEN, "no initramfs");
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size <= v->m.cpio_offset) {
		close(fd);
		return judge(v, VS_BROKEN, "initramfs shorter than recorded");
	}
	unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return judge(v, VS_BROKEN, "cannot read initramfs: %s", strerror(errno));
	const unsigned char *a = p + v->m.cpio_offset, *data;
	size_t alen = (size_t)st.st_size - v->m.cpio_offset, dlen;
	r = newc_find(a, alen, APPEND_VERSION_PATH, &data, &dlen);
	if (r == 0) {
		size_t l = dlen;
		while (l && (data[l - 1] == '\n' || data[l - 1] == '\0'))
			l--;
		if (l >= sizeof(v->version))
			l = sizeof(v->version) - 1;   /* also keeps the %.*s length an int */
		snprintf(v->version, sizeof(v->version), "%.*s", (int)l, (const char *)data);
		r = newc_find(a, alen, "init", &data, &dlen);
	}
	if (r < 0) {
		munmap(p, (size_t)st.st_size);
		return judge(v, VS_BROKEN, "initramfs does not end with the qubes-ephemeral cpio");
	}
	uint8_t d[32];
	char hex[65];
	sha256(data, dlen, d);
	sha_hex(d, hex);
	munmap(p, (size_t)st.st_size);
	if (strcmp(hex, v->m.init_sha) || strcmp(v->version, v->m.version))
		return judge(v, VS_BROKEN, "the init or version inside initramfs is not the recorded one");
	return 0;
}

static bool same_stat(const struct mfile *f, const struct stat *st)
{
	return (uint64_t)st->st_size == f->size && (uint64_t)st->st_ino == f->ino && st->st_mtim.tv_sec == f->mtime_s &&
	       st->st_mtim.tv_nsec == f->mtime_ns && st->st_ctim.tv_sec == f->ctime_s &&
	       st->st_ctim.tv_nsec == f->ctime_ns;
}

/* Compares VER/ now with what the manifest says it was. */
static int compare_sources(const struct kctx *c, struct vcheck *v)
{
	char names[MANIFEST_MAX_FILES][KNAME_MAX];
	size_t n;
	int bfd = openat(c->dirfd, v->m.base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (bfd < 0 || fstatat(bfd, "vmlinuz", &st, 0) < 0) {
		if (bfd >= 0)
			close(bfd);
		return judge(v, VS_ORPHAN, "its kernel %s is gone", v->m.base);
	}
	if (kernel_list_files(bfd, names, MANIFEST_MAX_FILES, &n) < 0) {
		close(bfd);
		return judge(v, VS_STALE, "cannot list %s", v->m.base);
	}
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t k = 0; k < v->m.nsrc && !found; k++)
			found = !strcmp(names[i], v->m.src[k].name);
		if (!found) {
			close(bfd);
			return judge(v, VS_STALE, "%s/%s is new", v->m.base, names[i]);
		}
	}
	for (size_t k = 0; k < v->m.nsrc; k++) {
		struct mfile *f = &v->m.src[k];
		if (fstatat(bfd, f->name, &st, 0) < 0) {
			close(bfd);
			return judge(v, VS_STALE, "%s/%s is gone", v->m.base, f->name);
		}
		if (same_stat(f, &st))
			continue;
		char sha[65];
		int fd = openat(bfd, f->name, O_RDONLY | O_CLOEXEC), r = fd < 0 ? -errno : kio_sha256_fd(fd, sha);
		if (fd >= 0)
			close(fd);
		if (r < 0 || strcmp(sha, f->sha)) {
			close(bfd);
			return judge(v, VS_STALE, "%s/%s changed", v->m.base, f->name);
		}
		/* same bytes, new stat data (touched, or reinstalled unchanged) */
		f->size = (uint64_t)st.st_size, f->ino = (uint64_t)st.st_ino;
		f->mtime_s = st.st_mtim.tv_sec, f->mtime_ns = st.st_mtim.tv_nsec;
		f->ctime_s = st.st_ctim.tv_sec, f->ctime_ns = st.st_ctim.tv_nsec;
		v->touched = true;
	}
	close(bfd);
	return 0;
}

int variant_check(const struct kctx *c, const char *variant, struct vcheck *v)
{
	char path[KNAME_MAX + 64], *text;
	size_t len;
	int r;

	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), "%s/%s", variant, KERNEL_MANIFEST);
	r = read_file_at(c->dirfd, path, 0, 1 << 20, &text, &len);
	if (r == -ENOENT)
		return judge(v, VS_FOREIGN, "not made by qvm-ephemeral (no %s)", KERNEL_MANIFEST);
	if (r < 0)
		return judge(v, VS_BROKEN, "cannot read %s: %s", KERNEL_MANIFEST, strerror(-r));
	r = manifest_parse(text, &v->m);
	free(text);
	char base[KNAME_MAX];
	if (r < 0 || !kernel_variant_base(variant, base, sizeof(base)) || strcmp(base, v->m.base))
		return judge(v, VS_BROKEN, "unreadable %s", KERNEL_MANIFEST);

	int vfd = openat(c->dirfd, variant, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vfd < 0)
		return judge(v, VS_BROKEN, "cannot open: %s", strerror(errno));
	for (size_t i = 0; i < v->m.nout; i++) {
		struct stat st;
		if (fstatat(vfd, v->m.out[i].name, &st, 0) < 0 || (uint64_t)st.st_size != v->m.out[i].size) {
			close(vfd);
			return judge(v, VS_BROKEN, "%s missing or changed", v->m.out[i].name);
		}
	}
	read_our_cpio(vfd, v);
	close(vfd);
	if (v->st == VS_BROKEN)
		return 0;
	compare_sources(c, v);
	if (v->st != VS_CURRENT)
		return 0;
	if (strcmp(v->m.tool, KERNEL_TOOL_VERSION))
		return judge(v, VS_STALE, "made by qvm-ephemeral %s", v->m.tool);
	if (c->init_sha[0] && strcmp(c->init_sha, v->m.init_sha))
		return judge(v, VS_STALE, "made with another ephemeral-init (init-sha256 %.12s…, now %.12s…)",
			     v->m.init_sha, c->init_sha);
	return 0;
}
