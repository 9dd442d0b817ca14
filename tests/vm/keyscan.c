/* SPDX-License-Identifier: GPL-2.0-or-later */
/* keyscan HASH FILE: counts the 64-byte windows of FILE (at 8-byte
 * alignment, as kernel allocations are) whose SHA-256 is HASH (hex). The
 * keys scenario finds the volatile key in a dump of guest memory this way,
 * knowing only the fingerprint the test build printed, never the key. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"

int main(int argc, char **argv)
{
	uint8_t want[32], got[32];
	struct stat st;

	if (argc != 3 || strlen(argv[1]) != 64) {
		fprintf(stderr, "usage: keyscan SHA256HEX FILE\n");
		return 2;
	}
	for (int i = 0; i < 32; i++) {
		unsigned b;
		if (sscanf(argv[1] + 2 * i, "%2x", &b) != 1) {
			fprintf(stderr, "keyscan: bad hash %s\n", argv[1]);
			return 2;
		}
		want[i] = (uint8_t)b;
	}
	int fd = open(argv[2], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(argv[2]);
		return 2;
	}
	const uint8_t *p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	unsigned long hits = 0;
	static const uint8_t zero[64];
	for (off_t off = 0; off + 64 <= st.st_size; off += 8) {
		/* pages of zeros are most of a dump and never the key */
		if (!memcmp(p + off, zero, 8) && !memcmp(p + off, zero, 64))
			continue;
		sha256(p + off, 64, got);
		if (!memcmp(got, want, 32))
			hits++;
	}
	printf("%lu\n", hits);
	return 0;
}
