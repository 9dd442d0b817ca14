/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ephemeral-status: inside a running VM, shows the storage stack, where the
 * key is, swap, pool and memory state, and a verdict. The verdict is proven
 * from the device-mapper tables and the kernel's state (lib/stackcheck.c),
 * not from device names or from what the boot wrote down.
 * Exit 0 = fully ephemeral, 1 = not (reason printed), 2 = cannot tell. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dm.h"
#include "init.h"
#include "log.h"
#include "scan.h"
#include "stackcheck.h"

struct state {
	char mode[64], root_origin[64], private_origin[64], volatile_disk[64];
	char root_was_rw[8], private_was_rw[8], init_on_alloc[16], init_on_free[16];
};

static void read_state(struct state *st)
{
	FILE *f = fopen(STATE_FILE, "re");
	char line[256];
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *v = strchr(line, '=');
		if (!v)
			continue;
		*v++ = 0;
		struct { const char *k; char *dst; size_t n; } keys[] = {
			{ "mode", st->mode, sizeof(st->mode) },
			{ "root_origin", st->root_origin, sizeof(st->root_origin) },
			{ "private_origin", st->private_origin, sizeof(st->private_origin) },
			{ "volatile", st->volatile_disk, sizeof(st->volatile_disk) },
			{ "root_was_writable", st->root_was_rw, sizeof(st->root_was_rw) },
			{ "private_was_writable", st->private_was_rw, sizeof(st->private_was_rw) },
			{ "init_on_alloc", st->init_on_alloc, sizeof(st->init_on_alloc) },
			{ "init_on_free", st->init_on_free, sizeof(st->init_on_free) },
		};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(line, keys[i].k))
				snprintf(keys[i].dst, keys[i].n, "%s", v);
	}
	fclose(f);
}

/* 1 read-only, 0 writable, -1 cannot tell. From sysfs, which reflects
 * BLKROSET too: /dev/PRIVATE itself names the encrypted copy in the VM. */
static int is_readonly(const char *name)
{
	uint64_t ro;
	return block_sysfs_u64(name, "ro", &ro) < 0 ? -1 : ro != 0;
}

/* the root partition and its whole disk: both must be read-only */
static int origin_readonly(const char *part)
{
	char link[256], target[256];
	int ro = is_readonly(part);
	snprintf(link, sizeof(link), "/sys/class/block/%s", part);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (ro != 1 || n <= 0)
		return ro;
	target[n] = 0;
	char *slash = strrchr(target, '/');
	if (slash && slash > target) {
		*slash = 0;
		char *parent = strrchr(target, '/');
		char partfile[512];
		/* a partition's parent directory is its disk */
		snprintf(partfile, sizeof(partfile), "/sys/class/block/%s/partition", part);
		if (parent && access(partfile, F_OK) == 0) {
			int pro = is_readonly(parent + 1);
			return pro == 1 ? 1 : pro;
		}
	}
	return ro;
}

static bool key_in_proc_keys(void)
{
	FILE *f = fopen("/proc/keys", "re");
	char line[512];
	bool found = false;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, KEY_DESC))
			found = true;
	fclose(f);
	return found;
}

/* every active swap, by the device it lies on: the device itself for a
 * partition, the file system's device for a swap file */
static void read_swaps(struct stack_facts *f)
{
	FILE *sw = fopen("/proc/swaps", "re");
	char line[512];
	bool any = false;
	if (!sw) {
		f->swap_unknown = true;
		printf("swap:     /proc/swaps unreadable\n");
		return;
	}
	while (fgets(line, sizeof(line), sw)) {
		char dev[256], type[32];
		uint64_t size, used;
		struct stat st;
		const char *q = line;
		if (scan_word(&q, dev, sizeof(dev)) < 0 || !strcmp(dev, "Filename"))
			continue;
		if (scan_word(&q, type, sizeof(type)) < 0 || scan_u64(&q, &size) < 0 || scan_u64(&q, &used) < 0) {
			/* a swap this tool cannot read is one it cannot vouch for */
			f->swap_unknown = true;
			printf("swap:     unreadable line in /proc/swaps: %s", line);
			continue;
		}
		any = true;
		dev_t on = 0;
		bool known = stat(dev, &st) == 0;
		if (known)
			on = !strcmp(type, "partition") ? st.st_rdev : st.st_dev;
		if (!known || f->nswaps == STACK_MAX_SWAPS)
			f->swap_unknown = true;
		else
			f->swaps[f->nswaps++] = on;
		printf("swap:     %s %s on %u:%u, %llu of %llu KiB used\n", dev, type, major(on), minor(on),
		       (unsigned long long)used, (unsigned long long)size);
	}
	fclose(sw);
	if (!any)
		printf("swap:     none active\n");
}

/* part of whole in tenths of a per cent, rounded (no floating point: its
 * printf support would grow the binary) */
static unsigned long long permille(uint64_t part, uint64_t whole)
{
	return whole ? (unsigned long long)(((unsigned __int128)part * 1000 + whole / 2) / whole) : 0;
}

static void print_pool(int ctl)
{
	char status[512], table[512];
	uint64_t tid, mu, mt, du, dt, block = 0;
	const char *q = status, *t = table;
	if (dm_query(ctl, DM_POOL, true, false, NULL, status, sizeof(status)) < 0 ||
	    scan_u64(&q, &tid) < 0 || scan_u64_pair(&q, '/', &mu, &mt) < 0 || scan_u64_pair(&q, '/', &du, &dt) < 0) {
		printf("pool:     status unavailable\n");
		return;
	}
	/* the table: metadata device, data device, block size in sectors */
	if (dm_query(ctl, DM_POOL, false, false, NULL, table, sizeof(table)) > 0 &&
	    (scan_word(&t, NULL, 0) < 0 || scan_word(&t, NULL, 0) < 0 || scan_u64(&t, &block) < 0))
		block = 0;
	unsigned long long bb = block * SECTOR_BYTES, d = permille(du, dt), m = permille(mu, mt);
	printf("pool:     data %llu.%llu%% used (%llu of %llu bytes), metadata %llu.%llu%% used%s\n",
	       d / 10, d % 10, (unsigned long long)du * bb, (unsigned long long)dt * bb, m / 10, m % 10,
	       strstr(status, "out_of_data_space") ? ", OUT OF SPACE" : "");
}

/* every device-mapper device with its live table; the key never leaves
 * the kernel (a keyring reference prints as ":64:logon:DESC") */
static int read_tables(int ctl, struct stack_dev *devs, size_t max)
{
	struct dm_name_dev names[STACK_MAX_DEVS];
	int n = dm_list(ctl, names, STACK_MAX_DEVS);
	if (n < 0)
		return n;
	size_t k = 0;
	for (int i = 0; i < n && k < max; i++) {
		struct stack_dev *d = &devs[k];
		int t = dm_query(ctl, names[i].name, false, true, d->type, d->params, sizeof(d->params));
		if (t < 0)
			continue;   /* no table loaded: nothing can be written there */
		snprintf(d->name, sizeof(d->name), "%s", names[i].name);
		d->dev = names[i].dev;
		d->targets = (unsigned)t;
		k++;
	}
	return (int)k;
}

static dev_t mount_dev(const char *path, bool need_mountpoint)
{
	struct stat st, parent;
	if (stat(path, &st) < 0)
		return 0;
	if (need_mountpoint) {
		char up[256];
		snprintf(up, sizeof(up), "%s/..", path);
		if (stat(up, &parent) < 0 || parent.st_dev == st.st_dev)
			return 0;
	}
	return st.st_dev;
}

/* one line per volume: the layers as the tables show them, not as the
 * ephemeral stack would have them (stock mode has a dm snapshot, or none) */
static void print_layer(const struct stack_facts *f, const char *label, const char *name, const char *origin)
{
	const char *type = NULL;
	for (size_t i = 0; i < f->ndevs; i++)
		if (!strcmp(f->devs[i].name, name))
			type = f->devs[i].type;
	if (type && !strcmp(type, "thin"))
		printf("          %s = %s (thin, origin /dev/%s) -> %s -> %s\n", label, name,
		       origin[0] ? origin : "?", DM_POOL, DM_CRYPT);
	else if (type)
		printf("          %s = %s, a %s mapping: not on the ephemeral pool\n", label, name, type);
	else
		printf("          %s: no %s device: not on the ephemeral pool\n", label, name);
}

int status_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	static struct stack_dev devs[STACK_MAX_DEVS];
	struct state st = { 0 };
	struct stack_facts f = {
		.crypt_name = DM_CRYPT, .root_name = DM_ROOT, .private_name = DM_PRIVATE, .key_desc = KEY_DESC,
		.devs = devs,
	};
	char why[256];

	log_prog = "ephemeral-status";
	read_state(&st);
	int ctl = dm_open_control();
	if (ctl < 0) {
		log_errno(ctl, "cannot open /dev/mapper/control (run as root)");
		return 2;
	}
	int n = read_tables(ctl, devs, STACK_MAX_DEVS);
	if (n < 0) {
		log_errno(n, "cannot list the device-mapper devices");
		close(ctl);
		return 2;
	}
	f.ndevs = (size_t)n;
	f.mode = st.mode;
	printf("mode:     %s\n", st.mode[0] ? st.mode : "unknown (no " STATE_FILE ")");

	const struct stack_dev *crypt = NULL;
	for (size_t i = 0; i < f.ndevs; i++)
		if (!strcmp(devs[i].name, DM_CRYPT))
			crypt = &devs[i];
	if (!crypt) {
		printf("crypt:    no %s device\n", DM_CRYPT);
	} else if (strcmp(crypt->type, "crypt") != 0) {
		printf("crypt:    %s is a %s mapping, NOT encrypted\n", DM_CRYPT, crypt->type);
	} else {
		char cipher[64] = "?";
		const char *q = crypt->params;
		if (scan_word(&q, cipher, sizeof(cipher)) < 0)
			snprintf(cipher, sizeof(cipher), "?");
		bool keyring = strstr(crypt->params, ":logon:" KEY_DESC) != NULL;
		f.key_in_keyring = key_in_proc_keys();
		printf("crypt:    %s over /dev/%s, %s\n", cipher, st.volatile_disk[0] ? st.volatile_disk : "?",
		       strstr(crypt->params, "sector_size:4096") ? "4096-byte sectors" : "512-byte sectors");
		printf("key:      %s; %s\n",
		       keyring ? "held by the kernel only (table shows a keyring reference, no key bytes)"
			       : "TABLE SHOWS KEY MATERIAL",
		       f.key_in_keyring ? "STILL IN A KEYRING" : "no longer in any keyring");
	}
	/* the private origin is named in the state; /dev/PRIVATE itself is ours */
	f.root_fs = mount_dev("/", false);
	f.rw_fs = mount_dev("/rw", true);
	printf("stack:    / on %u:%u, /rw on %s; %zu device-mapper devices checked\n",
	       major(f.root_fs), minor(f.root_fs), f.rw_fs ? "its own device" : "no mount", f.ndevs);
	print_layer(&f, "/", DM_ROOT, st.root_origin);
	print_layer(&f, "private", DM_PRIVATE, st.private_origin);
	f.root_origin_ro = origin_readonly(st.root_origin);
	f.private_origin_ro = is_readonly(st.private_origin);
	printf("origins:  root %s, private %s (were writable at boot: root %s, private %s%s)\n",
	       f.root_origin_ro == 1 ? "read-only" : f.root_origin_ro == 0 ? "WRITABLE" : "UNKNOWN",
	       f.private_origin_ro == 1 ? "read-only" : f.private_origin_ro == 0 ? "WRITABLE" : "UNKNOWN",
	       st.root_was_rw[0] ? st.root_was_rw : "?", st.private_was_rw[0] ? st.private_was_rw : "?",
	       (!strcmp(st.root_was_rw, "yes") || !strcmp(st.private_was_rw, "yes")) ? "; forced read-only" : "");
	read_swaps(&f);
	print_pool(ctl);
	close(ctl);

	int scrub = scrub_pages_read(NULL);
	f.scrub_pages = scrub == SCRUB_ON ? 1 : scrub == SCRUB_ABSENT ? -1 : 0;
	printf("memory:   Xen balloon scrubbing %s; kernel zeroes pages on alloc: %s, on free: %s\n",
	       scrub == SCRUB_ON ? "on (scrub_pages = 1)" :
	       scrub == SCRUB_ABSENT ? "absent (no Xen balloon driver: nothing is handed back to Xen)" :
	       "OFF (scrub_pages = 0)",
	       st.init_on_alloc[0] ? st.init_on_alloc : "unknown", st.init_on_free[0] ? st.init_on_free : "unknown");

	int bad = stack_judge(&f, why, sizeof(why));
	if (!bad)
		printf("persists: nothing: /, /rw, /home, /usr/local, swap and logs are throw-away copies under "
		       "a key that dies with this VM (whatever dom0 told the agent: its /qubes-vm-persistence "
		       "still says rw-only for an AppVM)\n");
	else
		printf("persists: not proven: writes may reach dom0's disks\n");
	printf("verdict:  %s%s\n", bad ? "NOT ephemeral: " : "ephemeral", bad ? why : "");
	return bad ? 1 : 0;
}
