/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qescan: counts the tests' marker in disks (dom0) or in the RAM of the
 * domain it runs in (the balloon probe, through /proc/kcore).
 *
 *   qescan SEED FILE...     one line per FILE: "FILE copies=N"
 *   qescan --kcore SEED     "kcore_copies=N kcore_pages=N kcore_bytes=N kcore_errors=N"
 *
 * The marker is "QEM-" + the first 44 hex digits of sha256(SEED), as
 * tests/vm/guest/init.sh makes it. This program never holds it in memory as
 * such: it keeps it inverted and compares byte by byte, so scanning its own
 * domain's RAM does not find its own copy. Static (musl), for tests only. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"

#define MLEN 48
#define CHUNK (4u << 20)
#define PAGE 4096u

static unsigned char inv[MLEN];   /* the marker, each byte inverted */
/* PAGE bytes of room for the carried tail, then CHUNK page-aligned bytes a
 * read lands in (disks are read with O_DIRECT: large requests, no page
 * cache to copy through or to drop first; this runs under nested TCG) */
static unsigned char *buf;

static void make_marker(const char *seed)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[32];

	sha256(seed, strlen(seed), d);
	inv[0] = (unsigned char)~'Q';
	inv[1] = (unsigned char)~'E';
	inv[2] = (unsigned char)~'M';
	inv[3] = (unsigned char)~'-';
	for (int i = 0; i < 44; i++)
		inv[4 + i] = (unsigned char)~hex[(d[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
	memset(d, 0, sizeof(d));
}

struct count {
	unsigned long long copies, pages, bytes, errors;
	unsigned long long last_page;   /* +1, 0 = none */
};

/* Scans n bytes of buf that start at file offset off; the caller keeps
 * MLEN - 1 bytes of overlap between calls. */
static void scan(const unsigned char *b, size_t n, unsigned long long off, struct count *c)
{
	const unsigned char first = (unsigned char)~inv[0];

	for (size_t i = 0; i + MLEN <= n; i++) {
		const unsigned char *p = memchr(b + i, first, n - MLEN + 1 - i);
		if (!p)
			break;
		i = (size_t)(p - b);
		size_t k = 1;
		while (k < MLEN && (unsigned char)~p[k] == inv[k])
			k++;
		if (k == MLEN) {
			unsigned long long pg = (off + i) / PAGE + 1;
			c->copies++;
			if (pg != c->last_page)
				c->pages++, c->last_page = pg;
		}
	}
}

/* [start, start + len) of fd; len = ~0 for "to the end" */
static void scan_range(int fd, unsigned long long start, unsigned long long len, struct count *c)
{
	size_t keep = 0;
	unsigned long long pos = start, end = len == ~0ull ? ~0ull : start + len;
	unsigned char *data = buf + PAGE;

	while (pos < end) {
		size_t want = CHUNK;
		if (end - pos < want)
			want = (size_t)(end - pos);
		ssize_t r = pread(fd, data, want, (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			/* kcore: a part that cannot be read; skip a page */
			c->errors++;
			keep = 0;
			pos = (pos / PAGE + 1) * PAGE;
			continue;
		}
		if (r == 0)
			break;
		scan(data - keep, keep + (size_t)r, pos - keep, c);
		c->bytes += (unsigned long long)r;
		pos += (unsigned long long)r;
		size_t tot = keep + (size_t)r;
		keep = tot < MLEN - 1 ? tot : MLEN - 1;
		memmove(data - keep, data + r - keep, keep);
	}
}

static int kcore(void)
{
	int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	struct count c = { 0 };

	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_phentsize != sizeof(Elf64_Phdr)) {
		printf("kcore_error=cannot_read_/proc/kcore\n");
		return 1;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
			break;
		/* RAM, text, modules, vmemmap; not the TiB-sized vmalloc range */
		if (ph.p_type != PT_LOAD || ph.p_filesz == 0 || ph.p_filesz > (4ull << 30))
			continue;
		scan_range(fd, ph.p_offset, ph.p_filesz, &c);
	}
	printf("kcore_copies=%llu kcore_pages=%llu kcore_bytes=%llu kcore_errors=%llu\n",
	       c.copies, c.pages, c.bytes, c.errors);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 0;

	buf = aligned_alloc(PAGE, PAGE + CHUNK);
	if (!buf || argc < 3) {
		fprintf(stderr, "usage: qescan SEED FILE... | qescan --kcore SEED\n");
		return 2;
	}
	if (!strcmp(argv[1], "--kcore")) {
		make_marker(argv[2]);
		return kcore();
	}
	make_marker(argv[1]);
	for (int i = 2; i < argc; i++) {
		struct count c = { 0 };
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC | O_DIRECT);
		if (fd < 0 && errno == EINVAL)
			fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			printf("%s copies=error\n", argv[i]);
			rc = 1;
			continue;
		}
		scan_range(fd, 0, ~0ull, &c);
		close(fd);
		printf("%s copies=%llu\n", argv[i], c.copies);
	}
	return rc;
}
