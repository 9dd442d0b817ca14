/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stock mode, for a qube that boots this initramfs without qubes.ephemeral=1.
 * A variant made by `qvm-ephemeral kernel` keeps the original /init (Qubes'
 * dracut/simple/init.sh) and runs it: "without the flag nothing changes"
 * holds by construction, whatever Qubes' init does now or later. Only an
 * initramfs without it (made by initramfs-append, which keeps none) uses
 * stock_setup below: what Qubes' init.sh does, re-implemented.
 *   read-only root: volatile = [1 MiB gap][1 GiB swap][COW], dmroot = snapshot
 *   writable root:  volatile = [1 MiB gap][1 GiB swap][spare], dmroot -> root */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dm.h"
#include "fileio.h"
#include "init.h"
#include "log.h"
#include "mbr.h"

/* Nothing may be left behind for the original init: /proc is mounted only
 * to read the command line and unmounted again. */
static bool ephemeral_requested(void)
{
	static struct options o;
	char buf[4096], err[256];
	bool mounted = mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -errno : read_full(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (mounted)
		umount("/proc");
	if (n < 0)
		return true;   /* cannot tell: main() reads it again and says why */
	buf[n] = 0;
	if (cmdline_parse(buf, &o, err, sizeof(err)) < 0)
		/* a bad qubes.ephemeral.* option is no concern of Qubes' init,
		 * unless ephemeral mode was asked for: main() stops with it */
		return strstr(buf, "qubes.ephemeral=1") != NULL;
	return o.ephemeral;
}

void stock_exec_original(char **argv)
{
	struct stat st;
	if (lstat(ORIGINAL_INIT, &st) < 0 || ephemeral_requested())
		return;
	log_info("stock mode: running the initramfs' own /init (kept as " ORIGINAL_INIT ")");
	execv(ORIGINAL_INIT, argv);
	log_errno(-errno, "cannot run " ORIGINAL_INIT "; using ephemeral-init's own stock mode");
}

#define STOCK_SWAP_SECTORS (UINT64_C(1) << 21)  /* 1 GiB, as the stock init */

/* partition device name: vdc -> vdc1, nvme0n1 -> nvme0n1p1 */
static void part_name(const char *disk, unsigned n, char *out, size_t len)
{
	size_t l = strlen(disk);
	bool digit = l && disk[l - 1] >= '0' && disk[l - 1] <= '9';
	snprintf(out, len, "%s%s%u", disk, digit ? "p" : "", n);
}

static int partition_volatile(struct ctx *c, unsigned second)
{
	struct mbr m;
	uint32_t id = 0;
	char path[128];
	int r;

	/* the disk identifier only tells tables apart: a failure leaves it 0,
	 * as on a table written without one */
	if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
		id = 0;
	if ((r = mbr_build_volatile(&m, c->volatile_.bytes / SECTOR_BYTES, STOCK_SWAP_SECTORS, second, id)) < 0) {
		if (r == -ENOSPC)
			log_info("volatile disk smaller than 1 GiB swap, cannot continue");
		return r;
	}
	snprintf(path, sizeof(path), "/dev/%s", c->volatile_.name);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = pwrite_full(fd, &m, sizeof(m), 0);
	if (!r && (fsync(fd) < 0 || ioctl(fd, BLKRRPART) < 0))
		r = -errno;
	close(fd);
	if (r < 0)
		return log_errno(r, "cannot partition volatile disk %s", path);

	char swap[64];
	part_name(c->volatile_.name, 1, swap, sizeof(swap));
	if ((r = wait_disk(c, swap, c->opt.timeout_s, true)) < 0)
		return log_errno(r, "partition /dev/%s did not appear", swap);
	snprintf(path, sizeof(path), "/dev/%s", swap);
	/* the template's dev-xvdc1-swap.service does the swapon */
	return swap_format(path, STOCK_SWAP_SECTORS * SECTOR_BYTES);
}

int stock_setup(struct ctx *c)
{
	char part[CMDLINE_DISK_NAME_MAX + 8], cow[64], params[256], org[32], cw[32];
	struct disk cowd;
	dev_t dev;
	int r;

	/* the private disk is the template's business in stock mode; named for the status tool */
	snprintf(c->private_.name, sizeof(c->private_.name), "%s", c->opt.disk_private);
	if ((r = wait_disk(c, c->opt.disk_root, c->opt.timeout_s, true)) < 0)
		return log_errno(r, "root disk /dev/%s did not appear", c->opt.disk_root);
	if ((r = find_root_partition(NULL, c->opt.disk_root, part, sizeof(part))) < 0 ||
	    (r = disk_probe(&c->root, part)) < 0)
		return log_errno(r, "cannot open the root partition of /dev/%s", c->opt.disk_root);
	if ((r = wait_disk(c, c->opt.disk_volatile, c->opt.timeout_s, true)) < 0 ||
	    (r = disk_probe(&c->volatile_, c->opt.disk_volatile)) < 0)
		return log_errno(r, "volatile disk /dev/%s is missing", c->opt.disk_volatile);

	mkdir("/dev/mapper", 0755);
	if (c->root.was_writable) {
		log_info("R/W setup for a template: root used directly");
		if ((r = partition_volatile(c, 3)) < 0)
			return r;
		snprintf(params, sizeof(params), "../%s", part);
		unlink("/dev/mapper/" DM_ROOT);
		return symlink(params, "/dev/mapper/" DM_ROOT) < 0 ? -errno : 0;
	}
	log_info("COW setup: root snapshot on the volatile disk");
	if ((r = partition_volatile(c, 2)) < 0)
		return r;
	part_name(c->volatile_.name, 2, cow, sizeof(cow));
	if ((r = wait_disk(c, cow, c->opt.timeout_s, true)) < 0 || (r = disk_probe(&cowd, cow)) < 0)
		return log_errno(r, "partition /dev/%s did not appear", cow);
	if ((r = load_module(c, "dm-snapshot", true)) < 0)
		return r;
	if ((c->dm = dm_open_control()) < 0)
		return log_errno(c->dm, "cannot open /dev/mapper/control");
	devname_of(c->root.dev, org, sizeof(org));
	devname_of(cowd.dev, cw, sizeof(cw));
	table_snapshot(params, sizeof(params), org, cw);
	struct dm_target t = { 0, c->root.bytes / SECTOR_BYTES, "snapshot", params };
	if ((r = dm_create(c->dm, DM_ROOT, NULL, &dev)) < 0 ||
	    (r = dm_load(c->dm, DM_ROOT, &t, 1, false, false)) < 0 ||
	    (r = dm_resume(c->dm, DM_ROOT)) < 0 || (r = dm_make_node(DM_ROOT, dev)) < 0)
		return log_errno(r, "cannot create dmroot");
	return 0;
}
