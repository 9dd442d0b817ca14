/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral/kernel_scan.c and kernel_sha.c: initramfs walk, newc
 * lookup, manifest text, names, incremental SHA-256. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpio.h"
#include "kernel.h"
#include "sha256.h"

/* A newc archive with init and a version file, in memory. */
static unsigned char *archive(size_t *len)
{
	char *buf;
	size_t n;
	struct cpio_writer w;
	FILE *f = open_memstream(&buf, &n);
	cpio_init(&w, f);
	cpio_add_dir(&w, "usr", 0755);
	cpio_add_file(&w, "init", 0755, "\x7f" "ELF...", 7);
	cpio_add_file(&w, APPEND_VERSION_PATH, 0644, "v1\n", 3);
	assert_int_equal(cpio_finish(&w), 0);
	fclose(f);
	*len = n;
	return (unsigned char *)buf;
}

static void scan_plain_and_early(void **state)
{
	(void)state;
	size_t n;
	unsigned char *a = archive(&n);
	struct ird_scan s;
	char why[256];

	assert_int_equal(initramfs_scan(a, n, &s, why, sizeof(why)), 0);
	assert_int_equal(s.ncpio, 1);
	assert_int_equal(s.comp, IRD_NONE);
	/* early cpio + zero padding + a zstd stream */
	unsigned char *b = calloc(1, n + 100);
	memcpy(b, a, n);
	memcpy(b + n + 12, "\x28\xb5\x2f\xfd" "xxxx", 8);
	assert_int_equal(initramfs_scan(b, n + 100, &s, why, sizeof(why)), 0);
	assert_int_equal(s.ncpio, 1);
	assert_int_equal(s.comp, IRD_ZSTD);
	assert_int_equal(s.comp_offset, n + 12);
	/* two archives back to back, then gzip */
	unsigned char *c = calloc(1, 2 * n + 4);
	memcpy(c, a, n);
	memcpy(c + n, a, n);
	memcpy(c + 2 * n, "\x1f\x8b\x08\x00", 4);
	assert_int_equal(initramfs_scan(c, 2 * n + 4, &s, why, sizeof(why)), 0);
	assert_int_equal(s.ncpio, 2);
	assert_int_equal(s.comp, IRD_GZIP);
	assert_string_equal(ird_comp_name(s.comp), "gzip");
	free(a), free(b), free(c);
}

static void scan_rejects(void **state)
{
	(void)state;
	size_t n;
	unsigned char *a = archive(&n);
	struct ird_scan s;
	char why[256];

	assert_int_equal(initramfs_scan(a, 0, &s, why, sizeof(why)), -EINVAL);
	assert_int_equal(initramfs_scan((const unsigned char *)"hello world", 11, &s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "no cpio archive nor known compression"));
	/* truncated archive */
	assert_int_equal(initramfs_scan(a, n / 2, &s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "truncated"));
	/* misaligned second archive */
	unsigned char *b = calloc(1, 2 * n + 2);
	memcpy(b, a, n);
	b[n] = 0;
	memcpy(b + n + 1, a, n);
	assert_int_equal(initramfs_scan(b, 2 * n + 1, &s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not 4-byte aligned"));
	/* only zeros */
	memset(b, 0, 64);
	assert_int_equal(initramfs_scan(b, 64, &s, why, sizeof(why)), -EINVAL);
	/* a bad hex digit in a header */
	memcpy(b, a, n);
	b[20] = 'z';
	assert_int_equal(initramfs_scan(b, n, &s, why, sizeof(why)), -EINVAL);
	free(a), free(b);
}

/* One archive with one entry named name: a file (target NULL), a symlink, or a folder (data "/"). */
static unsigned char *one_entry(const char *name, const char *data, bool link, size_t *len)
{
	char *buf;
	size_t n;
	struct cpio_writer w;
	FILE *f = open_memstream(&buf, &n);
	cpio_init(&w, f);
	if (link)
		cpio_add_symlink(&w, name, data);
	else if (!strcmp(data, "/"))
		cpio_add_dir(&w, name, 0755);
	else
		cpio_add_file(&w, name, 0700, data, strlen(data));
	assert_int_equal(cpio_finish(&w), 0);
	fclose(f);
	*len = n;
	return (unsigned char *)buf;
}

/* The /init the kernel leaves: the last of that name over concatenated archives. */
static void find_last_init(void **state)
{
	(void)state;
	size_t n1, n2, n3, n4;
	struct newc_file f;
	unsigned char *a = archive(&n1), *b = one_entry("./init", "#!/bin/sh\n", false, &n2),
		      *l = one_entry("/init", "usr/lib/systemd/systemd", true, &n3), *d = one_entry("init", "/", false, &n4);
	unsigned char *s = calloc(1, n1 + n2 + n3 + n4 + 16);

	assert_int_equal(newc_find_last(a, n1, "init", &f), 0);
	assert_int_equal(f.size, 7);
	assert_int_equal(f.mode & 0170000, 0100000);
	/* archive, zero padding, a second archive with ./init: that one wins */
	memcpy(s, a, n1);
	memcpy(s + n1 + 8, b, n2);
	assert_int_equal(newc_find_last(s, n1 + 8 + n2 + 4, "init", &f), 0);
	assert_int_equal(f.size, 10);
	assert_memory_equal(f.data, "#!/bin/sh\n", 10);
	assert_int_equal(f.mode & 07777, 0700);
	/* then a symlink /init */
	memcpy(s + n1 + 8 + n2, l, n3);
	assert_int_equal(newc_find_last(s, n1 + 8 + n2 + n3, "init", &f), 0);
	assert_int_equal(f.mode & 0170000, 0120000);
	assert_int_equal(f.size, strlen("usr/lib/systemd/systemd"));
	/* then a folder of that name: nothing to keep */
	memcpy(s + n1 + 8 + n2 + n3, d, n4);
	assert_int_equal(newc_find_last(s, n1 + 8 + n2 + n3 + n4, "init", &f), -ENOENT);
	assert_int_equal(newc_find_last(a, n1, "nothere", &f), -ENOENT);
	/* misaligned second archive, garbage, truncation */
	memset(s, 0, n1 + n2 + 16);
	memcpy(s, a, n1);
	memcpy(s + n1 + 2, b, n2);
	assert_int_equal(newc_find_last(s, n1 + 2 + n2, "init", &f), -EINVAL);
	assert_int_equal(newc_find_last((const unsigned char *)"garbage", 7, "init", &f), -EINVAL);
	assert_int_equal(newc_find_last(a, 50, "init", &f), -EINVAL);
	free(a), free(b), free(l), free(d), free(s);
}

static void find_in_newc(void **state)
{
	(void)state;
	size_t n, dl;
	const unsigned char *d;
	unsigned char *a = archive(&n);

	assert_int_equal(newc_find(a, n, APPEND_VERSION_PATH, &d, &dl), 0);
	assert_int_equal(dl, 3);
	assert_memory_equal(d, "v1\n", 3);
	assert_int_equal(newc_find(a, n, "init", &d, &dl), 0);
	assert_int_equal(dl, 7);
	assert_int_equal(newc_find(a, n, "usr", &d, &dl), -ENOENT);   /* a folder, not a file */
	assert_int_equal(newc_find(a, n, "nothere", &d, &dl), -ENOENT);
	assert_int_equal(newc_find(a, 50, "init", &d, &dl), -EINVAL);
	assert_int_equal(newc_find((const unsigned char *)"garbage", 7, "init", &d, &dl), -EINVAL);
	free(a);
}

static void manifest_round_trip(void **state)
{
	(void)state;
	struct manifest m = { 0 }, p;
	char *text;

	snprintf(m.tool, sizeof(m.tool), "0.1");
	snprintf(m.base, sizeof(m.base), "6.6.63-1.fc37");
	snprintf(m.version, sizeof(m.version), "qubes-ephemeral 0.1 init-sha256=%064d", 0);
	memset(m.init_sha, 'a', 64);
	m.cpio_offset = 1536;
	m.nsrc = 2;
	m.src[0] = (struct mfile){ .name = "vmlinuz", .size = 10, .ino = 7, .mtime_s = 1700000000, .mtime_ns = 5,
				   .ctime_s = -1, .ctime_ns = 999999999 };
	m.src[1] = (struct mfile){ .name = "odd name with spaces", .size = 0 };
	memset(m.src[0].sha, 'b', 64);
	memset(m.src[1].sha, 'c', 64);
	m.nout = 1;
	m.out[0] = (struct mfile){ .name = "initramfs", .size = 2048 };
	memset(m.out[0].sha, 'd', 64);
	assert_int_equal(manifest_format(&m, &text), 0);
	assert_int_equal(manifest_parse(text, &p), 0);
	assert_string_equal(p.base, m.base);
	assert_string_equal(p.version, m.version);
	assert_string_equal(p.init_sha, m.init_sha);
	assert_int_equal(p.cpio_offset, 1536);
	assert_int_equal(p.nsrc, 2);
	assert_string_equal(p.src[1].name, "odd name with spaces");
	assert_int_equal(p.src[0].mtime_s, 1700000000);
	assert_int_equal(p.src[0].ctime_s, -1);
	assert_int_equal(p.src[0].ctime_ns, 999999999);
	assert_int_equal(p.nout, 1);
	assert_int_equal(p.out[0].size, 2048);
	free(text);
	/* refused: bad first line, missing keys, bad sha, a newline in a name */
	assert_int_equal(manifest_parse("hello\n", &p), -EBADMSG);
	assert_int_equal(manifest_parse("qubes-ephemeral-variant 1\ntool 0.1\n", &p), -EBADMSG);
	assert_int_equal(manifest_parse("qubes-ephemeral-variant 1\ntool 0.1\nbase x\nversion v\ninit-sha256 xyz\n"
					"cpio-offset 0\n", &p), -EBADMSG);
	snprintf(m.src[1].name, sizeof(m.src[1].name), "a\nb");
	assert_int_equal(manifest_format(&m, &text), -EINVAL);
}

static void names(void **state)
{
	(void)state;
	char b[64];

	assert_int_equal(kernel_variant_name("6.6.63-1.fc37", b, sizeof(b)), 0);
	assert_string_equal(b, "6.6.63-1.fc37-ephemeral");
	assert_int_equal(kernel_variant_name("6.6-ephemeral", b, sizeof(b)), -EINVAL);
	assert_int_equal(kernel_variant_name("../x", b, sizeof(b)), -EINVAL);
	assert_int_equal(kernel_variant_name(".hidden", b, sizeof(b)), -EINVAL);
	assert_int_equal(kernel_variant_name("", b, sizeof(b)), -EINVAL);
	assert_int_equal(kernel_variant_name("0123456789012345678901234567890123456789012345678901234567", b, sizeof(b)),
			 -ENAMETOOLONG);
	assert_true(kernel_variant_base("6.1-ephemeral", b, sizeof(b)));
	assert_string_equal(b, "6.1");
	assert_false(kernel_variant_base("-ephemeral", b, sizeof(b)));
	assert_false(kernel_variant_base("6.1", b, sizeof(b)));
}

static void ext_magic(void **state)
{
	(void)state;
	unsigned char sb[2048] = { 0 };
	assert_false(ext_magic_ok(sb, sizeof(sb)));
	sb[1024 + 56] = 0x53, sb[1024 + 57] = 0xef;
	assert_true(ext_magic_ok(sb, sizeof(sb)));
	assert_false(ext_magic_ok(sb, 1000));
}

/* the incremental hash agrees with the library's one-shot sha256 at every
 * length around the block and padding boundaries, fed in odd pieces */
static void incremental_sha(void **state)
{
	(void)state;
	unsigned char data[300];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(data); len++) {
		uint8_t d[32];
		char want[65], got[65];
		uint8_t d2[32];
		struct sha256_ctx h;
		sha256(data, len, d);
		sha_hex(d, want);
		sha256_init(&h);
		for (size_t off = 0, step = 1; off < len; off += step, step = step % 70 + 13)
			sha256_update(&h, data + off, off + step > len ? len - off : step);
		sha256_final(&h, d2);
		sha_hex(d2, got);
		assert_string_equal(got, want);
	}
	struct sha256_ctx h;
	uint8_t d[32];
	char hex[65];
	sha256_init(&h);
	sha256_update(&h, "abc", 3);
	sha256_final(&h, d);
	sha_hex(d, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scan_plain_and_early), cmocka_unit_test(scan_rejects), cmocka_unit_test(find_in_newc), cmocka_unit_test(find_last_init),
		cmocka_unit_test(manifest_round_trip),  cmocka_unit_test(names),        cmocka_unit_test(ext_magic),
		cmocka_unit_test(incremental_sha),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
