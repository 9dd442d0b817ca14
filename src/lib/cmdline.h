/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel command line: the options ephemeral-init reads.
 *
 * Pure parsing, no I/O, so it can be unit tested and fuzzed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDLINE_DISK_NAME_MAX 32
#define CMDLINE_PATH_MAX 256
#define CMDLINE_DEFAULT_SWAP (UINT64_C(1) << 30)     /* 1 GiB */
#define CMDLINE_DEFAULT_TIMEOUT_S 60u
#define CMDLINE_DEFAULT_WATCHDOG_S 120u

/* Fault-injection points (test builds only; see qubes.ephemeral.test.fail). */
enum fail_step {
	FAIL_NONE = 0,
	FAIL_READONLY,   /* setting an origin read-only (BLKROSET) */
	FAIL_KEY,        /* loading the key into the keyring */
	FAIL_CRYPT,      /* loading the dm-crypt table */
	FAIL_POOL,       /* loading the thin-pool table */
	FAIL_THIN,       /* loading a thin table */
	FAIL_SWAPON,
	FAIL_MOUNT,      /* mounting the new root */
	FAIL_SWITCH_ROOT,
};

struct options {
	/* qubes.ephemeral=1 (0 = off, the default) */
	bool ephemeral;
	/* qubes.ephemeral.swap=SIZE: bytes, suffix K/M/G/T (binary) or none;
	 * 0 = no swap; otherwise rounded up to 4 KiB and at least 64 KiB. */
	uint64_t swap_bytes;
	/* qubes.ephemeral.disks=ROOT,PRIVATE,VOLATILE,MODULES: names under /dev
	 * (no slashes), default xvda,xvdb,xvdc,xvdd. */
	char disk_root[CMDLINE_DISK_NAME_MAX];
	char disk_private[CMDLINE_DISK_NAME_MAX];
	char disk_volatile[CMDLINE_DISK_NAME_MAX];
	char disk_modules[CMDLINE_DISK_NAME_MAX];
	/* qubes.ephemeral.timeout=SECONDS: how long to wait for each disk (1..3600) */
	unsigned timeout_s;
	/* qubes.ephemeral.watchdog=SECONDS (5..3600, default 120): a setup step
	 * that makes no progress for this long stops the boot (fail closed);
	 * never shorter than the disk wait plus 30 s. */
	unsigned watchdog_s;
	/* qubes.ephemeral.crypt_flags=WORD[,WORD...]: dm-crypt performance options,
	 * enum crypt_flag of layout.h; words no_read_workqueue, no_write_workqueue,
	 * same_cpu_crypt, submit_from_crypt_cpus, sector512 (512-byte crypt sectors
	 * even where 4096 would do), or none. Default none. */
	unsigned crypt_flags;

	/* Standard kernel options we honour. */
	bool root_ro;                       /* "ro" / "rw", last one wins; default ro */
	char init[CMDLINE_PATH_MAX];        /* init=PATH, default "/sbin/init" */
	char rootfstype[CMDLINE_DISK_NAME_MAX]; /* rootfstype=, default "" = try ext4 */
	char rootflags[CMDLINE_PATH_MAX];   /* rootflags=, default "" */

	/* Test-only options, qubes.ephemeral.test.*: parsed only when built
	 * with TEST_HOOKS=1 (build/ephemeral-init-test, unit tests); the shipped
	 * build refuses them and contains none of their code. */
	bool test_any;          /* any qubes.ephemeral.test.* was given */
	bool test_plain;        /* qubes.ephemeral.test.plain=1: linear instead of crypt */
	bool test_keyhash;      /* qubes.ephemeral.test.keyhash=1: print sha256 of key */
	char test_hang[16];     /* qubes.ephemeral.test.hang=STEP: block forever at that step */
	enum fail_step test_fail; /* qubes.ephemeral.test.fail=readonly|key|crypt|pool|thin|swapon|mount|switch_root */
};

/* Fills *o with defaults, then applies every option of the command line
 * (the text of /proc/cmdline; a trailing newline is fine). Words may be
 * quoted as the kernel allows: name="value with spaces" (all double quotes
 * are removed). As for the kernel, words after a bare "--" are init's
 * arguments, not options, and are not looked at.
 * Returns 0, or -EINVAL with a one-line message in err (what was wrong and
 * what to write instead) for an unknown or malformed qubes.ephemeral* option,
 * an init=, rootfstype= or rootflags= value too long for its field, or an
 * empty init=. Other options are ignored. err may be NULL. */
int cmdline_parse(const char *cmdline, struct options *o, char *err, size_t errlen);

/* Parses SIZE as for qubes.ephemeral.swap: digits, then optionally one of
 * K/M/G/T (either case, binary); no "B"/"iB", no sign or blanks. *bytes is
 * set only on success. -EINVAL on junk or overflow. */
int parse_size(const char *s, uint64_t *bytes);

/* Name of a fault step for messages ("key", "crypt", ...). */
const char *fail_step_name(enum fail_step s);
