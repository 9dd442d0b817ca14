/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verdict of `ephemeral-status`: is this VM fully ephemeral? Proven from
 * the device-mapper tables and the kernel's state, not from names or from
 * what the boot wrote down. Pure: the facts are gathered elsewhere
 * (ephemeral-init/status.c), so every negative case is unit tested. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define STACK_MAX_DEVS 64
#define STACK_MAX_SWAPS 16

/* One device-mapper device with the first target of its live table
 * (our devices have one target each). */
struct stack_dev {
	char name[128];
	dev_t dev;
	char type[16];       /* "crypt", "linear", "thin-pool", "thin", ... */
	char params[512];    /* as the kernel prints them: devices as MAJ:MIN */
	unsigned targets;    /* number of targets in the table */
};

struct stack_facts {
	const char *mode;             /* "mode=" of the boot's state file, or "" */
	const char *crypt_name;       /* our names: DM_CRYPT, DM_ROOT, DM_PRIVATE */
	const char *root_name;
	const char *private_name;
	const char *key_desc;         /* the logon key's description */
	const struct stack_dev *devs;
	size_t ndevs;
	dev_t root_fs;                /* st_dev of / */
	dev_t rw_fs;                  /* st_dev of /rw when it is a mount, else 0 */
	dev_t swaps[STACK_MAX_SWAPS]; /* device each active swap lies on */
	size_t nswaps;
	bool swap_unknown;            /* a swap whose device could not be found */
	bool key_in_keyring;          /* key_desc listed in /proc/keys */
	int root_origin_ro;           /* 1 read-only, 0 writable, -1 unknown */
	int private_origin_ro;
	int scrub_pages;              /* 1 on, 0 off, -1 no balloon driver (not Xen) */
};

/* 0 when every write path is proven to land on our keyring-keyed crypt
 * device and nothing else weakens it; otherwise 1 with the first reason in
 * why ("root / is on 8:3, not on the encrypted thin device dmroot"). */
int stack_judge(const struct stack_facts *f, char *why, size_t whylen);

/* Device numbers in a table's params: the n-th whitespace-separated field
 * (0-based) parsed as MAJ:MIN. 0 or -EINVAL. */
int stack_param_dev(const char *params, unsigned n, dev_t *dev);
