/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Device-mapper through raw ioctls on /dev/mapper/control (linux/dm-ioctl.h):
 * no libdevmapper, no udev. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One line of a table: "start length type params". */
struct dm_target {
	uint64_t start;      /* sectors */
	uint64_t length;     /* sectors */
	const char *type;    /* "crypt", "linear", "thin-pool", ... */
	const char *params;
};

#define DM_NAME_LEN_MAX 128

/* Opens /dev/mapper/control (creating the node from /sys/class/misc if
 * devtmpfs did not). Returns an fd or a negative errno. */
int dm_open_control(void);

/* Creates device `name` (no table yet); *dev gets its device number. */
int dm_create(int ctl, const char *name, const char *uuid, dev_t *dev);
/* Loads a table into the inactive slot. `secure` sets DM_SECURE_DATA_FLAG so
 * the kernel wipes its copy of the ioctl buffer (use for key-bearing tables;
 * our own buffer is wiped before return either way). */
int dm_load(int ctl, const char *name, const struct dm_target *t, size_t n,
	    bool readonly, bool secure);
/* Resumes the device, making the loaded table live. */
int dm_resume(int ctl, const char *name);
int dm_remove(int ctl, const char *name);
/* Sends a target message, e.g. "create_thin 0" to a thin-pool. */
int dm_message(int ctl, const char *name, uint64_t sector, const char *msg);
/* Reads the table (status=false) or the status (status=true) of the first
 * target into out (NUL-terminated), with its type in type_out (may be NULL,
 * 16 bytes). The kernel prints a keyring key as ":len:type:desc" and a hex key
 * as hex, so a table read shows whether a key is held only by the kernel.
 * `secure` sets DM_SECURE_DATA_FLAG so the kernel wipes its buffer copy.
 * Returns the number of targets in the table (>= 1) or a negative errno. */
int dm_query(int ctl, const char *name, bool status, bool secure,
	     char *type_out, char *out, size_t outlen);
/* Is there a device of this name? 1 yes, 0 no, <0 error. */
int dm_exists(int ctl, const char *name);
/* dev_t of an existing device. */
int dm_devno(int ctl, const char *name, dev_t *dev);

/* /dev/mapper/NAME -> ../dm-MINOR (replacing a stale entry). */
int dm_make_node(const char *name, dev_t dev);

/* Names and device numbers of every device-mapper device, at most max
 * (more are -ENOBUFS). Returns the count or a negative errno. */
struct dm_name_dev {
	char name[DM_NAME_LEN_MAX];
	dev_t dev;
};
int dm_list(int ctl, struct dm_name_dev *out, size_t max);
