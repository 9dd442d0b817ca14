/* ephemeral-status: inside a running VM, shows the storage stack, where the
 * key is, swap and pool usage, and a verdict. Exit 0 = fully ephemeral,
 * 1 = not (reason printed), 2 = cannot tell (e.g. not root). */
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

static char state_mode[64], root_origin[64], private_origin[64], volatile_disk[64];
static char root_was_rw[8], private_was_rw[8];

static void read_state(void)
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
			{ "mode", state_mode, sizeof(state_mode) },
			{ "root_origin", root_origin, sizeof(root_origin) },
			{ "private_origin", private_origin, sizeof(private_origin) },
			{ "volatile", volatile_disk, sizeof(volatile_disk) },
			{ "root_was_writable", root_was_rw, sizeof(root_was_rw) },
			{ "private_was_writable", private_was_rw, sizeof(private_was_rw) },
		};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(line, keys[i].k))
				snprintf(keys[i].dst, keys[i].n, "%s", v);
	}
	fclose(f);
}

/* 1 read-only, 0 writable, <0 cannot tell. From sysfs, which reflects
 * BLKROSET too: /dev/PRIVATE itself names the encrypted copy in the VM. */
static int is_readonly(const char *name)
{
	char path[128];
	int ro = -1;
	snprintf(path, sizeof(path), "/sys/class/block/%s/ro", name);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%d", &ro) != 1)
		ro = -1;
	fclose(f);
	return ro < 0 ? -EINVAL : ro != 0;
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

static void print_swap(void)
{
	FILE *f = fopen("/proc/swaps", "re");
	char line[512];
	bool any = false;
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char dev[256], type[32];
			unsigned long long size, used;
			if (sscanf(line, "%255s %31s %llu %llu", dev, type, &size, &used) != 4)
				continue;
			printf("swap:     %s %s, %llu of %llu KiB used\n", dev,
			       strstr(dev, "dm-") || strstr(dev, DM_SWAP) ? "(encrypted slice)" : "(NOT ours)",
			       used, size);
			any = true;
		}
		fclose(f);
	}
	if (!any)
		printf("swap:     none active\n");
}

static void print_pool(int ctl)
{
	char status[512], table[512];
	unsigned long long tid, mu, mt, du, dt, block = 0;
	if (dm_query(ctl, DM_POOL, true, false, NULL, status, sizeof(status)) < 0 ||
	    sscanf(status, "%llu %llu/%llu %llu/%llu", &tid, &mu, &mt, &du, &dt) != 5) {
		printf("pool:     status unavailable\n");
		return;
	}
	if (dm_query(ctl, DM_POOL, false, false, NULL, table, sizeof(table)) == 0)
		sscanf(table, "%*s %*s %llu", &block);
	unsigned long long bb = block * SECTOR_BYTES;
	printf("pool:     data %.1f%% used (%llu of %llu bytes), metadata %.1f%% used%s\n",
	       dt ? 100.0 * du / dt : 0.0, du * bb, dt * bb, mt ? 100.0 * mu / mt : 0.0,
	       strstr(status, "out_of_data_space") ? ", OUT OF SPACE" : "");
}

int status_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char table[1024], type[16];
	const char *problem = NULL;

	log_prog = "ephemeral-status";
	read_state();
	int ctl = dm_open_control();
	if (ctl < 0) {
		log_errno(ctl, "cannot open /dev/mapper/control (run as root)");
		return 2;
	}
	printf("mode:     %s\n", state_mode[0] ? state_mode : "unknown (no " STATE_FILE ")");

	if (dm_query(ctl, DM_CRYPT, false, false, type, table, sizeof(table)) < 0) {
		printf("crypt:    no %s device\n", DM_CRYPT);
		problem = "no encrypted volatile device";
	} else if (strcmp(type, "crypt") != 0) {
		printf("crypt:    %s is a %s mapping, NOT encrypted\n", DM_CRYPT, type);
		problem = "volatile data not encrypted";
	} else {
		char cipher[64];
		sscanf(table, "%63s", cipher);
		bool keyring = strstr(table, ":logon:" KEY_DESC) != NULL;
		printf("crypt:    %s over /dev/%s, %s\n", cipher, volatile_disk[0] ? volatile_disk : "?",
		       strstr(table, "sector_size:4096") ? "4096-byte sectors" : "512-byte sectors");
		printf("key:      %s; %s\n",
		       keyring ? "held by the kernel only (table shows a keyring reference, no key bytes)"
			       : "TABLE SHOWS KEY MATERIAL",
		       key_in_proc_keys() ? "STILL IN A KEYRING" : "no longer in any keyring");
		if (!keyring)
			problem = "key visible in the table";
	}
	bool ours = !strncmp(state_mode, "ephemeral", 9);
	if (ours) {
		printf("stack:    / = %s (thin, origin /dev/%s) -> %s -> %s\n", DM_ROOT,
		       root_origin[0] ? root_origin : "?", DM_POOL, DM_CRYPT);
		printf("          private = %s (thin, origin /dev/%s) -> %s -> %s\n", DM_PRIVATE,
		       private_origin[0] ? private_origin : "?", DM_POOL, DM_CRYPT);
	} else {
		char type2[16] = "?";
		dm_query(ctl, DM_ROOT, false, false, type2, table, sizeof(table));
		printf("stack:    / = %s (%s, origin /dev/%s), private = /dev/%s directly: "
		       "writes reach the disks in the clear\n", DM_ROOT, type2,
		       root_origin[0] ? root_origin : "?", private_origin[0] ? private_origin : "?");
	}
	if (ours && root_origin[0] && private_origin[0]) {
		int rr = is_readonly(root_origin), pr = is_readonly(private_origin);
		printf("origins:  root %s, private %s (were writable at boot: root %s, private %s%s)\n",
		       rr == 1 ? "read-only" : "WRITABLE", pr == 1 ? "read-only" : "WRITABLE",
		       root_was_rw, private_was_rw,
		       (!strcmp(root_was_rw, "yes") || !strcmp(private_was_rw, "yes")) ? "; forced read-only" : "");
		if (rr != 1 || pr != 1)
			problem = "an origin disk is writable";
	}
	print_swap();
	print_pool(ctl);
	close(ctl);
	if (!problem && strcmp(state_mode, "ephemeral") != 0)
		problem = "not booted in ephemeral mode";
	printf("verdict:  %s%s\n", problem ? "NOT ephemeral: " : "ephemeral", problem ? problem : "");
	return problem ? 1 : 0;
}
