/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/cpio.c: the newc archive we append to an initramfs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "cpio.h"

struct mem {
	char *buf;
	size_t len;
	FILE *f;
};

static void mem_open(struct mem *m, struct cpio_writer *w)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
	cpio_init(w, m->f);
}

static void mem_close(struct mem *m)
{
	assert_int_equal(fclose(m->f), 0);
}

#define Z8 "00000000"

static void known_bytes(void **state)
{
	(void)state;
	struct cpio_writer w;
	struct mem m;
	mem_open(&m, &w);
	assert_int_equal(cpio_add_dir(&w, "a", 0755), 0);
	assert_int_equal(cpio_add_file(&w, "a/f", 0644, "hi", 2), 0);
	assert_int_equal(cpio_finish(&w), 0);
	mem_close(&m);

	static const char want[] =
		/* magic ino mode uid gid nlink mtime size devmaj devmin rdevmaj rdevmin namesize check */
		"070701" "000002D1" "000041ED" Z8 Z8 "00000002" Z8 Z8 Z8 Z8 Z8 Z8 "00000002" Z8
		"a\0"                                   /* 110 + 2: already a multiple of 4 */
		"070701" "000002D2" "000081A4" Z8 Z8 "00000001" Z8 "00000002" Z8 Z8 Z8 Z8 "00000004" Z8
		"a/f\0" "\0\0"                          /* 110 + 4 -> 116 */
		"hi" "\0\0"                             /* data padded to 4 */
		"070701" Z8 Z8 Z8 Z8 "00000001" Z8 Z8 Z8 Z8 Z8 Z8 "0000000B" Z8
		"TRAILER!!!\0" "\0\0\0";                /* 110 + 11 -> 124 */
	size_t wl = sizeof(want) - 1;
	assert_int_equal(wl, 112 + 116 + 4 + 124);
	assert_int_equal(m.len, 512);               /* the whole padded to 512 */
	assert_memory_equal(m.buf, want, wl);
	for (size_t i = wl; i < m.len; i++)
		assert_int_equal(m.buf[i], 0);
	assert_int_equal(w.written, 512);
	assert_int_equal(w.error, 0);
	free(m.buf);
}

/* The parsed form of one entry. */
struct ent {
	char name[256];
	unsigned mode, nlink, ino;
	const char *data;
	size_t len;
};

static unsigned hexfield(const char *p)
{
	char tmp[9];
	memcpy(tmp, p, 8);
	tmp[8] = '\0';
	char *end;
	unsigned long v = strtoul(tmp, &end, 16);
	assert_true(end == tmp + 8);
	return (unsigned)v;
}

/* Reads entries back as the kernel does; returns the count before the trailer. */
static size_t parse(const char *buf, size_t len, struct ent *out, size_t max)
{
	size_t pos = 0, n = 0;
	for (;;) {
		assert_int_equal(pos % 4, 0);
		assert_true(pos + 110 <= len);
		assert_memory_equal(buf + pos, "070701", 6);
		const struct cpio_newc_header *h = (const void *)(buf + pos);
		unsigned namesize = hexfield(h->namesize), size = hexfield(h->filesize);
		assert_int_equal(hexfield(h->uid), 0);
		assert_int_equal(hexfield(h->gid), 0);
		assert_int_equal(hexfield(h->mtime), 0);
		assert_int_equal(hexfield(h->check), 0);
		const char *name = buf + pos + 110;
		assert_true(namesize >= 2 && pos + 110 + namesize <= len);
		assert_int_equal(name[namesize - 1], '\0');
		assert_int_equal(strlen(name), namesize - 1);
		pos = (pos + 110 + namesize + 3) & ~(size_t)3;
		if (strcmp(name, "TRAILER!!!") == 0)
			break;
		assert_true(n < max);
		assert_true(pos + size <= len);
		struct ent *e = &out[n++];
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->mode = hexfield(h->mode);
		e->nlink = hexfield(h->nlink);
		e->ino = hexfield(h->ino);
		e->data = buf + pos;
		e->len = size;
		pos = (pos + size + 3) & ~(size_t)3;
	}
	assert_int_equal(len % 512, 0);
	for (; pos < len; pos++)
		assert_int_equal(buf[pos], 0);
	return n;
}

static void roundtrip(void **state)
{
	(void)state;
	struct cpio_writer w;
	struct mem m;
	char big[5000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	mem_open(&m, &w);
	/* names of every length mod 4, data of every length mod 4 */
	assert_int_equal(cpio_add_dir(&w, "usr", 0755), 0);
	assert_int_equal(cpio_add_dir(&w, "usr/lib", 0700), 0);
	assert_int_equal(cpio_add_file(&w, "init", 0755, "\x7f" "ELF", 4), 0);
	assert_int_equal(cpio_add_file(&w, "usr/lib/ab", 0600, "x", 1), 0);
	assert_int_equal(cpio_add_file(&w, "usr/lib/abc", 04755, "xyz", 3), 0);
	assert_int_equal(cpio_add_file(&w, "usr/lib/abcd", 0644, "", 0), 0);
	assert_int_equal(cpio_add_file(&w, "big", 0644, big, sizeof(big)), 0);
	assert_int_equal(cpio_add_symlink(&w, "sbin", "usr/sbin"), 0);
	assert_int_equal(cpio_add_file(&w, "odd", 0100644, "ab", 2), 0);  /* type bits ignored */
	assert_int_equal(cpio_finish(&w), 0);
	mem_close(&m);

	struct ent e[16];
	size_t n = parse(m.buf, m.len, e, 16);
	assert_int_equal(n, 9);
	assert_string_equal(e[0].name, "usr");
	assert_int_equal(e[0].mode, S_IFDIR | 0755);
	assert_int_equal(e[0].nlink, 2);
	assert_int_equal(e[1].mode, S_IFDIR | 0700);
	assert_string_equal(e[2].name, "init");
	assert_int_equal(e[2].mode, S_IFREG | 0755);
	assert_int_equal(e[2].nlink, 1);
	assert_int_equal(e[2].len, 4);
	assert_memory_equal(e[2].data, "\x7f" "ELF", 4);
	assert_int_equal(e[4].mode, S_IFREG | 04755);
	assert_memory_equal(e[4].data, "xyz", 3);
	assert_int_equal(e[5].len, 0);
	assert_int_equal(e[6].len, sizeof(big));
	assert_memory_equal(e[6].data, big, sizeof(big));
	assert_string_equal(e[7].name, "sbin");
	assert_int_equal(e[7].mode, S_IFLNK | 0777);
	assert_int_equal(e[7].len, 8);
	assert_memory_equal(e[7].data, "usr/sbin", 8);
	assert_int_equal(e[8].mode, S_IFREG | 0644);
	/* distinct inode numbers, in order */
	for (size_t i = 1; i < n; i++)
		assert_int_equal(e[i].ino, e[i - 1].ino + 1);
	assert_int_equal(w.written, m.len);
	free(m.buf);
}

static void reproducible(void **state)
{
	(void)state;
	struct cpio_writer w1, w2;
	struct mem m1, m2;
	mem_open(&m1, &w1);
	mem_open(&m2, &w2);
	for (int k = 0; k < 2; k++) {
		struct cpio_writer *w = k ? &w2 : &w1;
		assert_int_equal(cpio_add_dir(w, "etc", 0755), 0);
		assert_int_equal(cpio_add_file(w, "etc/x", 0644, "1", 1), 0);
		assert_int_equal(cpio_finish(w), 0);
	}
	mem_close(&m1);
	mem_close(&m2);
	assert_int_equal(m1.len, m2.len);
	assert_memory_equal(m1.buf, m2.buf, m1.len);
	free(m1.buf);
	free(m2.buf);
}

static void bad_arguments_stick(void **state)
{
	(void)state;
	struct cpio_writer w;
	struct mem m;
	mem_open(&m, &w);
	assert_int_equal(cpio_add_file(&w, "", 0644, "x", 1), -EINVAL);
	/* later calls report the first error and write nothing */
	assert_int_equal(cpio_add_dir(&w, "ok", 0755), -EINVAL);
	assert_int_equal(cpio_finish(&w), -EINVAL);
	mem_close(&m);
	assert_int_equal(m.len, 0);
	free(m.buf);

	mem_open(&m, &w);
	assert_int_equal(cpio_add_file(&w, "f", 0644, NULL, 1), -EINVAL);
	fclose(m.f);
	free(m.buf);

	mem_open(&m, &w);
	assert_int_equal(cpio_add_symlink(&w, "l", ""), -EINVAL);
	fclose(m.f);
	free(m.buf);

	/* only a name ends an archive: "TRAILER!!!" as link text is data
	 * (found by fuzz_cpio) */
	mem_open(&m, &w);
	assert_int_equal(cpio_add_symlink(&w, "l", "TRAILER!!!"), 0);
	assert_int_equal(cpio_add_symlink(&w, "TRAILER!!!", "x"), -EINVAL);
	fclose(m.f);
	free(m.buf);

	char *longname = malloc(5000);
	assert_non_null(longname);
	memset(longname, 'n', 4999);
	longname[4999] = '\0';
	mem_open(&m, &w);
	assert_int_equal(cpio_add_dir(&w, longname, 0755), -ENAMETOOLONG);
	fclose(m.f);
	free(m.buf);
	/* 4095 characters + NUL is the most the kernel takes */
	longname[4095] = '\0';
	mem_open(&m, &w);
	assert_int_equal(cpio_add_dir(&w, longname, 0755), 0);
	fclose(m.f);
	free(m.buf);
	free(longname);
}

static void write_errors(void **state)
{
	(void)state;
	struct cpio_writer w;
	FILE *f = fopen("/dev/full", "w");
	if (!f)
		skip();
	cpio_init(&w, f);
	/* buffered writes may look fine; finish flushes and must see ENOSPC */
	cpio_add_file(&w, "x", 0644, "data", 4);
	assert_int_equal(cpio_finish(&w), -ENOSPC);
	assert_int_equal(w.error, -ENOSPC);
	assert_int_equal(cpio_add_dir(&w, "y", 0755), -ENOSPC);
	fclose(f);

	f = fopen("/dev/full", "w");
	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	cpio_init(&w, f);
	assert_int_equal(cpio_add_dir(&w, "d", 0755), -ENOSPC);
	fclose(f);
}

/* The lead (see cpio.h): an empty archive, byte for byte what the writer
 * makes of no entries, 512 bytes; asked for before gzip only. */
static void lead(void **state)
{
	(void)state;
	struct mem m;
	struct cpio_writer w;
	unsigned char l[CPIO_LEAD_SIZE];

	memset(l, 0xaa, sizeof(l));
	cpio_lead(l);
	mem_open(&m, &w);
	assert_int_equal(cpio_finish(&w), 0);
	fclose(m.f);
	assert_int_equal(m.len, CPIO_LEAD_SIZE);
	assert_memory_equal(l, m.buf, CPIO_LEAD_SIZE);
	assert_memory_equal(l, "070701", 6);
	assert_memory_equal(l + 110, "TRAILER!!!", 11);
	for (size_t i = 124; i < CPIO_LEAD_SIZE; i++)
		assert_int_equal(l[i], 0);
	free(m.buf);

	assert_true(cpio_lead_needed("\x1f\x8b\x08\x00", 4));
	assert_false(cpio_lead_needed("\x1f", 1));
	assert_false(cpio_lead_needed("070701", 6));
	assert_false(cpio_lead_needed("\x28\xb5\x2f\xfd", 4));    /* zstd: Xen leaves it alone */
	assert_false(cpio_lead_needed("\xfd" "7zXZ", 5));
	assert_false(cpio_lead_needed("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_bytes),
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(reproducible),
		cmocka_unit_test(bad_arguments_stick),
		cmocka_unit_test(write_errors),
		cmocka_unit_test(lead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
