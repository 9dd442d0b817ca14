/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Swap: our own header (no mkswap in the boot path) and swapon. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/swap.h>
#include <unistd.h>

#include "fileio.h"
#include "init.h"
#include "swaphdr.h"

int swap_format(const char *devpath, uint64_t bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t uuid[16];
	int r;

	if (page < 4096)
		page = 4096;
	void *buf = calloc(1, (size_t)page);
	if (!buf)
		return -ENOMEM;
	if (getrandom(uuid, sizeof(uuid), 0) != (ssize_t)sizeof(uuid)) {
		free(buf);
		return -EIO;
	}
	uuid[6] = (uuid[6] & 0x0f) | 0x40;   /* a version 4 UUID */
	uuid[8] = (uuid[8] & 0x3f) | 0x80;
	if ((r = swap_header_build(buf, (size_t)page, bytes, uuid, "ephemeral")) < 0) {
		free(buf);
		return r;
	}
	int fd = open(devpath, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(buf);
		return r;
	}
	r = pwrite_full(fd, buf, (size_t)page, 0);
	if (!r && fsync(fd) < 0)
		r = -errno;
	close(fd);
	free(buf);
	return r;
}

int swap_enable(const char *devpath)
{
	/* discard: freed swap pages are passed down to the pool as discards */
	if (swapon(devpath, SWAP_FLAG_DISCARD) < 0 && swapon(devpath, 0) < 0)
		return -errno;
	return 0;
}
