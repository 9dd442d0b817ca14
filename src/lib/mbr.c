/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "mbr.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

static void set_entry(struct mbr_entry *e, uint8_t type, uint64_t first, uint64_t count)
{
	/* CHS fields hold the "use LBA" marker, as every modern tool writes */
	static const uint8_t chs_max[3] = { 0xfe, 0xff, 0xff };
	memcpy(e->chs_first, chs_max, 3);
	memcpy(e->chs_last, chs_max, 3);
	e->type = type;
	e->lba_first = htole32((uint32_t)first);
	e->sectors = htole32((uint32_t)count);
}

int mbr_build_volatile(struct mbr *m, uint64_t disk_sectors, uint64_t swap_sectors,
		       unsigned second, uint32_t disk_id)
{
	const uint64_t start = 2048;

	if (second < 2 || second > 4)
		return -EINVAL;
	if (disk_sectors > UINT32_MAX)
		return -EFBIG;
	if (disk_sectors < start + swap_sectors + 2048)
		return -ENOSPC;
	memset(m, 0, sizeof(*m));
	m->disk_id = htole32(disk_id);
	set_entry(&m->part[0], 0x82, start, swap_sectors);
	uint64_t rest = start + swap_sectors;
	set_entry(&m->part[second - 1], 0x83, rest, disk_sectors - rest);
	m->signature[0] = 0x55;
	m->signature[1] = 0xaa;
	return 0;
}
