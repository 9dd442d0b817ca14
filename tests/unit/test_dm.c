/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/dm.c: the device-mapper ioctl buffers, read back the way the kernel
 * reads them (linux/dm-ioctl.h), by a stand-in for ioctl() that keeps a
 * small table of devices: names, numbers, table lines and their flags,
 * messages, status and list replies (with the kernel's encodings), and the
 * refusals (buffer full, no such device, names too long).
 * ld-wrap: ioctl
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "dm.h"
#include "fakeroot.h"

/* ---- a device-mapper that lives in this process ---- */
struct kdev {
	char name[DM_NAME_LEN];
	char uuid[DM_UUID_LEN];
	unsigned minor;
	char type[DM_MAX_TYPE_NAME];
	char params[512];
	uint64_t start, length;
	unsigned targets;
	uint32_t load_flags;
	bool live;
	char msg[256];
	uint64_t msg_sector;
};
static struct kdev kdevs[8];
static size_t nkdev;
static bool buffer_full;     /* the next reply does not fit */
static int fake_ctl = 1000;  /* the fd the stand-in answers to */

static uint64_t encode(unsigned maj, unsigned min)
{
	return (min & 0xff) | (maj << 8) | ((uint64_t)(min & ~0xffu) << 12);
}

static struct kdev *kfind(const char *name)
{
	for (size_t i = 0; i < nkdev; i++)
		if (!strcmp(kdevs[i].name, name))
			return &kdevs[i];
	return NULL;
}

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	struct dm_ioctl *io = va_arg(ap, struct dm_ioctl *);
	va_end(ap);
	if (fd != fake_ctl)
		return __real_ioctl(fd, req, io);
	char *buf = (char *)io;
	/* what the kernel checks first */
	assert_int_equal(io->version[0], DM_VERSION_MAJOR);
	assert_true(io->data_size >= sizeof(*io));
	assert_true(io->data_start >= sizeof(*io) && io->data_start <= io->data_size);
	assert_true(strnlen(io->name, sizeof(io->name)) < sizeof(io->name));
	struct kdev *d = kfind(io->name);
	if (req != DM_DEV_CREATE && req != DM_LIST_DEVICES && !d) {
		errno = ENXIO;
		return -1;
	}
	switch (req) {
	case DM_DEV_CREATE:
		if (d) {
			errno = EBUSY;
			return -1;
		}
		d = &kdevs[nkdev++];
		memset(d, 0, sizeof(*d));
		snprintf(d->name, sizeof(d->name), "%s", io->name);
		snprintf(d->uuid, sizeof(d->uuid), "%s", io->uuid);
		d->minor = 300 + (unsigned)nkdev;   /* above 255: the split encoding */
		io->dev = encode(253, d->minor);
		return 0;
	case DM_TABLE_LOAD: {
		/* walk the target specs as the kernel does: each `next` bytes on */
		size_t off = io->data_start;
		d->targets = io->target_count;
		d->load_flags = io->flags;
		for (unsigned i = 0; i < io->target_count; i++) {
			struct dm_target_spec *sp = (struct dm_target_spec *)(buf + off);
			assert_true(off + sizeof(*sp) <= io->data_size);
			assert_int_equal(sp->next % 8, 0);
			const char *params = (const char *)(sp + 1);
			assert_true(strnlen(params, io->data_size - off - sizeof(*sp)) < io->data_size - off - sizeof(*sp));
			if (i == 0) {
				snprintf(d->type, sizeof(d->type), "%s", sp->target_type);
				snprintf(d->params, sizeof(d->params), "%s", params);
				d->start = sp->sector_start, d->length = sp->length;
			}
			off += sp->next;
		}
		assert_true(off <= io->data_size);
		return 0;
	}
	case DM_DEV_SUSPEND:
		d->live = true;
		return 0;
	case DM_DEV_REMOVE:
		*d = kdevs[--nkdev];
		return 0;
	case DM_DEV_STATUS:
		io->dev = encode(253, d->minor);
		return 0;
	case DM_TARGET_MSG: {
		struct dm_target_msg *m = (struct dm_target_msg *)(buf + io->data_start);
		snprintf(d->msg, sizeof(d->msg), "%s", m->message);
		d->msg_sector = m->sector;
		return 0;
	}
	case DM_TABLE_STATUS: {
		if (buffer_full) {
			io->flags |= DM_BUFFER_FULL_FLAG;
			return 0;
		}
		io->target_count = d->live ? d->targets : 0;
		struct dm_target_spec *sp = (struct dm_target_spec *)(buf + io->data_start);
		snprintf(sp->target_type, sizeof(sp->target_type), "%s", d->type);
		snprintf((char *)(sp + 1), io->data_size - io->data_start - sizeof(*sp), "%s",
			 io->flags & DM_STATUS_TABLE_FLAG ? d->params : "0 1/2 3/4");
		return 0;
	}
	case DM_LIST_DEVICES: {
		if (buffer_full) {
			io->flags |= DM_BUFFER_FULL_FLAG;
			return 0;
		}
		size_t off = io->data_start;
		struct dm_name_list *nl = NULL;
		for (size_t i = 0; i < nkdev; i++) {
			nl = (struct dm_name_list *)(buf + off);
			nl->dev = encode(253, kdevs[i].minor);
			strcpy(nl->name, kdevs[i].name);
			/* the kernel puts event_nr and flags after the name */
			nl->next = (uint32_t)((offsetof(struct dm_name_list, name) + strlen(kdevs[i].name) + 1 + 8 + 7) & ~7u);
			off += nl->next;
		}
		if (nl)
			nl->next = 0;
		return 0;
	}
	}
	errno = ENOTTY;
	return -1;
}

static int reset(void **state)
{
	(void)state;
	nkdev = 0;
	buffer_full = false;
	return 0;
}

static void create_load_resume(void **state)
{
	(void)state;
	dev_t dev;
	struct dm_target t = { .start = 0, .length = 2048, .type = "crypt",
			       .params = "aes-xts-plain64 :64:logon:qubes-ephemeral:volatile 0 202:32 0" };
	assert_int_equal(dm_create(fake_ctl, "ephemeral-crypt", "QUBES-EPHEMERAL-ephemeral-crypt", &dev), 0);
	/* the kernel's split encoding of minors above 255, decoded */
	assert_int_equal(major(dev), 253);
	assert_int_equal(minor(dev), 301);
	assert_string_equal(kdevs[0].uuid, "QUBES-EPHEMERAL-ephemeral-crypt");
	assert_int_equal(dm_load(fake_ctl, "ephemeral-crypt", &t, 1, false, true), 0);
	assert_string_equal(kdevs[0].type, "crypt");
	assert_string_equal(kdevs[0].params, t.params);
	assert_int_equal(kdevs[0].length, 2048);
	assert_int_equal(kdevs[0].load_flags, DM_SECURE_DATA_FLAG);
	assert_int_equal(dm_resume(fake_ctl, "ephemeral-crypt"), 0);
	assert_true(kdevs[0].live);
	/* several targets, read-only */
	struct dm_target two[] = { { 0, 8, "linear", "202:0 0" }, { 8, 8, "zero", "" } };
	assert_int_equal(dm_create(fake_ctl, "two", NULL, NULL), 0);
	assert_int_equal(dm_load(fake_ctl, "two", two, 2, true, false), 0);
	assert_int_equal(kdevs[1].targets, 2);
	assert_int_equal(kdevs[1].load_flags, DM_READONLY_FLAG);
	/* refusals */
	assert_int_equal(dm_create(fake_ctl, "two", NULL, &dev), -EBUSY);
	assert_int_equal(dm_load(fake_ctl, "nosuch", &t, 1, false, false), -ENXIO);
	assert_int_equal(dm_resume(fake_ctl, "nosuch"), -ENXIO);
	struct dm_target bad = { 0, 8, "a-target-type-name-far-too-long-for-the-kernel", "" };
	assert_int_equal(dm_load(fake_ctl, "two", &bad, 1, false, false), -EINVAL);
	char longname[200];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(dm_create(fake_ctl, longname, NULL, &dev), -ENAMETOOLONG);
	assert_int_equal(dm_create(fake_ctl, "", NULL, &dev), -ENAMETOOLONG);
	assert_int_equal(dm_create(fake_ctl, "ok", longname, &dev), -ENAMETOOLONG);
	assert_int_equal(dm_load(fake_ctl, longname, &t, 1, false, false), -ENAMETOOLONG);
	assert_int_equal(dm_resume(fake_ctl, longname), -ENAMETOOLONG);
	assert_int_equal(dm_remove(fake_ctl, longname), -ENAMETOOLONG);
	assert_int_equal(dm_message(fake_ctl, longname, 0, "x"), -ENAMETOOLONG);
	assert_int_equal(dm_devno(fake_ctl, longname, &dev), -ENAMETOOLONG);
	assert_int_equal(dm_query(fake_ctl, longname, false, false, NULL, longname, 10), -ENAMETOOLONG);
	/* a real fd that is no control device */
	assert_int_equal(dm_resume(0, "x"), -ENOTTY);
}

static void message_query_devno_remove(void **state)
{
	(void)state;
	dev_t dev;
	char type[16], out[512];
	struct dm_target t = { 0, 4096, "thin-pool", "253:1 253:2 128 0 1 skip_block_zeroing" };
	assert_int_equal(dm_create(fake_ctl, "pool", NULL, NULL), 0);
	assert_int_equal(dm_load(fake_ctl, "pool", &t, 1, false, false), 0);
	/* loaded but not live: no table to read */
	assert_int_equal(dm_query(fake_ctl, "pool", false, false, type, out, sizeof(out)), -ENODATA);
	assert_int_equal(dm_resume(fake_ctl, "pool"), 0);
	assert_int_equal(dm_message(fake_ctl, "pool", 0, "create_thin 7"), 0);
	assert_string_equal(kdevs[0].msg, "create_thin 7");
	assert_int_equal(dm_message(fake_ctl, "nosuch", 0, "x"), -ENXIO);
	assert_int_equal(dm_query(fake_ctl, "pool", false, true, type, out, sizeof(out)), 1);
	assert_string_equal(type, "thin-pool");
	assert_string_equal(out, t.params);
	assert_int_equal(dm_query(fake_ctl, "pool", true, false, NULL, out, sizeof(out)), 1);
	assert_string_equal(out, "0 1/2 3/4");
	buffer_full = true;
	assert_int_equal(dm_query(fake_ctl, "pool", true, false, NULL, out, sizeof(out)), -ENOBUFS);
	buffer_full = false;
	assert_int_equal(dm_query(fake_ctl, "nosuch", true, false, NULL, out, sizeof(out)), -ENXIO);
	assert_int_equal(dm_devno(fake_ctl, "pool", &dev), 0);
	assert_int_equal(dev, makedev(253, 301));
	assert_int_equal(dm_exists(fake_ctl, "pool"), 1);
	assert_int_equal(dm_exists(fake_ctl, "nosuch"), 0);
	assert_int_equal(dm_exists(0, "pool"), -ENOTTY);
	assert_int_equal(dm_remove(fake_ctl, "pool"), 0);
	assert_int_equal(dm_exists(fake_ctl, "pool"), 0);
}

static void list(void **state)
{
	(void)state;
	struct dm_name_dev names[4];
	assert_int_equal(dm_list(fake_ctl, names, 4), 0);
	static const char *const n[] = { "ephemeral-crypt", "ephemeral-pool", "dmroot" };
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(dm_create(fake_ctl, n[i], NULL, NULL), 0);
	assert_int_equal(dm_list(fake_ctl, names, 4), 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(names[i].name, n[i]);
		assert_int_equal(names[i].dev, makedev(253, 301 + i));
	}
	assert_int_equal(dm_list(fake_ctl, names, 2), -ENOBUFS);
	buffer_full = true;
	assert_int_equal(dm_list(fake_ctl, names, 4), -ENOBUFS);
	assert_int_equal(dm_list(0, names, 4), -ENOTTY);
}

/* the /dev side, in a fake root: udev-style links, the control node */
static void nodes(void **state)
{
	(void)state;
	char target[64];
	if (!fr_enter())
		skip();
	mkdir("/dev", 0755);
	assert_int_equal(dm_make_node("dmroot", makedev(253, 300)), 0);
	ssize_t n = readlink("/dev/mapper/dmroot", target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = 0;
	assert_string_equal(target, "../dm-300");
	assert_int_equal(dm_make_node("dmroot", makedev(253, 5)), 0);   /* a stale link replaced */
	assert_int_equal(dm_open_control(), -ENOENT);
	fr_write("/sys/class/misc/device-mapper/dev", "junk\n");
	assert_int_equal(dm_open_control(), -EINVAL);
	/* made from the misc device's numbers when devtmpfs has none (here
	 * /dev/null's, 1:3, so the node made is harmless) */
	fr_write("/sys/class/misc/device-mapper/dev", "1:3\n");
	int fd = dm_open_control();
	if (fd == -EPERM) {   /* no mknod in a user namespace */
		fr_leave();
		skip();
	}
	assert_true(fd >= 0);
	close(fd);
	struct stat st;
	assert_int_equal(stat("/dev/mapper/control", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	fd = dm_open_control();
	assert_true(fd >= 0);
	close(fd);
	fr_leave();
}

static int leave(void **state)
{
	(void)state;
	fr_leave();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(create_load_resume, reset),
		cmocka_unit_test_setup(message_query_devno_remove, reset),
		cmocka_unit_test_setup(list, reset),
		cmocka_unit_test_setup_teardown(nodes, reset, leave),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
