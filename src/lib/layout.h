/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Deciding the ephemeral storage stack: how the encrypted volatile disk is
 * split, and the device-mapper table lines. Pure functions, no I/O. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SECTOR_BYTES 512u
#define LAYOUT_ALIGN_SECTORS 2048u            /* 1 MiB: every region starts here */
#define LAYOUT_MIN_POOL_BYTES (UINT64_C(64) << 20)
#define LAYOUT_BLOCK_SECTORS 128u             /* thin-pool block: 64 KiB */
/* At most this many pool blocks: dm-thin writes its data space map (one
 * 4 KiB bitmap per 16320 blocks) when the pool is created, so the block
 * count bounds the setup work. 2^20 keeps 64 KiB blocks up to 64 GiB. */
#define LAYOUT_MAX_BLOCKS (UINT64_C(1) << 22)
/* Largest metadata device dm-thin uses (DM_SM_METADATA_MAX_SECTORS). */
#define LAYOUT_META_MAX_SECTORS (UINT64_C(255) * (1u << 14) * 8)

/* dm-crypt optional parameters (qubes.ephemeral.crypt_flags=) */
enum crypt_flag {
	CRYPT_NO_READ_WORKQUEUE = 1u << 0,
	CRYPT_NO_WRITE_WORKQUEUE = 1u << 1,
	CRYPT_SAME_CPU_CRYPT = 1u << 2,
	CRYPT_SUBMIT_FROM_CRYPT_CPUS = 1u << 3,
	CRYPT_SECTOR_512 = 1u << 4,     /* not a dm-crypt word: 512-byte crypt sectors */
};

struct layout {
	uint64_t crypt_sectors;   /* length of the crypt mapping over the volatile disk */
	uint64_t swap_start, swap_sectors;
	uint64_t meta_start, meta_sectors;
	uint64_t data_start, data_sectors;
	uint32_t block_sectors;   /* thin-pool block size */
};

/* Splits a volatile disk of volatile_bytes, encrypted with sector_size (512
 * or 4096) sectors, into swap (swap_bytes, 0 = none), thin-pool metadata and
 * thin-pool data. The block size is 64 KiB, doubled while the data would
 * have more than LAYOUT_MAX_BLOCKS blocks. Metadata is sized from the block
 * count (64 bytes a block plus 4 MiB, at least 2 MiB); the block size
 * doubles further until it fits the kernel's metadata limit. Returns 0 or -ENOSPC/-EINVAL with a message in err. */
int layout_compute(uint64_t volatile_bytes, uint64_t swap_bytes, unsigned sector_size,
		   struct layout *l, char *err, size_t errlen);

/* Filesystem block size seen in the first bytes of an origin (at least 2048
 * of them): an ext2/3/4 superblock gives its block size; all zeros (a blank
 * volume) gives 0; anything else gives 512 (unknown: be conservative). */
unsigned probe_fs_block(const uint8_t *buf, size_t len);

/* The crypt sector size: 4096 when every origin's filesystem block is 0 or
 * >= 4096 (a thin device over a 4096-byte-sector crypt device has 4096-byte
 * logical blocks, which a 1 KiB-block ext4 cannot mount on), else 512.
 * volatile_lbs is the volatile disk's logical block size; a 512 choice on a
 * 4096 disk is impossible: -EINVAL with a message. */
int choose_sector_size(unsigned volatile_lbs, const unsigned *fs_block, size_t n,
		       unsigned *sector_size, char *err, size_t errlen);

/* Table parameter strings. Devices are "MAJOR:MINOR". Each returns 0 or
 * -ENOBUFS if buf is too small. */
int table_crypt(char *buf, size_t len, const char *key_desc, unsigned key_bytes,
		const char *dev, unsigned sector_size, unsigned flags);
int table_linear(char *buf, size_t len, const char *dev, uint64_t offset);
int table_pool(char *buf, size_t len, const char *meta_dev, const char *data_dev,
	       uint32_t block_sectors);
int table_thin(char *buf, size_t len, const char *pool_dev, unsigned id, const char *origin_dev);
int table_snapshot(char *buf, size_t len, const char *origin_dev, const char *cow_dev);
