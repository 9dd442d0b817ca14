/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the kernel does with freed and allocated pages, as its boot log
 * says: "mem auto-init: stack:off, heap alloc:on, heap free:off".
 * Pure parsing, no I/O. */
#pragma once
#include <stddef.h>

/* 1 on, 0 off, -1 unknown */
struct meminit {
	int alloc;   /* init_on_alloc: pages zeroed when handed out */
	int free;    /* init_on_free: pages zeroed when freed */
};

/* Reads the last "mem auto-init:" line of a kernel log (any prefix before
 * it, e.g. "<6>[    0.000000] "). Fields not found stay -1. Returns 0 when
 * the line was found, -ENOENT otherwise. */
int meminit_parse(const char *log, size_t len, struct meminit *m);
