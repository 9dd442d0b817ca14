/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The text of a sysfs uevent file (/sys/class/block/NAME/uevent): the
 * KEY=VALUE lines the kernel's add_uevent_var() writes, one a line.
 *
 * Pure (text in, structure out) so it can be tested and fuzzed; reading the
 * file is the caller's business. */
#pragma once
#include <stddef.h>

#define UEVENT_DEVTYPE_MAX 32
#define UEVENT_DEVNAME_MAX 128
/* the kernel keeps at most 63 bytes of a GPT name; room for more */
#define UEVENT_PARTNAME_MAX 256

struct uevent {
	char devtype[UEVENT_DEVTYPE_MAX];    /* DEVTYPE: "disk", "partition", ... */
	char devname[UEVENT_DEVNAME_MAX];    /* DEVNAME: "xvda3", relative to /dev */
	char partname[UEVENT_PARTNAME_MAX];  /* PARTNAME: the GPT partition name */
	int partn;                           /* PARTN: partition number */
	int major, minor;                    /* MAJOR, MINOR */
};

/* Reads the lines of text[0..len): any bytes, no NUL needed at the end.
 * A field whose key is not in the text is "" (strings) or -1 (numbers).
 * Lines without '=' and unknown keys are skipped; values are taken as they
 * are (no trimming). When a key comes twice, its last line decides.
 * A known key whose value does not fit (a string as long as its field, a
 * NUL byte in it; a number that is not plain decimal digits within
 * 0..INT_MAX) leaves that field unset and makes the result -EBADMSG; the
 * other fields are still filled. Returns 0, -EBADMSG, or -EINVAL when out
 * is NULL or text is NULL with len > 0. */
int uevent_parse(const char *text, size_t len, struct uevent *out);
