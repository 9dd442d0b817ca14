/* SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE
#include "appender.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpio.h"
#include "fileio.h"

static const struct {
	enum ird_comp comp;
	const char *magic;
	size_t len;
} magics[] = {
	{ IRD_GZIP, "\x1f\x8b", 2 },
	{ IRD_GZIP, "\x1f\x9e", 2 },            /* old gzip, the kernel takes it */
	{ IRD_ZSTD, "\x28\xb5\x2f\xfd", 4 },
	{ IRD_XZ, "\xfd" "7zXZ\0", 6 },
	{ IRD_LZMA, "\x5d\x00\x00", 3 },
	{ IRD_BZIP2, "BZh", 3 },
	{ IRD_LZ4, "\x02\x21\x4c\x18", 4 },     /* legacy frame, what the kernel reads */
	{ IRD_LZO, "\x89LZO\0", 5 },
};

const char *ird_comp_name(enum ird_comp c)
{
	static const char *names[] = { "uncompressed", "gzip", "zstd", "xz", "lzma", "bzip2", "lz4", "lzo" };
	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

enum ird_comp ird_comp_magic(const void *b, size_t n)
{
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (n >= magics[i].len && !memcmp(b, magics[i].magic, magics[i].len))
			return magics[i].comp;
	return IRD_NONE;
}

bool append_input_ok(const void *head, size_t n)
{
	if (n >= 6 && (!memcmp(head, "070701", 6) || !memcmp(head, "070702", 6)))
		return true;
	return ird_comp_magic(head, n) != IRD_NONE;
}

/* Is dir (len bytes of a path) among the first n files' parents already? */
static bool parent_seen(const char *const *paths, size_t n, const char *dir, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (!strncmp(paths[i], dir, len) && paths[i][len] == '/')
			return true;
	return false;
}

/* Folders first, so each file's parent exists when the kernel creates it:
 * the parents of every file in order of first appearance. */
static void add_parents(struct cpio_writer *w, const char *const *paths, size_t n)
{
	char dir[4096];

	for (size_t i = 0; i < n; i++)
		for (const char *s = strchr(paths[i], '/'); s; s = strchr(s + 1, '/')) {
			size_t len = (size_t)(s - paths[i]);
			if (len >= sizeof(dir) || parent_seen(paths, i, paths[i], len))
				continue;
			/* a parent seen earlier in this same path is not a repeat:
			 * each prefix of one path is distinct */
			memcpy(dir, paths[i], len);
			dir[len] = '\0';
			cpio_add_dir(w, dir, APPEND_DIR_MODE);
		}
}

/* A folder entry replaces whatever IN has at that name: the kernel's
 * unpacker removes a symlink there first. On a merged-/usr initramfs lib,
 * lib64, bin and sbin are symlinks into usr, so a file under them would
 * leave an empty folder where /lib/modules was. */
bool append_dest_safe(const char *dest)
{
	static const char *const links[] = { "lib", "lib32", "lib64", "libx32", "bin", "sbin" };
	size_t n = strcspn(dest, "/");

	if (!dest[n])
		return true;   /* a top-level file: no folder entry for it */
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (strlen(links[i]) == n && strncmp(dest, links[i], n) == 0)
			return false;
	return true;
}

int append_cpio(const struct append_payload *p, char **buf, size_t *len)
{
	struct cpio_writer w;
	size_t n = p->nextra + 1;
	const char **paths = calloc(n, sizeof(*paths));
	char *version = NULL;
	FILE *f;
	int r;

	*buf = NULL;
	for (size_t i = 0; i < p->nextra; i++)
		if (!append_dest_safe(p->extra[i].dest)) {
			free(paths);
			return -EXDEV;
		}
	if (!paths || asprintf(&version, "%s\n", p->version ? p->version : "") < 0) {
		free(paths);
		return -ENOMEM;
	}
	if (!(f = open_memstream(buf, len))) {
		r = -errno;
		goto out;
	}
	paths[0] = APPEND_VERSION_PATH;
	for (size_t i = 0; i < p->nextra; i++)
		paths[i + 1] = p->extra[i].dest;
	cpio_init(&w, f);
	add_parents(&w, paths, n);
	cpio_add_file(&w, "init", 0755, p->init, p->init_len);
	cpio_add_file(&w, APPEND_VERSION_PATH, 0644, version, strlen(version));
	for (size_t i = 0; i < p->nextra; i++) {
		const struct append_file *e = &p->extra[i];
		if (!e->symlink) {
			cpio_add_file(&w, e->dest, e->mode, e->data, e->len);
			continue;
		}
		char *target = strndup(e->data, e->len);
		if (!target) {
			fclose(f);
			free(*buf);
			*buf = NULL;
			r = -ENOMEM;
			goto out;
		}
		cpio_add_symlink(&w, e->dest, target);
		free(target);
	}
	r = cpio_finish(&w);       /* errors stick: this one says if any failed */
	if (fclose(f) != 0 && r == 0)
		r = errno ? -errno : -EIO;
	if (r < 0) {
		free(*buf);
		*buf = NULL;
	}
out:
	free(version);
	free(paths);
	return r;
}

int append_copy_in(int infd, int outfd, uint64_t *cpio_offset, bool *write_failed)
{
	static const unsigned char zeros[512];
	unsigned char buf[65536];
	uint64_t total = 0, in = 0;
	int r;

	*write_failed = false;
	for (;;) {
		ssize_t n = pread_full(infd, buf, sizeof(buf), (off_t)in);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		if (in == 0) {
			if (!append_input_ok(buf, (size_t)n))
				return -EMEDIUMTYPE;
			if (cpio_lead_needed(buf, (size_t)n)) {
				unsigned char lead[CPIO_LEAD_SIZE];   /* see cpio.h: Xen's gunzip */
				cpio_lead(lead);
				if ((r = write_full(outfd, lead, sizeof(lead))) < 0)
					goto wfail;
				total += sizeof(lead);
			}
		}
		if ((r = write_full(outfd, buf, (size_t)n)) < 0)
			goto wfail;
		in += (uint64_t)n;
		total += (uint64_t)n;
	}
	if (in == 0)
		return -ENODATA;
	size_t pad = (size_t)((512 - total % 512) % 512);
	if ((r = write_full(outfd, zeros, pad)) < 0)
		goto wfail;
	*cpio_offset = total + pad;
	return 0;
wfail:
	*write_failed = true;
	return r;
}

int append_write_cpio(int outfd, const struct append_payload *p)
{
	char *cpio;
	size_t len;
	int r = append_cpio(p, &cpio, &len);

	if (r < 0)
		return r;
	r = write_full(outfd, cpio, len);
	free(cpio);
	return r;
}

int append_initramfs(int infd, int outfd, const struct append_payload *p, uint64_t *cpio_offset,
		     bool *write_failed)
{
	int r = append_copy_in(infd, outfd, cpio_offset, write_failed);

	if (r == 0 && (r = append_write_cpio(outfd, p)) < 0)
		*write_failed = true;
	return r;
}
