/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "dm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fileio.h"
#include "scan.h"

#define DM_BUF_SIZE 16384
#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

/* The kernel encodes dm_ioctl.dev as huge_encode_dev(). */
static dev_t decode_dev(uint64_t d)
{
	unsigned major = (d & 0xfff00) >> 8;
	unsigned minor = (d & 0xff) | ((d >> 12) & 0xfff00);
	return makedev(major, minor);
}

static int set_name(struct dm_ioctl *io, const char *name)
{
	if (!name || !*name || strlen(name) >= sizeof(io->name))
		return -ENAMETOOLONG;
	strcpy(io->name, name);
	return 0;
}

static void init_io(struct dm_ioctl *io, size_t size)
{
	memset(io, 0, size);
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	io->data_size = size;
	io->data_start = sizeof(*io);
}

static int do_ioctl(int ctl, unsigned long cmd, struct dm_ioctl *io)
{
	if (ioctl(ctl, cmd, io) < 0)
		return -errno;
	return 0;
}

int dm_open_control(void)
{
	int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	/* devtmpfs normally has it; if not, make it from the misc device's numbers. */
	char *txt;
	size_t len;
	unsigned maj, min;
	int r = read_file_full("/sys/class/misc/device-mapper/dev", 64, &txt, &len);
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	const char *q = txt;
	r = scan_devnum(&q, &maj, &min);
	free(txt);
	if (r < 0)
		return -EINVAL;
	mkdir("/dev/mapper", 0755);
	unlink("/dev/mapper/control");
	if (mknod("/dev/mapper/control", S_IFCHR | 0600, makedev(maj, min)) < 0)
		return -errno;
	fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int dm_create(int ctl, const char *name, const char *uuid, dev_t *dev)
{
	struct dm_ioctl io;
	int r;

	init_io(&io, sizeof(io));
	if ((r = set_name(&io, name)) < 0)
		return r;
	if (uuid) {
		if (strlen(uuid) >= sizeof(io.uuid))
			return -ENAMETOOLONG;
		strcpy(io.uuid, uuid);
	}
	if ((r = do_ioctl(ctl, DM_DEV_CREATE, &io)) < 0)
		return r;
	if (dev)
		*dev = decode_dev(io.dev);
	return 0;
}

int dm_load(int ctl, const char *name, const struct dm_target *t, size_t n,
	    bool readonly, bool secure)
{
	size_t need = ALIGN8(sizeof(struct dm_ioctl));
	for (size_t i = 0; i < n; i++)
		need += ALIGN8(sizeof(struct dm_target_spec) + strlen(t[i].params) + 1);

	char *buf = calloc(1, need);
	if (!buf)
		return -ENOMEM;
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	int r;

	init_io(io, need);
	io->data_start = ALIGN8(sizeof(*io));
	io->target_count = n;
	io->flags = (readonly ? DM_READONLY_FLAG : 0) | (secure ? DM_SECURE_DATA_FLAG : 0);
	if ((r = set_name(io, name)) < 0)
		goto out;

	size_t off = io->data_start;
	for (size_t i = 0; i < n; i++) {
		struct dm_target_spec *sp = (struct dm_target_spec *)(buf + off);
		size_t len = ALIGN8(sizeof(*sp) + strlen(t[i].params) + 1);
		if (strlen(t[i].type) >= sizeof(sp->target_type)) {
			r = -EINVAL;
			goto out;
		}
		sp->sector_start = t[i].start;
		sp->length = t[i].length;
		strcpy(sp->target_type, t[i].type);
		strcpy((char *)(sp + 1), t[i].params);
		sp->next = len;
		off += len;
	}
	r = do_ioctl(ctl, DM_TABLE_LOAD, io);
out:
	/* The params may hold key material (or at least key references). */
	explicit_bzero(buf, need);
	free(buf);
	return r;
}

int dm_resume(int ctl, const char *name)
{
	struct dm_ioctl io;
	int r;

	init_io(&io, sizeof(io));
	if ((r = set_name(&io, name)) < 0)
		return r;
	return do_ioctl(ctl, DM_DEV_SUSPEND, &io);
}

int dm_remove(int ctl, const char *name)
{
	struct dm_ioctl io;
	int r;

	init_io(&io, sizeof(io));
	if ((r = set_name(&io, name)) < 0)
		return r;
	return do_ioctl(ctl, DM_DEV_REMOVE, &io);
}

int dm_message(int ctl, const char *name, uint64_t sector, const char *msg)
{
	size_t need = ALIGN8(sizeof(struct dm_ioctl)) + sizeof(struct dm_target_msg) + strlen(msg) + 1;
	char *buf = calloc(1, need);
	if (!buf)
		return -ENOMEM;
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	int r;

	init_io(io, need);
	io->data_start = ALIGN8(sizeof(*io));
	if ((r = set_name(io, name)) == 0) {
		struct dm_target_msg *m = (struct dm_target_msg *)(buf + io->data_start);
		m->sector = sector;
		strcpy(m->message, msg);
		r = do_ioctl(ctl, DM_TARGET_MSG, io);
	}
	free(buf);
	return r;
}

int dm_query(int ctl, const char *name, bool status, bool secure,
	     char *type_out, char *out, size_t outlen)
{
	char *buf = calloc(1, DM_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	int r;

	init_io(io, DM_BUF_SIZE);
	io->flags = (status ? 0 : DM_STATUS_TABLE_FLAG) | (secure ? DM_SECURE_DATA_FLAG : 0);
	if ((r = set_name(io, name)) < 0)
		goto out;
	if ((r = do_ioctl(ctl, DM_TABLE_STATUS, io)) < 0)
		goto out;
	if (io->flags & DM_BUFFER_FULL_FLAG) {
		r = -ENOBUFS;
		goto out;
	}
	if (io->target_count < 1) {
		r = -ENODATA;
		goto out;
	}
	struct dm_target_spec *sp = (struct dm_target_spec *)(buf + io->data_start);
	if (type_out)
		snprintf(type_out, sizeof(sp->target_type), "%s", sp->target_type);
	snprintf(out, outlen, "%s", (char *)(sp + 1));
	r = (int)io->target_count;
out:
	explicit_bzero(buf, DM_BUF_SIZE);
	free(buf);
	return r;
}

int dm_devno(int ctl, const char *name, dev_t *dev)
{
	struct dm_ioctl io;
	int r;

	init_io(&io, sizeof(io));
	if ((r = set_name(&io, name)) < 0)
		return r;
	if ((r = do_ioctl(ctl, DM_DEV_STATUS, &io)) < 0)
		return r;
	*dev = decode_dev(io.dev);
	return 0;
}

int dm_exists(int ctl, const char *name)
{
	dev_t dev;
	int r = dm_devno(ctl, name, &dev);
	if (r == -ENXIO)
		return 0;
	return r < 0 ? r : 1;
}

int dm_make_node(const char *name, dev_t dev)
{
	char path[sizeof("/dev/mapper/") + DM_NAME_LEN_MAX], target[32];

	/* devtmpfs made /dev/dm-MINOR; link to it as udev would, so the udev of
	 * the new root finds its own kind of entry and simply keeps it */
	snprintf(path, sizeof(path), "/dev/mapper/%s", name);
	snprintf(target, sizeof(target), "../dm-%u", minor(dev));
	mkdir("/dev/mapper", 0755);
	unlink(path);
	if (symlink(target, path) < 0)
		return -errno;
	return 0;
}

int dm_list(int ctl, struct dm_name_dev *out, size_t max)
{
	char *buf = calloc(1, DM_BUF_SIZE);
	if (!buf)
		return -ENOMEM;
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	size_t n = 0;
	int r;

	init_io(io, DM_BUF_SIZE);
	if ((r = do_ioctl(ctl, DM_LIST_DEVICES, io)) < 0)
		goto out;
	if (io->flags & DM_BUFFER_FULL_FLAG) {
		r = -ENOBUFS;
		goto out;
	}
	/* a chain of dm_name_list records, each `next` bytes after the last;
	 * none at all when dev is 0 */
	size_t off = io->data_start;
	for (;;) {
		if (off + sizeof(struct dm_name_list) > io->data_size)
			break;
		struct dm_name_list *nl = (struct dm_name_list *)(buf + off);
		if (!nl->dev)
			break;
		if (n == max) {
			r = -ENOBUFS;
			goto out;
		}
		snprintf(out[n].name, sizeof(out[n].name), "%.*s",
			 (int)strnlen(nl->name, io->data_size - off - sizeof(*nl)), nl->name);
		out[n].dev = decode_dev(nl->dev);
		n++;
		if (!nl->next)
			break;
		off += nl->next;
	}
	r = (int)n;
out:
	free(buf);
	return r;
}
