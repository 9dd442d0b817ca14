/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A writer for the "newc" cpio format the kernel unpacks as initramfs
 * (magic 070701, ASCII hex header fields, name and data padded to 4 bytes). */
#pragma once
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cpio_newc_header {
	char magic[6];     /* "070701" */
	char ino[8];
	char mode[8];
	char uid[8];
	char gid[8];
	char nlink[8];
	char mtime[8];
	char filesize[8];
	char devmajor[8];
	char devminor[8];
	char rdevmajor[8];
	char rdevminor[8];
	char namesize[8];  /* including the trailing NUL */
	char check[8];     /* 0 for newc */
} __attribute__((packed));
static_assert(sizeof(struct cpio_newc_header) == 110, "newc header is 110 bytes");

struct cpio_writer {
	FILE *f;
	uint32_t next_ino;
	uint64_t written;   /* bytes so far, for padding */
	int error;          /* first negative errno seen, sticky */
};

/* Entries carry uid/gid 0 and mtime 0 so the output is reproducible.
 * Padding counts from cpio_init(), so start the writer at a 4-byte (better:
 * 512-byte) aligned offset of the file. Names must be non-empty and shorter
 * than 4096 bytes, data at most 4 GiB - 1. Every error, bad arguments
 * included, sticks: later calls return it and write nothing. */
void cpio_init(struct cpio_writer *w, FILE *f);
int cpio_add_dir(struct cpio_writer *w, const char *name, unsigned mode);
int cpio_add_file(struct cpio_writer *w, const char *name, unsigned mode,
		  const void *data, size_t len);
int cpio_add_symlink(struct cpio_writer *w, const char *name, const char *target);
/* Writes the TRAILER!!! entry and pads the archive to a multiple of 512 bytes. */
int cpio_finish(struct cpio_writer *w);

/* The lead archive. Xen's domain builder gunzips an initramfs that starts
 * with gzip magic and takes its last 4 bytes as the unpacked size: with our
 * archive appended that is wrong, and it logs "xc_dom_do_gunzip: inflate
 * failed" at every domain start (then loads the file as is). An initramfs
 * that starts with an uncompressed cpio (as Qubes' own with early microcode)
 * is loaded as is without a word. So an appender writes, when
 * cpio_lead_needed(first bytes of IN): the lead, IN, zeros to 512, ours.
 * The lead is an empty newc archive (only its trailer), zero-padded to
 * CPIO_LEAD_SIZE: the kernel unpacks it to nothing and skips the zeros. */
#define CPIO_LEAD_SIZE 512
bool cpio_lead_needed(const void *head, size_t n);
void cpio_lead(unsigned char out[CPIO_LEAD_SIZE]);
