/* ephemeral-init: what the boot steps share. Each step lives in the file
 * named after what it owns; main.c reads as the list of steps. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cmdline.h"
#include "layout.h"
#include "moddep.h"

#define RUN_DIR "/run/qubes-ephemeral"
#define STATE_FILE RUN_DIR "/state"
#define STATUS_TOOL RUN_DIR "/ephemeral-status"
#define RUN_FSTAB RUN_DIR "/fstab"              /* bound over the new root's /etc/fstab */
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
	struct moddb *disk_db;          /* the modules disk, once mounted */
	bool modules_mounted;
	struct disk root, private_, volatile_;
	unsigned sector_size;
	struct layout layout;
	int dm;                          /* /dev/mapper/control */
	long long start_ms;              /* CLOCK_MONOTONIC when /init started */
	bool hook;                       /* run from an initramfs-tools/dracut hook (hook.c) */
	const char *newroot;             /* where the new root is mounted; NULL = SYSROOT */
	long long step_ms;               /* ... when the last step ended (steps.c) */
	char steps[256];                 /* "name ms, ..." of the steps so far */
};

/* main.c: stop the boot. In ephemeral mode this is the fail-closed path:
 * one line on the console, then the VM powers off before userspace. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatal() with ": <errno text>" appended; r is a negative errno. */
_Noreturn void fatal_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* main.c: boot steps that hook.c runs too; each stops the boot on failure */
void read_cmdline(struct ctx *c);
void start_devices(struct ctx *c);
void wait_disks(struct ctx *c);
void lock_origins(struct ctx *c);
void load_stack_modules(struct ctx *c);

/* hook.c: `ephemeral-init --hook check|setup|finish NEWROOT`, for the
 * initramfs-tools scripts and the dracut module of in-VM kernels */
int hook_main(int argc, char **argv);
/* steps.c: ms of each boot step, for the "setup done" line */
long long monotonic_ms(void);
void step_done(struct ctx *c, const char *name);

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
int find_root_partition(const char *disk, char *out, size_t outlen);
int disk_probe(struct disk *d, const char *name);
int disk_force_readonly(struct disk *d);
int read_head(const char *devname, uint8_t *buf, size_t len);
void devname_of(dev_t dev, char *buf, size_t len);   /* "MAJ:MIN" */

/* modules.c */
char *read_file(const char *path, size_t *len);  /* NUL-terminated; NULL if unreadable */
int modules_init(struct ctx *c);
int modules_coldplug(struct ctx *c);
int load_module(struct ctx *c, const char *name, bool required);
int modules_use_disk(struct ctx *c);
struct modreq {
	const char *name;       /* module name or alias */
	bool required;
};
/* Loads the list in order; on a required module's failure returns its
 * negative errno and sets *failed to its name. */
int load_modules(struct ctx *c, const struct modreq *list, size_t n, const char **failed);

/* keyring.c */
int key_load(bool fail_inject, bool report_hash);
void key_forget(int key_id);

/* stack.c: the ephemeral storage stack */
int build_stack(struct ctx *c);

/* swap.c */
int swap_format(const char *devpath, uint64_t bytes);
int swap_enable(const char *devpath);

/* stock.c: the stock Qubes init behaviour */
int stock_setup(struct ctx *c);

/* newroot.c: edits inside the new (throw-away) root, state for the status tool */
int newroot_prepare(struct ctx *c);
int write_state(struct ctx *c, const char *mode);
int install_status_tool(void);

/* switch_root.c */
_Noreturn void switch_root_exec(const char *newroot, const char *init);

/* status.c */
int status_main(int argc, char **argv);
