/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pure parts of `qvm-ephemeral kernel`: initramfs walk, newc lookup,
 * manifest text, names. No I/O here; unit tested. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpio.h"
#include "kernel.h"

#define NEWC_HDR sizeof(struct cpio_newc_header)
#define TRAILER "TRAILER!!!"

static int why_set(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One 8-digit hex field of a newc header. */
static int hex8(const char *f, uint32_t *v)
{
	uint32_t x = 0;
	for (int i = 0; i < 8; i++) {
		char c = f[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		x = x << 4 | d;
	}
	*v = x;
	return 0;
}

static uint64_t align4(uint64_t x)
{
	return (x + 3) & ~(uint64_t)3;
}

struct newc_entry {
	const char *name;       /* NUL-terminated inside the buffer */
	uint32_t mode;
	const unsigned char *data;
	uint32_t size;
	uint64_t next;          /* offset of the next header, from the archive start */
};

/* Parses the entry at offset off of the archive at b. */
static int newc_entry_at(const unsigned char *b, size_t len, uint64_t off, struct newc_entry *e)
{
	const struct cpio_newc_header *h;
	uint32_t namesize;

	if (off > len || len - off < NEWC_HDR)
		return -EINVAL;
	h = (const struct cpio_newc_header *)(b + off);
	if (memcmp(h->magic, "070701", 6) && memcmp(h->magic, "070702", 6))
		return -EINVAL;
	if (hex8(h->mode, &e->mode) < 0 || hex8(h->filesize, &e->size) < 0 || hex8(h->namesize, &namesize) < 0 ||
	    namesize == 0)
		return -EINVAL;
	uint64_t name_off = off + NEWC_HDR, data_off = align4(name_off + namesize);
	if (data_off > len || (uint64_t)e->size > len - data_off || b[name_off + namesize - 1] != '\0' ||
	    memchr(b + name_off, '\0', namesize - 1))
		return -EINVAL;
	e->name = (const char *)(b + name_off);
	e->data = b + data_off;
	e->next = align4(data_off + e->size);
	return 0;
}

int initramfs_scan(const unsigned char *b, size_t len, struct ird_scan *s, char *why, size_t whylen)
{
	uint64_t off = 0;

	memset(s, 0, sizeof(*s));
	if (len == 0)
		return why_set(why, whylen, "empty file");
	for (;;) {
		while (off < len && b[off] == 0)
			off++;
		if (off >= len)
			break;
		if (b[off] == '0') {
			if (off & 3)
				return why_set(why, whylen, "cpio archive at offset %" PRIu64 " is not 4-byte aligned", off);
			struct newc_entry e;
			uint64_t start = off;
			for (;;) {
				if (newc_entry_at(b, len, off, &e) < 0)
					return why_set(why, whylen, "broken or truncated cpio (newc) archive at offset %" PRIu64
						       " (entry at %" PRIu64 ")", start, off);
				off = e.next;
				if (!strcmp(e.name, TRAILER))
					break;
			}
			s->ncpio++;
			continue;
		}
		if ((s->comp = ird_comp_magic(b + off, len - off)) != IRD_NONE) {
			s->comp_offset = off;
			return 0;
		}
		return why_set(why, whylen, "no cpio archive nor known compression (gzip, zstd, xz, lzma, bzip2, lz4, lzo) "
			       "at offset %" PRIu64 " (bytes %02x %02x)", off, b[off], off + 1 < len ? b[off + 1] : 0);
	}
	if (s->ncpio == 0)
		return why_set(why, whylen, "only zero bytes");
	return 0;
}

int newc_find(const unsigned char *b, size_t len, const char *name, const unsigned char **data, size_t *dlen)
{
	uint64_t off = 0;
	struct newc_entry e;

	for (;;) {
		if (newc_entry_at(b, len, off, &e) < 0)
			return -EINVAL;
		if (!strcmp(e.name, TRAILER))
			return -ENOENT;
		if (!strcmp(e.name, name) && (e.mode & 0170000) == 0100000) {
			*data = e.data;
			*dlen = e.size;
			return 0;
		}
		off = e.next;
	}
}

/* "init", "./init" and "/init" all unpack to /init. */
static const char *path_rel(const char *n)
{
	for (;;) {
		if (n[0] == '/')
			n++;
		else if (n[0] == '.' && n[1] == '/')
			n += 2;
		else
			return n;
	}
}

int newc_find_last(const unsigned char *b, size_t len, const char *name, struct newc_file *f)
{
	struct newc_file last = { 0 };
	uint64_t off = 0;
	bool found = false;

	memset(f, 0, sizeof(*f));
	for (;;) {
		while (off < len && b[off] == 0)
			off++;
		if (off >= len)
			break;
		if (off & 3)
			return -EINVAL;
		for (;;) {
			struct newc_entry e;
			/* entry offsets count from the stream start: archives
			 * after the first start 4-byte aligned in it */
			if (newc_entry_at(b, len, off, &e) < 0)
				return -EINVAL;
			off = e.next;
			if (!strcmp(e.name, TRAILER))
				break;
			if (strcmp(path_rel(e.name), name))
				continue;
			uint32_t type = e.mode & 0170000;
			/* a later entry of another type replaces it as well */
			found = type == 0100000 || type == 0120000;
			last = (struct newc_file){ e.data, e.size, e.mode };
		}
	}
	if (!found)
		return -ENOENT;
	*f = last;
	return 0;
}

bool ext_magic_ok(const unsigned char *b, size_t len)
{
	/* superblock at 1024, s_magic (le16 0xEF53) at offset 56 in it */
	return len >= 1024 + 58 && b[1024 + 56] == 0x53 && b[1024 + 57] == 0xef;
}

void sha_hex(const uint8_t d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* --- manifest ---
 * qubes-ephemeral-variant 1
 * tool 0.1
 * base VER
 * version qubes-ephemeral 0.1 init-sha256=HEX
 * init-sha256 HEX
 * cpio-offset N
 * src SIZE INO MTIME_S MTIME_NS CTIME_S CTIME_NS SHA NAME
 * out SIZE SHA NAME */

#define MANIFEST_MAGIC "qubes-ephemeral-variant 1"

static int appendf(char **buf, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int appendf(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	char *nb = realloc(*buf, *len + (size_t)n + 1);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	va_start(ap, fmt);
	vsnprintf(nb + *len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
	return 0;
}

static bool field_ok(const char *s)
{
	return *s && !strchr(s, '\n');
}

int manifest_format(const struct manifest *m, char **text)
{
	char *b = NULL;
	size_t l = 0;
	int r;

	*text = NULL;
	if (!field_ok(m->base) || !field_ok(m->version) || !field_ok(m->tool) || strlen(m->init_sha) != 64 ||
	    m->nsrc > MANIFEST_MAX_FILES || m->nout > MANIFEST_MAX_FILES)
		return -EINVAL;
	r = appendf(&b, &l, "%s\ntool %s\nbase %s\nversion %s\ninit-sha256 %s\ncpio-offset %" PRIu64 "\n",
		    MANIFEST_MAGIC, m->tool, m->base, m->version, m->init_sha, m->cpio_offset);
	for (size_t i = 0; r == 0 && i < m->nsrc; i++) {
		const struct mfile *f = &m->src[i];
		if (!field_ok(f->name) || strlen(f->sha) != 64)
			r = -EINVAL;
		else
			r = appendf(&b, &l, "src %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %s %s\n",
				    f->size, f->ino, f->mtime_s, f->mtime_ns, f->ctime_s, f->ctime_ns, f->sha, f->name);
	}
	for (size_t i = 0; r == 0 && i < m->nout; i++) {
		const struct mfile *f = &m->out[i];
		if (!field_ok(f->name) || strlen(f->sha) != 64)
			r = -EINVAL;
		else
			r = appendf(&b, &l, "out %" PRIu64 " %s %s\n", f->size, f->sha, f->name);
	}
	if (r < 0) {
		free(b);
		return r;
	}
	*text = b;
	return 0;
}

static bool is_sha(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Copies the rest of a line (after "key ") into out. */
static int rest(const char *v, char *out, size_t n)
{
	if (!*v || strlen(v) >= n)
		return -EBADMSG;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int parse_file_line(const char *v, bool src, struct mfile *f)
{
	int pos = 0;
	char sha[65];

	memset(f, 0, sizeof(*f));
	if (src) {
		if (sscanf(v, "%" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %64s %n", &f->size,
			   &f->ino, &f->mtime_s, &f->mtime_ns, &f->ctime_s, &f->ctime_ns, sha, &pos) != 7 || !pos)
			return -EBADMSG;
	} else if (sscanf(v, "%" SCNu64 " %64s %n", &f->size, sha, &pos) != 2 || !pos) {
		return -EBADMSG;
	}
	if (!is_sha(sha) || v[pos] == '\0' || strlen(v + pos) >= sizeof(f->name))
		return -EBADMSG;
	memcpy(f->sha, sha, sizeof(f->sha));
	memcpy(f->name, v + pos, strlen(v + pos) + 1);
	return 0;
}

int manifest_parse(const char *text, struct manifest *m)
{
	char line[1024];
	bool magic = false, have_off = false;
	int r = 0;

	memset(m, 0, sizeof(*m));
	for (const char *p = text; *p && r == 0;) {
		size_t n = strcspn(p, "\n");
		if (n >= sizeof(line))
			return -EBADMSG;
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (p[n] == '\n');
		if (!magic) {
			if (strcmp(line, MANIFEST_MAGIC))
				return -EBADMSG;
			magic = true;
			continue;
		}
		char *v = strchr(line, ' ');
		if (!v)
			return -EBADMSG;
		*v++ = '\0';
		if (!strcmp(line, "tool"))
			r = rest(v, m->tool, sizeof(m->tool));
		else if (!strcmp(line, "base"))
			r = rest(v, m->base, sizeof(m->base));
		else if (!strcmp(line, "version"))
			r = rest(v, m->version, sizeof(m->version));
		else if (!strcmp(line, "init-sha256"))
			r = is_sha(v) ? rest(v, m->init_sha, sizeof(m->init_sha)) : -EBADMSG;
		else if (!strcmp(line, "cpio-offset")) {
			char *end;
			errno = 0;
			m->cpio_offset = strtoull(v, &end, 10);
			r = errno || *end || end == v ? -EBADMSG : 0;
			have_off = true;
		} else if (!strcmp(line, "src") || !strcmp(line, "out")) {
			bool src = line[0] == 's';
			size_t *cnt = src ? &m->nsrc : &m->nout;
			if (*cnt >= MANIFEST_MAX_FILES)
				return -EBADMSG;
			r = parse_file_line(v, src, src ? &m->src[*cnt] : &m->out[*cnt]);
			(*cnt)++;
		}
		/* unknown keys: a newer tool's additions, ignored */
	}
	if (r < 0 || !magic || !m->tool[0] || !m->base[0] || !m->version[0] || !m->init_sha[0] || !have_off)
		return -EBADMSG;
	return 0;
}
