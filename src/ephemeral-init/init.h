/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ephemeral-init: what the boot steps share. Each step lives in the file
 * named after what it owns; main.c reads as the list of steps. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "carry.h"
#include "cmdline.h"
#include "layout.h"
#include "meminit.h"
#include "moddep.h"
#include "stackmods.h"

#ifndef TEST_HOOKS
#define TEST_HOOKS 0    /* 1 only in build/ephemeral-init-test and unit tests */
#endif
/* Fault injection, test builds only: false (and its code gone) otherwise. */
#if TEST_HOOKS
#define TEST_FAIL(c, step) ((c)->opt.test_fail == (step))
#else
#define TEST_FAIL(c, step) ((void)(c), false)
#endif

#define RUN_DIR "/run/qubes-ephemeral"
#define STATE_FILE RUN_DIR "/state"
#define STATUS_TOOL RUN_DIR "/ephemeral-status"
#define SYSROOT "/sysroot"
#define MODULES_MNT "/.modules-disk"
#define KEY_BYTES 64                       /* aes-xts with AES-256: 512 bits */
#define KEY_DESC "qubes-ephemeral:volatile"

/* Device-mapper names. dmroot is what the template's root= and fstab expect. */
#define DM_CRYPT "ephemeral-crypt"
#define DM_SWAP "ephemeral-swap"
#define DM_META "ephemeral-pool-meta"
#define DM_DATA "ephemeral-pool-data"
#define DM_POOL "ephemeral-pool"
#define DM_ROOT "dmroot"
#define DM_PRIVATE "ephemeral-private"
/* Every device we create carries the dm uuid DM_UUID_PREFIX + its name. */
#define DM_UUID_PREFIX "QUBES-EPHEMERAL-"

struct disk {
	char name[CMDLINE_DISK_NAME_MAX + 8];  /* under /dev, e.g. "xvda3" */
	dev_t dev;
	uint64_t bytes;
	unsigned lbs;                           /* logical block size */
	bool was_writable;                      /* before we set it read-only */
};

struct ctx {
	struct options opt;
	char kver[65];
	int uevent_fd;
	struct moddb *initrd_db;        /* the initramfs' own /lib/modules/KVER */
	struct moddb *carried_db;       /* CARRIED_MODULES_DIR, in our appended archive */
	struct moddb *disk_db;          /* the modules disk, once mounted */
	bool modules_mounted;
	bool disk_db_read;              /* disk_db was looked for (found or not) */
	struct disk root, private_, volatile_;
	unsigned sector_size;
	struct layout layout;
	int dm;                          /* /dev/mapper/control */
	long long start_ms;              /* CLOCK_MONOTONIC when /init started */
	bool hook;                       /* run from an initramfs-tools/dracut hook (hook.c) */
	const char *newroot;             /* where the new root is mounted; NULL = SYSROOT */
	long long step_ms;               /* ... when the last step ended (steps.c) */
	int scrub;                       /* scrub_pages_enable()'s result (memory.c) */
	struct meminit meminit;          /* the kernel's init_on_alloc / init_on_free */
	char steps[256];                 /* "name ms, ..." of the steps so far */
	char why[320];                   /* what failed, for the caller's FATAL line (step_fail) */
};

/* fatal.c: stop the boot. In ephemeral mode this is the fail-closed path:
 * one line on the console, then the VM powers off before userspace (only
 * as pid 1 or from an initramfs: elsewhere it exits 1). */
void fatal_set_ephemeral(bool on);
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatal() with ": <errno text>" appended; r is a negative errno. */
_Noreturn void fatal_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* memory.c: Xen balloon scrubbing (scrub_pages) and the kernel's own page
 * zeroing. sysroot is "" (or NULL) at boot, a fake sysfs root in tests. */
enum { SCRUB_OFF = 0, SCRUB_ON = 1, SCRUB_ABSENT = 2 };
/* SCRUB_ON when it is on (read back), SCRUB_ABSENT when there is no balloon
 * driver (not Xen), or a negative errno (-EIO: the kernel kept it off). */
int scrub_pages_enable(const char *sysroot);
/* SCRUB_ON, SCRUB_OFF, SCRUB_ABSENT or a negative errno */
int scrub_pages_read(const char *sysroot);
const char *scrub_state_name(int s);
void meminit_from_kernel_log(struct meminit *m);
/* boot.c: turns scrubbing on; in ephemeral mode a failure is the step's
 * (negative errno, c->why), otherwise only said */
int enable_scrubbing(struct ctx *c);

/* boot.c: boot steps of main.c and hook.c; each returns 0 or a negative
 * errno with c->why set: the caller stops the boot (fatal) with it */
int read_cmdline(struct ctx *c);
int start_devices(struct ctx *c);
int wait_disks(struct ctx *c);
int lock_origins(struct ctx *c);
int load_stack_modules(struct ctx *c);

/* hook.c: `ephemeral-init --hook check|setup|finish NEWROOT`, for the
 * initramfs-tools scripts and the dracut module of in-VM kernels */
int hook_main(int argc, char **argv);
/* steps.c: ms of each boot step, for the "setup done" line */
long long monotonic_ms(void);
void step_done(struct ctx *c, const char *name);
/* Records what failed in c->why ("cannot ...: <errno text>") and returns r
 * (a negative errno): steps report, only main() and hook_main() stop. */
int step_fail(struct ctx *c, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same when the sentence already says why: c->why is it, as it is;
 * returns r (-EIO when r is not negative). */
int step_refuse(struct ctx *c, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* watchdog.c: a step that makes no progress for qubes.ephemeral.watchdog
 * seconds stops the boot (fatal). step_done() kicks it. */
int watchdog_start(const struct options *o);
void watchdog_kick(const char *step);
void watchdog_stop(void);
/* test builds: qubes.ephemeral.test.hang=STEP blocks forever there */
void test_hang(const struct ctx *c, const char *step);

/* mounts.c */
int mount_early(void);
int mount_modules_disk(struct ctx *c);
int overlay_modules(struct ctx *c);
int mount_sysroot(struct ctx *c, const char *dev);
int sysroot_finish(struct ctx *c);
void modprobe_helper_off(void);
void modprobe_helper_restore(void);

/* devices.c */
int uevent_open(void);
int wait_disk(struct ctx *c, const char *name, unsigned timeout_s, bool required);
/* sysroot: NULL at boot, a fake sysfs root in tests */
int find_root_partition(const char *sysroot, const char *disk, char *out, size_t outlen);
int disk_probe(struct disk *d, const char *name);
/* One number from /sys/class/block/NAME/ATTR (e.g. "ro", "size"): 0, or
 * -errno when it cannot be read, -EINVAL when it is not a number or NAME /
 * ATTR hold a '/'. */
int block_sysfs_u64(const char *name, const char *attr, uint64_t *v);
int disk_force_readonly(struct disk *d);
int read_head(const char *devname, uint8_t *buf, size_t len);
void devname_of(dev_t dev, char *buf, size_t len);   /* "MAJ:MIN" */

/* modules.c */
int modules_init(struct ctx *c);
int modules_coldplug(struct ctx *c);
int load_module(struct ctx *c, const char *name, bool required);
int modules_use_disk(struct ctx *c);
struct modreq {
	const char *name;       /* module name or alias */
	bool required;
};
/* The storage stack's modules, loaded from RAM by a thread while the disks
 * appear (stack_modules_start after the module index, before coldplug);
 * stack_modules_wait joins it: per module 0, -ENOENT (not in RAM: load it
 * from the modules disk) or the load's error. */
void stack_modules_start(struct ctx *c);
void stack_modules_wait(int r[STACK_MODULES]);
/* Loads the list in order; on a required module's failure returns its
 * negative errno and sets *failed to its name. */
int load_modules(struct ctx *c, const struct modreq *list, size_t n, const char **failed);

/* keyring.c */
int key_load(struct ctx *c);
void key_forget(int key_id);

/* stack.c: the ephemeral storage stack */
int build_stack(struct ctx *c);

/* swap.c */
int swap_format(const char *devpath, uint64_t bytes);
int swap_enable(const char *devpath);

/* stock.c: the stock Qubes init behaviour. The variant builder
 * (qvm-ephemeral kernel, KERNEL_ORIGINAL_INIT_PATH) keeps the original
 * initramfs' /init here; without qubes.ephemeral=1 it runs instead of us. */
#define ORIGINAL_INIT "/usr/lib/qubes-ephemeral/original-init"
/* Execs ORIGINAL_INIT with argv in stock mode, before anything else is
 * done; returns in ephemeral mode, when there is none (an initramfs made
 * by initramfs-append) or when it cannot be run (said on the console). */
void stock_exec_original(char **argv);
/* Our own re-implementation of Qubes' init.sh, for those cases. */
int stock_setup(struct ctx *c);

/* newroot.c: edits inside the new (throw-away) root, state for the status tool */
int newroot_prepare(struct ctx *c);
int write_state(struct ctx *c, const char *mode);
int install_status_tool(void);

/* switch_root.c: is "/" the initramfs (ramfs or tmpfs)? Only there may
 * switch_root empty it, and only there may fatal() power off. */
bool root_is_initramfs(void);
/* Deletes everything on the file system of dirfd (not below other mounts);
 * -EPERM without touching anything when it is not a ramfs or tmpfs. */
int initramfs_empty(int dirfd);
/* switch_root.c */
_Noreturn void switch_root_exec(const char *newroot, const char *init);

/* status.c */
int status_main(int argc, char **argv);
