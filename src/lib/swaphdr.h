/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Linux swap area header (what mkswap writes), version 1. */
#pragma once
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* Layout of the first page: 1024 bytes of boot space, then this header;
 * the signature "SWAPSPACE2" sits in the last 10 bytes of the page. */
struct swap_header_v1 {
	uint8_t bootbits[1024];
	uint32_t version;        /* 1 */
	uint32_t last_page;      /* index of the last usable page */
	uint32_t nr_badpages;    /* 0 */
	uint8_t uuid[16];
	char volume_name[16];
	uint32_t padding[117];
	uint32_t badpages[1];
} __attribute__((packed));
static_assert(offsetof(struct swap_header_v1, version) == 1024, "swap header version offset");
static_assert(offsetof(struct swap_header_v1, uuid) == 1036, "swap header uuid offset");
static_assert(offsetof(struct swap_header_v1, volume_name) == 1052, "swap header label offset");

#define SWAP_SIGNATURE "SWAPSPACE2"
#define SWAP_SIGNATURE_LEN 10

/* Fills page (page_size bytes, page_size >= 4096) with a swap header for an
 * area of area_bytes bytes: zeroes it, sets version 1, last_page =
 * area_bytes/page_size - 1, the uuid and label (either may be NULL = zeroes;
 * at most 15 label chars kept), and the signature at the page end. Fields are
 * in native byte order, as mkswap writes them.
 * Returns 0, or -EINVAL if the area holds fewer than 10 pages or more
 * pages than fit in 32 bits, or page_size is not a power of two >= 4096. */
int swap_header_build(void *page, size_t page_size, uint64_t area_bytes,
		      const uint8_t uuid[16], const char *label);
