/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading numbers and words out of the kernel's text (sysfs, /proc, dm
 * status lines) without scanf: musl's vfscanf brings its floating-point
 * parser along, about 10 KiB of the guest binary for nothing. Each helper
 * first skips white space, then moves *p past what it read; on an error
 * *p is left where it was. Stricter than scanf: no sign, no base prefix. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* An unsigned decimal: 0, -EINVAL (no digit) or -ERANGE (above UINT64_MAX). */
int scan_u64(const char **p, uint64_t *v);
/* Two unsigned decimals joined by sep, nothing between ("120/4096"). */
int scan_u64_pair(const char **p, char sep, uint64_t *a, uint64_t *b);
/* A device number as the kernel prints it, "MAJ:MIN" (-ERANGE when a part
 * does not fit in unsigned). */
int scan_devnum(const char **p, unsigned *maj, unsigned *min);
/* The next word (up to white space or the end) into buf, NUL-terminated, or
 * skipped when buf is NULL: 0, -EINVAL (no word) or -ENAMETOOLONG (it does
 * not fit in size bytes with its NUL). */
int scan_word(const char **p, char *buf, size_t size);
