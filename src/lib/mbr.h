/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A DOS partition table (MBR), as the stock Qubes init writes with sfdisk
 * on the volatile disk: 1 = swap (type 0x82), 2 or 3 = Linux (0x83). */
#pragma once
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

struct mbr_entry {
	uint8_t status;
	uint8_t chs_first[3];
	uint8_t type;
	uint8_t chs_last[3];
	uint32_t lba_first;   /* little endian */
	uint32_t sectors;
} __attribute__((packed));
static_assert(sizeof(struct mbr_entry) == 16, "MBR entry is 16 bytes");

struct mbr {
	uint8_t boot[440];
	uint32_t disk_id;
	uint16_t reserved;
	struct mbr_entry part[4];
	uint8_t signature[2];  /* 0x55 0xAA */
} __attribute__((packed));
static_assert(sizeof(struct mbr) == 512, "MBR is one sector");
static_assert(offsetof(struct mbr, part) == 446, "partition entries at 446");

/* Builds the stock volatile layout for a disk of disk_sectors 512-byte
 * sectors: partition 1 swap from 1 MiB, swap_sectors long; the rest in
 * partition `second` (2 for a COW area, 3 for a template's spare). Returns 0,
 * or -ENOSPC if the disk is too small, -EFBIG past 2 TiB (MBR limit). */
int mbr_build_volatile(struct mbr *m, uint64_t disk_sectors, uint64_t swap_sectors,
		       unsigned second, uint32_t disk_id);
