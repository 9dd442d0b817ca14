/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one initramfs appender, used by initramfs-append and by
 * `qvm-ephemeral kernel` (the variant's initramfs):
 *
 *   OUT = [lead]  IN's bytes  zeros to 512  our uncompressed newc cpio
 *
 * The lead (an empty cpio, see cpio.h) comes first only when IN is gzip'ed
 * (Xen's domain builder). Our cpio holds the parent folders of every file
 * (mode 0755, first), /init (0755), the version file APPEND_VERSION_PATH
 * (one line) and any extra files. The kernel unpacks concatenated archives
 * in order and a later file replaces an earlier one, so IN stays as it is
 * and only /init is ours. Same input, same bytes: the output depends on
 * nothing but IN and the payload (entries carry uid/gid/mtime 0). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APPEND_VERSION_PATH "usr/lib/qubes-ephemeral/version"
#define APPEND_DIR_MODE 0755

/* What compressed stream starts an initramfs (or a part of one). */
enum ird_comp { IRD_NONE, IRD_GZIP, IRD_ZSTD, IRD_XZ, IRD_LZMA, IRD_BZIP2, IRD_LZ4, IRD_LZO };
const char *ird_comp_name(enum ird_comp c);
/* The compression whose magic b starts with, IRD_NONE when none (a cpio). */
enum ird_comp ird_comp_magic(const void *b, size_t n);
/* true when b starts with a newc cpio or a compression the kernel unpacks:
 * what every initramfs starts with. */
bool append_input_ok(const void *head, size_t n);

struct append_file {
	const char *dest;       /* relative path inside the archive */
	const void *data;       /* a symlink's target when symlink */
	size_t len;
	unsigned mode;          /* permission bits (a symlink's are 0777) */
	bool symlink;
};

struct append_payload {
	const void *init;       /* becomes /init */
	size_t init_len;
	const char *version;    /* the version file's line, without newline */
	const struct append_file *extra;
	size_t nextra;
};

/* false for a path under lib/, lib64/, bin/, sbin/ (and lib32, libx32):
 * symlinks in a merged-/usr initramfs, which a folder entry of ours would
 * replace with an empty folder. */
bool append_dest_safe(const char *dest);
/* Our archive in memory (*buf malloc'd). 0 or a negative errno; -EXDEV when
 * an extra file's dest is not append_dest_safe(). */
int append_cpio(const struct append_payload *p, char **buf, size_t *len);

/* Step 1: writes [lead] + infd's bytes (read from offset 0) + zeros to 512
 * at outfd's position; *cpio_offset = bytes written = where our archive
 * goes. -ENODATA: IN is empty; -EMEDIUMTYPE: IN does not start like an
 * initramfs; other negative errno: I/O, *write_failed says on which side. */
int append_copy_in(int infd, int outfd, uint64_t *cpio_offset, bool *write_failed);
/* Step 2: append_cpio written at outfd's position. */
int append_write_cpio(int outfd, const struct append_payload *p);
/* Both steps. */
int append_initramfs(int infd, int outfd, const struct append_payload *p, uint64_t *cpio_offset,
		     bool *write_failed);
