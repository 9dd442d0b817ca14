/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prepare the new root without writing into it: the device names its fstab
 * and scripts use lead to our devices, its udev learns our devices are set
 * up, the status tool and our state are left under /run (moved into the new
 * root). Every block the boot wrote into the root copy would first be
 * copied whole from the origin through dm-crypt. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dm.h"
#include "fileio.h"
#include "init.h"
#include "log.h"
#include "unitname.h"

#define SELF_MAX (16u << 20)

/* The template's fstab names the private disk (/dev/xvdb /rw) and the
 * volatile swap partition (/dev/xvdc1 swap), and its scripts use the same
 * names. The root stays as it is — a package update may replace
 * /etc/fstab as it likes — and the names lead to our devices instead:
 * /dev/PRIVATE and /dev/VOLATILE1 are links to the encrypted devices (the
 * origins stay reachable under /sys/class/block), and systemd's unit for
 * the fstab swap entry is masked in /run: our swap is on already, and with
 * no swap slice nothing may wait 90 s for a partition that never comes. */
static int link_name(const char *name, const char *target)
{
	char path[64];
	snprintf(path, sizeof(path), "/dev/%s", name);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (symlink(target, path) < 0)
		return -errno;
	return 0;
}

static int mask_fstab_swap(const char *swap_name)
{
	char path[192], unit[128];
	int r;

	snprintf(path, sizeof(path), "/dev/%s", swap_name);
	if ((r = unit_name_from_path(path, "swap", unit, sizeof(unit))) < 0)
		return r;
	mkdir("/run/systemd", 0755);
	mkdir("/run/systemd/system", 0755);
	snprintf(path, sizeof(path), "/run/systemd/system/%s", unit);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (symlink("/dev/null", path) < 0)
		return -errno;
	return 0;
}

static int redirect_names(struct ctx *c)
{
	char swap[CMDLINE_DISK_NAME_MAX + 2];
	int r;

	snprintf(swap, sizeof(swap), "%s1", c->opt.disk_volatile);
	if ((r = link_name(c->opt.disk_private, "mapper/" DM_PRIVATE)) < 0)
		return log_errno(r, "cannot point /dev/%s at the encrypted private device", c->opt.disk_private);
	if (c->layout.swap_sectors && (r = link_name(swap, "mapper/" DM_SWAP)) < 0)
		return log_errno(r, "cannot point /dev/%s at the encrypted swap", swap);
	if ((r = mask_fstab_swap(swap)) < 0)
		return log_errno(r, "cannot mask the fstab swap unit of /dev/%s in /run/systemd/system", swap);
	if (c->layout.swap_sectors)
		log_info("/dev/%s and /dev/%s name the encrypted private device and swap; the fstab swap "
			 "unit is masked (swap is on already)", c->opt.disk_private, swap);
	else
		log_info("/dev/%s names the encrypted private device; no swap, the fstab swap unit is masked",
			 c->opt.disk_private);
	return 0;
}

/* The database records above last only until a device's next real dm event:
 * a `dmsetup resume` without udev flags (any tool's) rewrites them with the
 * flags cleared, and a device no longer in use (swapoff, umount) would then be
 * offered to dom0 by Qubes' 99-qubes-block.rules. A runtime rule (read by the
 * new root's udevd from /run, nothing written into the root) marks every one
 * of our devices on every event, whatever the flags and whatever its name: by
 * the dm uuid every device we create carries, read from sysfs (55-dm.rules
 * sets DM_UUID only for events it trusts, e.g. not for a coldplug "add"
 * without its flags); the DM_UUID line covers "remove", when sysfs is gone. */
#define HIDE_RULES "/run/udev/rules.d/98-qubes-ephemeral-hide.rules"
static int hide_from_dom0(void)
{
	static const char rule[] =
		"# qubes-ephemeral: never offer our devices to dom0 (Qubes' 99-qubes-block.rules)\n"
		"SUBSYSTEM==\"block\", KERNEL==\"dm-*\", ATTR{dm/uuid}==\"" DM_UUID_PREFIX "*\", "
		"ENV{QUBES_EXPORT_BLOCK_DEVICE}=\"0\", ENV{UDISKS_IGNORE}=\"1\"\n"
		"SUBSYSTEM==\"block\", KERNEL==\"dm-*\", ENV{DM_UUID}==\"" DM_UUID_PREFIX "*\", "
		"ENV{QUBES_EXPORT_BLOCK_DEVICE}=\"0\", ENV{UDISKS_IGNORE}=\"1\"\n";
	mkdir("/run/udev/rules.d", 0755);
	int r = write_file_atomic(HIDE_RULES, rule, sizeof(rule) - 1, 0644);
	return r < 0 ? log_errno(r, "cannot write %s", HIDE_RULES) : 0;
}

/* dom0's `qvm-volume resize` of a running qube calls qubes.ResizeDisk in it.
 * Qubes' script would grow /dev/xvdb (here our private thin device, fixed in
 * size at boot: resize2fs finds nothing to do) or rebuild dmroot as a
 * snapshot on /dev/xvdc2 (a plaintext COW; no such device exists here, the
 * table load fails). Neither writes in the clear, but both leave a puzzling
 * message. qrexec (R4.3) looks for services in /run/qubes-rpc first: ours
 * there says what happens instead and fails, so dom0 reports it. */
#define RESIZE_SERVICE_DIR "/run/qubes-rpc"
#define RESIZE_SERVICE RESIZE_SERVICE_DIR "/qubes.ResizeDisk"
static int resize_guard(void)
{
	static const char script[] =
		"#!/bin/sh\n"
		"# qubes-ephemeral (written by ephemeral-init at boot, in /run only): an\n"
		"# ephemeral qube's root and private are encrypted throw-away copies sized at boot.\n"
		"read -r disk_name\n"
		"echo \"qubes-ephemeral: '$disk_name' not resized inside this ephemeral qube (its root and private are "
		"encrypted copies sized at boot, nothing was changed); the private file system grows at the next start\" >&2\n"
		"exit 1\n";
	mkdir(RESIZE_SERVICE_DIR, 0755);
	int r = write_file_atomic(RESIZE_SERVICE, script, sizeof(script) - 1, 0755);
	return r < 0 ? log_errno(r, "cannot write %s", RESIZE_SERVICE) : 0;
}

/* udev in the new root sees our devices only through coldplug "add" events,
 * which its dm rules treat as "not set up by us" (SYSTEMD_READY=0, no
 * /dev/mapper links) unless its database says otherwise, as it does after a
 * udev-managed initramfs. So leave that record. The disk-rules flag also
 * keeps Qubes' block rules from offering these devices to dom0. */
static int seed_udev_db(struct ctx *c)
{
	static const struct { const char *name; bool internal; } devs[] = {
		{ DM_CRYPT, true }, { DM_META, true }, { DM_DATA, true }, { DM_POOL, true },
		{ DM_SWAP, false }, { DM_ROOT, false }, { DM_PRIVATE, false },
	};
	char path[128], text[512];

	mkdir("/run/udev", 0755);
	mkdir("/run/udev/data", 0755);
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		dev_t dev;
		if (dm_devno(c->dm, devs[i].name, &dev) < 0)
			continue;  /* e.g. no swap */
		snprintf(path, sizeof(path), "/run/udev/data/b%u:%u", major(dev), minor(dev));
		int n = snprintf(text, sizeof(text),
				 "E:DM_UDEV_PRIMARY_SOURCE_FLAG=1\n"
				 "E:DM_UDEV_RULES_VSN=2\n"
				 "E:DM_UDEV_DISABLE_DISK_RULES_FLAG=1\n"
				 "%s"
				 "E:QUBES_EXPORT_BLOCK_DEVICE=0\n",
				 devs[i].internal ? "E:DM_UDEV_DISABLE_OTHER_RULES_FLAG=1\n" : "");
		/* the sticky bit is udev's db_persist mark: `udevadm info
		 * --cleanup-db` (initramfs-tools' init-bottom, dracut's
		 * initrd-udevadm-cleanup-db) keeps such records */
		int r = write_file_atomic(path, text, (size_t)n, 01644);
		if (r < 0)
			return log_errno(r, "cannot write %s", path);
	}
	return hide_from_dom0();
}

/* The status tool is this very binary under another name. */
int install_status_tool(void)
{
	size_t len = 0;
	char *self = NULL;
	int r = read_file_full("/proc/self/exe", SELF_MAX, &self, &len);
	if (r < 0)
		return r;
	r = write_file_atomic(STATUS_TOOL, self, len, 0755);
	free(self);
	return r;
}

int newroot_prepare(struct ctx *c)
{
	int r;
	if ((r = redirect_names(c)) < 0)
		return r;
	if ((r = resize_guard()) < 0)
		return r;
	return seed_udev_db(c);
}

static const char *onoff(int v)
{
	return v < 0 ? "unknown" : v ? "on" : "off";
}

int write_state(struct ctx *c, const char *mode)
{
	char text[1024];
	const struct layout *l = &c->layout;
	int n = snprintf(text, sizeof(text),
			 "mode=%s\n"
			 "root_origin=%s\nprivate_origin=%s\nvolatile=%s\n"
			 "root_was_writable=%s\nprivate_was_writable=%s\n"
			 "sector_size=%u\nswap_bytes=%llu\npool_data_bytes=%llu\npool_block_bytes=%u\n"
			 "scrub_pages=%s\ninit_on_alloc=%s\ninit_on_free=%s\n",
			 mode, c->root.name, c->private_.name, c->volatile_.name,
			 c->root.was_writable ? "yes" : "no", c->private_.was_writable ? "yes" : "no",
			 c->sector_size, (unsigned long long)(l->swap_sectors * SECTOR_BYTES),
			 (unsigned long long)(l->data_sectors * SECTOR_BYTES), l->block_sectors * SECTOR_BYTES,
			 scrub_state_name(c->scrub), onoff(c->meminit.alloc), onoff(c->meminit.free));
	if (n < 0 || (size_t)n >= sizeof(text))
		return -ENAMETOOLONG;
	return write_file_atomic(STATE_FILE, text, (size_t)n, 0644);
}
