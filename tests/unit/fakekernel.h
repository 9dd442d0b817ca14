/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Link-time stand-ins (ld --wrap, see tests/unit/README.md) for what the
 * boot steps ask of the kernel, so they run in a fake root (fakeroot.h)
 * with nothing reaching this machine:
 *   disks        disk_probe, disk_force_readonly, wait_disk: a table of fake
 *                disks; force_readonly can be made "not to stick"
 *   device-mapper  dm_*: devices, tables and messages recorded in memory
 *   modules      syscall(SYS_finit_module): the fake .ko's text names the
 *                module, which is logged and appears under /sys/module
 *   mount, umount2, swap_enable: recorded, never done
 *   ioctl(BLKRRPART): counted, never done (other ioctls go to the kernel)
 *   fatal, fatal_errno: back to the test (CALLS_FATAL), never power off
 * Every other syscall() goes to the kernel (the keyring's add_key/keyctl,
 * on this process' own keyring). */
#pragma once
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "dm.h"
#include "init.h"

/* ---- fatal ---- */
static jmp_buf fk_fatal_jmp;
static bool fk_fatal_armed;
static char fk_fatal_msg[1024];

_Noreturn void __wrap_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void __wrap_fatal_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

_Noreturn void __wrap_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fk_fatal_msg, sizeof(fk_fatal_msg), fmt, ap);
	va_end(ap);
	if (!fk_fatal_armed) {
		fprintf(stderr, "unexpected fatal(): %s\n", fk_fatal_msg);
		abort();
	}
	longjmp(fk_fatal_jmp, 1);
}

_Noreturn void __wrap_fatal_errno(int r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	__wrap_fatal("%s: %s", msg, strerror(r < 0 ? -r : r));
}

/* true when stmt stopped the boot (the message is in fk_fatal_msg) */
#define CALLS_FATAL(stmt) ({ \
	volatile bool fk_f_ = false; \
	fk_fatal_msg[0] = 0; \
	fk_fatal_armed = true; \
	if (setjmp(fk_fatal_jmp) == 0) { stmt; } else { fk_f_ = true; } \
	fk_fatal_armed = false; \
	fk_f_; })

/* ---- disks ---- */
struct fk_disk {
	const char *name;
	dev_t dev;
	uint64_t bytes;
	unsigned lbs;
	bool was_writable;
	bool ro_fails;        /* BLKROSET does not stick */
	bool probe_fails;
	bool absent;          /* never appears */
	bool locked;
};
static struct fk_disk fk_disks[8];
static char fk_disk_log[512];    /* "ro:xvda ro:xvda3 probe:xvdc ..." */

static void fk_log(char *log, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4), unused));
static void fk_log(char *log, size_t len, const char *fmt, ...)
{
	size_t n = strlen(log);
	va_list ap;
	if (n && n < len - 1)
		log[n++] = ' ', log[n] = 0;
	va_start(ap, fmt);
	vsnprintf(log + n, len - n, fmt, ap);
	va_end(ap);
}

static struct fk_disk *fk_disk(const char *name)
{
	for (size_t i = 0; i < sizeof(fk_disks) / sizeof(fk_disks[0]); i++)
		if (fk_disks[i].name && !strcmp(fk_disks[i].name, name) && !fk_disks[i].absent)
			return &fk_disks[i];
	return NULL;
}

static __attribute__((unused)) void fk_add_disk(const char *name, unsigned maj, unsigned min, uint64_t bytes, bool writable)
{
	for (size_t i = 0; i < sizeof(fk_disks) / sizeof(fk_disks[0]); i++)
		if (!fk_disks[i].name) {
			fk_disks[i] = (struct fk_disk){ .name = name, .dev = makedev(maj, min), .bytes = bytes,
							.lbs = 512, .was_writable = writable };
			return;
		}
	abort();
}

int __wrap_disk_probe(struct disk *d, const char *name);
int __wrap_disk_probe(struct disk *d, const char *name)
{
	struct fk_disk *k = fk_disk(name);
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	fk_log(fk_disk_log, sizeof(fk_disk_log), "probe:%s", name);
	if (!k)
		return -ENOENT;
	if (k->probe_fails)
		return -EIO;
	d->dev = k->dev;
	d->bytes = k->bytes;
	d->lbs = k->lbs;
	d->was_writable = k->was_writable && !k->locked;
	return 0;
}

int __wrap_disk_force_readonly(struct disk *d);
int __wrap_disk_force_readonly(struct disk *d)
{
	struct fk_disk *k = fk_disk(d->name);
	fk_log(fk_disk_log, sizeof(fk_disk_log), "ro:%s", d->name);
	if (!k)
		return -ENOENT;
	if (k->ro_fails)
		return -EPERM;
	k->locked = true;
	return 0;
}

int __real_wait_disk(struct ctx *c, const char *name, unsigned timeout_s, bool required);
int __wrap_wait_disk(struct ctx *c, const char *name, unsigned timeout_s, bool required);
int __wrap_wait_disk(struct ctx *c, const char *name, unsigned timeout_s, bool required)
{
	(void)c, (void)timeout_s, (void)required;
	fk_log(fk_disk_log, sizeof(fk_disk_log), "wait:%s", name);
	return fk_disk(name) ? 0 : -ETIMEDOUT;
}

/* ---- device-mapper ---- */
struct fk_dm {
	char name[DM_NAME_LEN_MAX];
	dev_t dev;
	char type[16];
	char params[512];
	uint64_t sectors;
	bool live, secure;
};
static struct fk_dm fk_dms[16];
static size_t fk_ndm;
static char fk_dm_log[2048];      /* "create:NAME load:NAME resume:NAME msg:NAME:TEXT ..." */
static const char *fk_dm_fail;    /* "load:NAME" / "create:NAME" / "resume:NAME" / "msg:NAME" fails */
static bool fk_dm_absent;         /* no /dev/mapper/control */
static int fk_dm_ctl = -1;

static struct fk_dm *fk_dm_find(const char *name)
{
	for (size_t i = 0; i < fk_ndm; i++)
		if (!strcmp(fk_dms[i].name, name))
			return &fk_dms[i];
	return NULL;
}

static bool fk_dm_fails(const char *op, const char *name)
{
	char key[200];
	snprintf(key, sizeof(key), "%s:%s", op, name);
	return fk_dm_fail && !strcmp(fk_dm_fail, key);
}

/* a device as a table read would show it (status.c's tests) */
static struct fk_dm *fk_dm_add(const char *name, dev_t dev, const char *type, const char *params)
{
	struct fk_dm *d = &fk_dms[fk_ndm++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->dev = dev;
	snprintf(d->type, sizeof(d->type), "%s", type ? type : "");
	snprintf(d->params, sizeof(d->params), "%s", params ? params : "");
	d->live = type != NULL;
	return d;
}

int __wrap_dm_open_control(void);
int __wrap_dm_open_control(void)
{
	if (fk_dm_absent)
		return -ENOENT;
	/* any fd will do: the stand-ins never use it */
	return fk_dm_ctl = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int __wrap_dm_create(int ctl, const char *name, const char *uuid, dev_t *dev);
int __wrap_dm_create(int ctl, const char *name, const char *uuid, dev_t *dev)
{
	(void)ctl, (void)uuid;
	fk_log(fk_dm_log, sizeof(fk_dm_log), "create:%s", name);
	if (fk_dm_fails("create", name))
		return -EBUSY;
	if (fk_dm_find(name))
		return -EBUSY;
	*dev = makedev(253, (unsigned)fk_ndm);
	fk_dm_add(name, *dev, NULL, NULL);
	return 0;
}

int __wrap_dm_load(int ctl, const char *name, const struct dm_target *t, size_t n, bool readonly, bool secure);
int __wrap_dm_load(int ctl, const char *name, const struct dm_target *t, size_t n, bool readonly, bool secure)
{
	(void)ctl, (void)readonly;
	struct fk_dm *d = fk_dm_find(name);
	fk_log(fk_dm_log, sizeof(fk_dm_log), "load:%s", name);
	if (!d || n != 1)
		return -ENXIO;
	if (fk_dm_fails("load", name))
		return -EINVAL;
	snprintf(d->type, sizeof(d->type), "%s", t->type);
	snprintf(d->params, sizeof(d->params), "%s", t->params);
	d->sectors = t->length;
	d->secure = secure;
	return 0;
}

int __wrap_dm_resume(int ctl, const char *name);
int __wrap_dm_resume(int ctl, const char *name)
{
	(void)ctl;
	struct fk_dm *d = fk_dm_find(name);
	fk_log(fk_dm_log, sizeof(fk_dm_log), "resume:%s", name);
	if (!d || fk_dm_fails("resume", name))
		return -ENXIO;
	d->live = true;
	return 0;
}

int __wrap_dm_message(int ctl, const char *name, uint64_t sector, const char *msg);
int __wrap_dm_message(int ctl, const char *name, uint64_t sector, const char *msg)
{
	(void)ctl, (void)sector;
	fk_log(fk_dm_log, sizeof(fk_dm_log), "msg:%s:%s", name, msg);
	if (!fk_dm_find(name) || fk_dm_fails("msg", name))
		return -EINVAL;
	return 0;
}

/* a regular file under /dev/mapper: the steps write into it (swap header,
 * zeroed metadata) as into the device */
int __wrap_dm_make_node(const char *name, dev_t dev);
int __wrap_dm_make_node(const char *name, dev_t dev)
{
	(void)dev;
	char path[256];
	snprintf(path, sizeof(path), "/dev/mapper/%s", name);
	mkdir("/dev", 0755);
	mkdir("/dev/mapper", 0755);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int __wrap_dm_devno(int ctl, const char *name, dev_t *dev);
int __wrap_dm_devno(int ctl, const char *name, dev_t *dev)
{
	(void)ctl;
	struct fk_dm *d = fk_dm_find(name);
	if (!d)
		return -ENXIO;
	*dev = d->dev;
	return 0;
}

static bool fk_dm_list_fails;
int __wrap_dm_list(int ctl, struct dm_name_dev *out, size_t max);
int __wrap_dm_list(int ctl, struct dm_name_dev *out, size_t max)
{
	(void)ctl;
	if (fk_dm_list_fails)
		return -EIO;
	if (fk_ndm > max)
		return -ENOBUFS;
	for (size_t i = 0; i < fk_ndm; i++) {
		snprintf(out[i].name, sizeof(out[i].name), "%s", fk_dms[i].name);
		out[i].dev = fk_dms[i].dev;
	}
	return (int)fk_ndm;
}

static const char *fk_pool_status = "1 120/4096 3000/163840 - rw discard_passdown queue_if_no_space - 1024";
int __wrap_dm_query(int ctl, const char *name, bool status, bool secure, char *type_out, char *out, size_t outlen);
int __wrap_dm_query(int ctl, const char *name, bool status, bool secure, char *type_out, char *out, size_t outlen)
{
	(void)ctl, (void)secure;
	struct fk_dm *d = fk_dm_find(name);
	if (!d)
		return -ENXIO;
	if (!d->live)
		return -ENODATA;
	if (type_out)
		snprintf(type_out, 16, "%s", d->type);
	snprintf(out, outlen, "%s", status && !strcmp(d->type, "thin-pool") ? fk_pool_status :
		 status ? "" : d->params);
	return 1;
}

/* ---- modules, keyring ---- */
static char fk_mod_log[1024];     /* modules in the order they were loaded */
static const char *fk_mod_refused; /* a module the kernel refuses (no such CPU) */
static char fk_key_log[256];      /* "add:logon:DESC invalidate" */

long __real_syscall(long n, ...);
long __wrap_syscall(long n, ...);
long __wrap_syscall(long n, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_finit_module) {
		/* the fake module file's text is its name */
		char name[64] = "", path[128];
		ssize_t got = pread((int)a[0], name, sizeof(name) - 1, 0);
		name[got > 0 ? got : 0] = 0;
		name[strcspn(name, "\n")] = 0;
		if (fk_mod_refused && !strcmp(fk_mod_refused, name)) {
			errno = ENODEV;
			return -1;
		}
		/* compressed modules ask the kernel to decompress them; the
		 * stack's loader thread and coldplug load side by side */
		static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
		pthread_mutex_lock(&lock);
		fk_log(fk_mod_log, sizeof(fk_mod_log), "%s%s", name, a[2] ? "(compressed)" : "");
		pthread_mutex_unlock(&lock);
		snprintf(path, sizeof(path), "/sys/module/%s", name);
		mkdir("/sys", 0755);
		mkdir("/sys/module", 0755);
		mkdir(path, 0755);
		return 0;
	}
	if (n == SYS_add_key)
		fk_log(fk_key_log, sizeof(fk_key_log), "add:%s:%s", (const char *)a[0], (const char *)a[1]);
	if (n == SYS_keyctl && a[0] == 21 /* KEYCTL_INVALIDATE */)
		fk_log(fk_key_log, sizeof(fk_key_log), "invalidate");
	return __real_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- block ioctls: a partition table re-read succeeds; the rest go to
 * the kernel (where a regular file refuses them) ---- */
#include <linux/fs.h>
static int fk_rrpart;        /* BLKRRPART calls */
int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (req == BLKRRPART) {
		fk_rrpart++;
		return 0;
	}
	return __real_ioctl(fd, req, arg);
}

/* ---- mounts, swap ---- */
static char fk_mount_log[2048];
static const char *fk_mount_fail;     /* a target whose mount fails */
static char fk_swap_log[256];
static int fk_swap_err;

int __wrap_mount(const char *src, const char *dst, const char *type, unsigned long flags, const void *data);
int __wrap_mount(const char *src, const char *dst, const char *type, unsigned long flags, const void *data)
{
	fk_log(fk_mount_log, sizeof(fk_mount_log), "[%s %s %s %#lx %s]", src ? src : "-", dst, type ? type : "-",
	       flags, data ? (const char *)data : "-");
	if (fk_mount_fail && !strcmp(fk_mount_fail, dst)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int __wrap_umount2(const char *target, int flags);
int __wrap_umount2(const char *target, int flags)
{
	fk_log(fk_mount_log, sizeof(fk_mount_log), "[umount %s %d]", target, flags);
	return 0;
}

int __wrap_swap_enable(const char *devpath);
int __wrap_swap_enable(const char *devpath)
{
	fk_log(fk_swap_log, sizeof(fk_swap_log), "swapon:%s", devpath);
	return fk_swap_err;
}

static __attribute__((unused)) void fk_reset(void)
{
	memset(fk_disks, 0, sizeof(fk_disks));
	memset(fk_dms, 0, sizeof(fk_dms));
	fk_ndm = 0;
	fk_disk_log[0] = fk_dm_log[0] = fk_mod_log[0] = fk_key_log[0] = fk_mount_log[0] = fk_swap_log[0] = 0;
	fk_dm_fail = NULL;
	fk_dm_absent = fk_dm_list_fails = false;
	fk_mod_refused = NULL;
	fk_mount_fail = NULL;
	fk_swap_err = 0;
	fk_rrpart = 0;
	fk_dm_ctl = -1;   /* the steps close it themselves, or it is left to exit */
}
