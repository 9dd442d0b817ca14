/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer: the newc reader of `qvm-ephemeral kernel` (initramfs_scan,
 * newc_find in src/qvm-ephemeral/kernel_scan.c), the code that reads an
 * initramfs and the version file of our cpio in it.
 *
 * Each input is used twice:
 *  - as an initramfs as it is: any bytes, every answer within the buffer;
 *  - as a recipe: archives written with lib/cpio.c's writer, concatenated
 *    with zero padding, maybe followed by a compressed part; the reader must
 *    find every file with its bytes, count the archives, and the writer must
 *    succeed.
 *
 * The fuzz build links src/lib only, so the reader's file is compiled here. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../src/qvm-ephemeral/kernel_scan.c"

#define MAX_ENTRIES 16
#define MAX_ARCHIVES 3

/* --- any bytes --- */

static void found_within(const unsigned char *b, size_t len, const unsigned char *d, size_t dl)
{
	if (d < b || d > b + len || dl > (size_t)(b + len - d) || (size_t)(d - b) % 4)
		abort();
	volatile unsigned char sum = 0;  /* touch every byte: ASan checks them */
	for (size_t i = 0; i < dl; i++)
		sum ^= d[i];
	(void)sum;
}

static void as_initramfs(const unsigned char *b, size_t len)
{
	static const char *const names[] = { APPEND_VERSION_PATH, "init", "TRAILER!!!", "" };
	struct ird_scan s;
	char why[256];

	memset(why, 'x', sizeof(why));
	int scan = initramfs_scan(b, len, &s, why, sizeof(why));
	if (scan != 0 && scan != -EINVAL)
		abort();
	if (scan < 0 && (!memchr(why, '\0', sizeof(why)) || !why[0]))
		abort();  /* a refusal says why */
	if (scan == 0) {
		if (s.ncpio == 0 && s.comp == IRD_NONE)
			abort();
		if (s.comp != IRD_NONE && (s.comp_offset >= len || b[s.comp_offset] == 0 || b[s.comp_offset] == '0'))
			abort();
		(void)ird_comp_name(s.comp);
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const unsigned char *d = NULL;
		size_t dl = 0;
		int r = newc_find(b, len, names[i], &d, &dl);
		if (r != 0 && r != -ENOENT && r != -EINVAL)
			abort();
		/* the walk ends at the trailer: it is never a file of the archive
		 * (an empty name can be: a header with namesize 1, which the
		 * kernel skips as well; seed empty-name-entry) */
		if (r == 0 && !strcmp(names[i], TRAILER))
			abort();
		if (r == 0)
			found_within(b, len, d, dl);
		/* the scan walked the first archive to its trailer: well formed */
		if (scan == 0 && s.ncpio && len && b[0] == '0' && r == -EINVAL)
			abort();
	}
	/* the /init the variant builder keeps: within the buffer, a file or a symlink */
	struct newc_file f;
	int r = newc_find_last(b, len, "init", &f);
	if (r != 0 && r != -ENOENT && r != -EINVAL)
		abort();
	if (r == 0) {
		found_within(b, len, f.data, f.size);
		if ((f.mode & 0170000) != 0100000 && (f.mode & 0170000) != 0120000)
			abort();
	} else if (f.data || f.size || f.mode) {
		abort();  /* nothing half-filled on failure */
	}
}

/* --- written, then read back ---
 * Recipe, repeated: op byte, name length byte, name bytes (cut at a NUL),
 * data length (2 bytes, little endian), data bytes. op % 4: 0 directory,
 * 1 file, 2 symlink (the data is the target), 3 end of this archive, then
 * 4 * (op >> 2) more zero bytes before the next one. A last op of 0xff
 * (with nothing after) appends a gzip magic: the compressed part. */

struct entry {
	int kind;
	char name[257];
	const uint8_t *data;
	size_t len;
};

struct archive {
	size_t offset, nentries;
	struct entry e[MAX_ENTRIES];
};

static size_t take(const uint8_t *data, size_t size, size_t *pos, size_t n)
{
	size_t left = size - *pos;
	if (n > left)
		n = left;
	*pos += n;
	return n;
}

static void expect_find(const unsigned char *b, size_t len, const struct archive *a, const char *name)
{
	const struct entry *want = NULL;
	for (size_t i = 0; i < a->nentries && !want; i++)
		if (a->e[i].kind == 1 && !strcmp(a->e[i].name, name))
			want = &a->e[i];
	const unsigned char *d = NULL;
	size_t dl = 0;
	int r = newc_find(b + a->offset, len - a->offset, name, &d, &dl);
	if (!want) {
		if (r != -ENOENT)
			abort();
		return;
	}
	if (r != 0 || dl != want->len || (dl && memcmp(d, want->data, dl)))
		abort();
	found_within(b, len, d, dl);
}

static void round_trip(const uint8_t *data, size_t size)
{
	static struct archive arch[MAX_ARCHIVES];
	static const unsigned char zeros[4 * 64];
	size_t narch = 1, pos = 0, comp_offset = 0;
	/* room for any recipe of MAX_ENTRIES per archive from max_len bytes:
	 * a fixed buffer, no stream buffer (speed: no big allocations a run) */
	static char buf[1 << 20];
	size_t len;
	struct cpio_writer w;

	if (size > sizeof(buf) / 2)
		return;  /* a recipe writes less than its own size + 1 KiB an entry */
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	if (!f || setvbuf(f, NULL, _IONBF, 0))
		abort();
	arch[0].offset = 0;
	arch[0].nentries = 0;
	cpio_init(&w, f);
	while (pos < size) {
		uint8_t op = data[pos++];
		if (op == 0xff && pos == size) {
			if (cpio_finish(&w) != 0 || fwrite("\x1f\x8b\x08\x00", 1, 4, f) != 4 || fflush(f))
				abort();
			comp_offset = (size_t)w.written + arch[narch - 1].offset;
			break;
		}
		if (op % 4 == 3) {
			if (narch == MAX_ARCHIVES)
				break;
			if (cpio_finish(&w) != 0)
				abort();
			size_t pad = 4 * (size_t)(op >> 2);
			if (fwrite(zeros, 1, pad, f) != pad || fflush(f))
				abort();
			arch[narch].offset = arch[narch - 1].offset + (size_t)w.written + pad;
			arch[narch].nentries = 0;
			narch++;
			cpio_init(&w, f);
			continue;
		}
		struct archive *a = &arch[narch - 1];
		if (a->nentries == MAX_ENTRIES || pos == size)
			break;
		struct entry *e = &a->e[a->nentries];
		size_t want_nl = data[pos++];
		size_t nl = take(data, size, &pos, want_nl);
		memcpy(e->name, data + pos - nl, nl);
		e->name[nl] = '\0';
		uint8_t lb[2] = { 0, 0 };
		size_t got = take(data, size, &pos, 2);
		memcpy(lb, data + pos - got, got);
		e->len = take(data, size, &pos, (size_t)lb[0] | (size_t)lb[1] << 8);
		e->data = data + pos - e->len;
		e->kind = op % 4;
		/* the writer refuses an empty name; TRAILER!!! as a name would end
		 * the archive early (the writer takes it: see the report) */
		if (!e->name[0] || !strcmp(e->name, TRAILER))
			continue;
		int r;
		if (e->kind == 0) {
			r = cpio_add_dir(&w, e->name, op >> 2);
		} else if (e->kind == 1) {
			r = cpio_add_file(&w, e->name, op >> 2, e->data, e->len);
		} else {
			/* the link target is a C string: cut at a NUL, never empty */
			char target[65536];
			size_t tl = strnlen((const char *)e->data, e->len);
			if (!tl)
				continue;
			memcpy(target, e->data, tl);
			target[tl] = '\0';
			r = cpio_add_symlink(&w, e->name, target);
		}
		if (r != 0)
			abort();
		a->nentries++;
	}
	if (!comp_offset && cpio_finish(&w) != 0)
		abort();
	long end = ftell(f);
	if (end < 0 || fclose(f) != 0)
		abort();
	len = (size_t)end;
	/* each archive is padded to 512 from its own start */
	if (!comp_offset && (len - arch[narch - 1].offset) % 512)
		abort();

	const unsigned char *b = (const unsigned char *)buf;
	struct ird_scan s;
	char why[256];
	if (initramfs_scan(b, len, &s, why, sizeof(why)) != 0 || s.ncpio != narch ||
	    s.comp != (comp_offset ? IRD_GZIP : IRD_NONE) || (comp_offset && s.comp_offset != comp_offset))
		abort();
	for (size_t i = 0; i < narch; i++) {
		for (size_t j = 0; j < arch[i].nentries; j++)
			expect_find(b, len, &arch[i], arch[i].e[j].name);
		expect_find(b, len, &arch[i], "no such name");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_initramfs(data, size);
	round_trip(data, size);
	return 0;
}
