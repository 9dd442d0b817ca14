/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "swaphdr.h"

#include <errno.h>
#include <string.h>

#define SWAP_MIN_PAGES 10  /* the kernel refuses smaller areas */

int swap_header_build(void *page, size_t page_size, uint64_t area_bytes,
		      const uint8_t uuid[16], const char *label)
{
	struct swap_header_v1 *h = page;

	if (page_size < 4096 || (page_size & (page_size - 1)))
		return -EINVAL;
	uint64_t pages = area_bytes / page_size;
	if (pages < SWAP_MIN_PAGES || pages > UINT32_MAX)
		return -EINVAL;
	memset(page, 0, page_size);
	/* native byte order, as mkswap writes and the kernel reads it */
	h->version = 1;
	h->last_page = (uint32_t)(pages - 1);
	h->nr_badpages = 0;
	if (uuid)
		memcpy(h->uuid, uuid, sizeof(h->uuid));
	if (label)
		strncpy(h->volume_name, label, sizeof(h->volume_name) - 1);
	memcpy((char *)page + page_size - SWAP_SIGNATURE_LEN, SWAP_SIGNATURE, SWAP_SIGNATURE_LEN);
	return 0;
}
