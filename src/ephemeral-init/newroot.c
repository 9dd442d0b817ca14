/* Prepare the new root without writing into it: point its fstab at our
 * devices (a rewritten copy in /run bound over /etc/fstab), tell its udev
 * our devices are set up, leave the status tool and our state under /run
 * (moved into the new root). Every block the boot wrote into the root copy
 * would first be copied whole from the origin through dm-crypt. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dm.h"
#include "fileio.h"
#include "fstab.h"
#include "init.h"
#include "log.h"

#define FSTAB_MAX (1u << 20)
#define SELF_MAX (16u << 20)

static int rewrite_fstab(struct ctx *c)
{
	char priv_old[64], swap_old[64];
	size_t len = 0, outlen = 0;
	char *out = NULL;
	struct stat st;

	char fstab[512];
	snprintf(fstab, sizeof(fstab), "%s/etc/fstab", c->newroot ? c->newroot : SYSROOT);
	char *in = NULL;
	int r = read_file_full(fstab, FSTAB_MAX, &in, &len);
	if (r == -ENOENT) {
		log_info("new root has no /etc/fstab; nothing to rewrite");
		return 0;
	}
	if (r < 0)
		return r;
	snprintf(priv_old, sizeof(priv_old), "/dev/%s", c->opt.disk_private);
	snprintf(swap_old, sizeof(swap_old), "/dev/%s1", c->opt.disk_volatile);
	struct fstab_rewrite rw = {
		.private_old = priv_old,
		.private_new = "/dev/mapper/" DM_PRIVATE,
		.swap_old = swap_old,
		/* no swap slice: comment the entry out so nothing waits for it */
		.swap_new = c->layout.swap_sectors ? "/dev/mapper/" DM_SWAP : NULL,
	};
	int n = fstab_rewrite(in, len, &rw, &out, &outlen);
	free(in);
	if (n < 0)
		return n;
	if (n > 0) {
		mode_t mode = stat(fstab, &st) == 0 ? (st.st_mode & 07777) : 0644;
		r = write_file_atomic(RUN_FSTAB, out, outlen, mode);
		if (!r && mount(RUN_FSTAB, fstab, NULL, MS_BIND, NULL) < 0)
			r = -errno;
		if (!r)
			log_info("fstab: %d entr%s now name the encrypted devices (%s bound on /etc/fstab)",
				 n, n == 1 ? "y" : "ies", RUN_FSTAB);
	}
	free(out);
	return r;
}

/* The database records above last only until a device's next real dm event:
 * a `dmsetup resume` without udev flags (any tool's) rewrites them with the
 * flags cleared, and a device no longer in use (swapoff, umount) would then be
 * offered to dom0 by Qubes' 99-qubes-block.rules. A runtime rule (read by the
 * new root's udevd from /run, nothing written into the root) marks every one
 * of our devices on every event, by its kernel dm name, whatever the flags. */
#define HIDE_RULES "/run/udev/rules.d/98-qubes-ephemeral-hide.rules"
static int hide_from_dom0(void)
{
	static const char rule[] =
		"# qubes-ephemeral: never offer our devices to dom0 (Qubes' 99-qubes-block.rules)\n"
		"SUBSYSTEM==\"block\", KERNEL==\"dm-*\", ATTR{dm/name}==\"ephemeral-*\", "
		"ENV{QUBES_EXPORT_BLOCK_DEVICE}=\"0\", ENV{UDISKS_IGNORE}=\"1\"\n";
	mkdir("/run/udev/rules.d", 0755);
	int r = write_file_atomic(HIDE_RULES, rule, sizeof(rule) - 1, 0644);
	return r < 0 ? log_errno(r, "cannot write %s", HIDE_RULES) : 0;
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

/* The template's own scripts name the private disk directly (Qubes'
 * setup-rwdev.sh runs blkid, mkfs.ext4 on a blank volume, fsck.ext4; setup-rw.sh
 * runs resize2fs). Pointed at the read-only origin they fail, and on a blank
 * private the qube would come up without /rw. So inside an ephemeral qube
 * /dev/xvdb names the encrypted throw-away copy; the origin stays reachable
 * through the thin device only, and under /sys/class/block. */
static int redirect_private_name(struct ctx *c)
{
	char path[64];
	snprintf(path, sizeof(path), "/dev/%s", c->opt.disk_private);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (symlink("mapper/" DM_PRIVATE, path) < 0)
		return -errno;
	return 0;
}

int newroot_prepare(struct ctx *c)
{
	int r;
	if ((r = rewrite_fstab(c)) < 0)
		return log_errno(r, "cannot rewrite the new root's /etc/fstab");
	if ((r = redirect_private_name(c)) < 0)
		return log_errno(r, "cannot point /dev/%s at the encrypted private device", c->opt.disk_private);
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
