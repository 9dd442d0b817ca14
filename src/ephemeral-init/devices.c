/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Block devices: waiting for them by kernel event, finding the root
 * partition as Qubes does, sizes, and forcing origins read-only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fileio.h"
#include "init.h"
#include "log.h"
#include "scan.h"
#include "uevent.h"

int uevent_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -errno;
	int sz = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Drains pending events; they only tell us "something changed, look again". */
static void uevent_drain(int fd)
{
	char buf[8192];
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static bool disk_present(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/%s", name);
	return stat(path, &st) == 0 && S_ISBLK(st.st_mode);
}

int wait_disk(struct ctx *c, const char *name, unsigned timeout_s, bool required)
{
	long long deadline = monotonic_ms() + timeout_s * 1000LL;
	bool said = false;

	for (;;) {
		if (disk_present(name)) {
			/* Opening the disk waits for its partition scan to finish (the
			 * scan holds the disk's open lock), so partitions exist after. */
			char path[128];
			snprintf(path, sizeof(path), "/dev/%s", name);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0)
				close(fd);
			return 0;
		}
		long long left = deadline - monotonic_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (!said && required) {
			log_info("waiting for /dev/%s", name);
			said = true;
		}
		struct pollfd p = { .fd = c->uevent_fd, .events = POLLIN };
		if (poll(&p, 1, left > 1000 ? 1000 : (int)left) > 0)
			uevent_drain(c->uevent_fd);
		/* a new device may be a bus that needs its driver loaded */
		modules_coldplug(c);
	}
}

/* Qubes' rule: the partition named "Root filesystem", else partition 3 if it
 * exists, else the whole disk. */
int find_root_partition(const char *sysroot, const char *disk, char *out, size_t outlen)
{
	if (!sysroot)
		sysroot = "";
	char path[600], text[4096];
	char third[300] = "";
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/sys/class/block/%s", sysroot, disk);
	if (!(d = opendir(path)))
		return -errno;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, disk, strlen(disk)) != 0 || !e->d_name[strlen(disk)])
			continue;
		snprintf(path, sizeof(path), "%s/sys/class/block/%s/%s/uevent", sysroot, disk, e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		/* a sysfs attribute is at most a page; a refused value (-EBADMSG)
		 * only leaves that field unset, so the result is not needed */
		size_t n = fread(text, 1, sizeof(text), f);
		fclose(f);
		struct uevent ev;
		(void)uevent_parse(text, n, &ev);
		if (strcmp(ev.partname, "Root filesystem") == 0) {
			snprintf(out, outlen, "%s", e->d_name);
			closedir(d);
			return 0;
		}
		if (ev.partn == 3)
			snprintf(third, sizeof(third), "%s", e->d_name);
	}
	closedir(d);
	snprintf(out, outlen, "%s", third[0] ? third : disk);
	return 0;
}

int block_sysfs_u64(const char *name, const char *attr, uint64_t *v)
{
	char path[256];
	if (!*name || strchr(name, '/') || strchr(attr, '/'))
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/class/block/%s/%s", name, attr);
	char *txt;
	size_t len;
	uint64_t x;
	int r = read_file_full(path, 64, &txt, &len);
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	const char *q = txt;
	r = scan_u64(&q, &x);
	free(txt);
	if (r < 0)
		return -EINVAL;
	*v = x;
	return 0;
}

int disk_probe(struct disk *d, const char *name)
{
	char path[128];
	struct stat st;
	int r;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(path, sizeof(path), "/dev/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int ro = 0, lbs = 512;
	if (fstat(fd, &st) < 0 || ioctl(fd, BLKGETSIZE64, &d->bytes) < 0 ||
	    ioctl(fd, BLKSSZGET, &lbs) < 0 || ioctl(fd, BLKROGET, &ro) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	d->dev = st.st_rdev;
	d->lbs = (unsigned)lbs;
	/* The kernel's view of the disk as dom0 attached it (BLKROGET also
	 * reports our own BLKROSET, so look before setting it). */
	uint64_t sys_ro = 0;
	if (block_sysfs_u64(name, "ro", &sys_ro) < 0)
		sys_ro = (uint64_t)ro;
	d->was_writable = !sys_ro && !ro;
	return 0;
}

int disk_force_readonly(struct disk *d)
{
	char path[128];
	int one = 1, ro = 0, r = 0;

	snprintf(path, sizeof(path), "/dev/%s", d->name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKROSET, &one) < 0 || ioctl(fd, BLKROGET, &ro) < 0)
		r = -errno;
	else if (ro != 1)
		r = -EPERM;  /* the kernel did not take it: never go on writable */
	close(fd);
	return r;
}

int read_head(const char *devname, uint8_t *buf, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "/dev/%s", devname);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read_full(fd, buf, len);
	int r = n < 0 ? (int)n : 0;
	if (n >= 0 && (size_t)n < len)
		memset(buf + n, 0, len - (size_t)n);
	close(fd);
	return r;
}

void devname_of(dev_t dev, char *buf, size_t len)
{
	snprintf(buf, len, "%u:%u", major(dev), minor(dev));
}
