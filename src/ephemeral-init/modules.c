/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel modules: from the initramfs first, then from the modules disk;
 * dependencies and aliases resolved from depmod's files (lib/moddep.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileio.h"
#include "init.h"
#include "log.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif
#define MAX_MODALIASES 512
#define MODULE_INDEX_MAX (64u << 20)   /* modules.dep of a distribution kernel: < 1 MiB */

/* A depmod index, whole; NULL when missing or unreadable (the caller
 * decides what a missing index means) */
static char *read_index(const char *path, size_t *len)
{
	char *buf = NULL;
	*len = 0;
	if (read_file_full(path, MODULE_INDEX_MAX, &buf, len) < 0)
		return NULL;
	return buf;
}

/* aliases: only the initramfs' are needed (coldplug matches device
 * modaliases); the modules disk is asked for names only, which spares
 * reading and parsing its ~100 KiB modules.alias at every boot. */
static struct moddb *load_db(const char *dir, bool aliases)
{
	char path[512];
	size_t dl, al = 0, bl;
	char *alias = NULL;

	snprintf(path, sizeof(path), "%s/modules.dep", dir);
	char *dep = read_index(path, &dl);
	if (aliases) {
		snprintf(path, sizeof(path), "%s/modules.alias", dir);
		alias = read_index(path, &al);
	}
	snprintf(path, sizeof(path), "%s/modules.builtin", dir);
	char *builtin = read_index(path, &bl);
	struct moddb *db = (dep || builtin) ? moddb_parse(dep, dl, alias, al, builtin, bl) : NULL;
	free(dep);
	free(alias);
	free(builtin);
	return db;
}

int modules_init(struct ctx *c)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "/lib/modules/%s", c->kver);
	c->initrd_db = load_db(dir, true);   /* NULL: the initramfs has no modules */
	c->carried_db = load_db(CARRIED_MODULES_DIR, false);   /* NULL: none carried */
	return 0;
}

int modules_use_disk(struct ctx *c)
{
	char dir[256];
	snprintf(dir, sizeof(dir), MODULES_MNT "/%s", c->kver);
	c->disk_db = load_db(dir, false);
	c->disk_db_read = true;
	if (!c->disk_db)
		log_info("modules disk has no %s/modules.dep; using only built-in and initramfs modules", c->kver);
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int insmod(const char *dir, const char *rel)
{
	char path[768];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* compressed modules need the kernel's in-kernel decompression */
	int flags = ends_with(rel, ".ko") ? 0 : MODULE_INIT_COMPRESSED_FILE;
	int r = syscall(SYS_finit_module, fd, "", flags) < 0 ? -errno : 0;
	close(fd);
	if (r == -EEXIST)
		r = 0;
	if (r < 0)
		log_errno(r, "loading %s failed", path);
	return r;
}

/* name: a module name ('-' or '_') */
static bool module_loaded(const char *name)
{
	char path[128], norm[MODNAME_MAX];
	struct stat st;
	size_t i;

	for (i = 0; name[i] && i < sizeof(norm) - 1; i++)
		norm[i] = name[i] == '-' ? '_' : name[i];
	norm[i] = 0;
	snprintf(path, sizeof(path), "/sys/module/%s", norm);
	return stat(path, &st) == 0;
}

static int load_from(const struct moddb *db, const char *dir, const char *name)
{
	const char *paths[64];
	char mod[MODNAME_MAX];
	size_t n = 0;

	if (moddb_is_builtin(db, name))
		return 0;
	int r = moddb_resolve(db, name, paths, 64, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		/* finit_module checks a module's signature (a hash of the whole
		 * file) before it sees that the module is there already: look first */
		moddb_name_from_path(paths[i], mod);
		if (!module_loaded(mod) && (r = insmod(dir, paths[i])) < 0)
			return r;
	}
	return 0;
}

/* From what is in RAM: the initramfs' /lib/modules/KVER, then the modules
 * the variant builder carries in our appended archive. -ENOENT: in neither. */
static int load_from_ram(struct ctx *c, const char *name)
{
	char dir[256];
	int r = -ENOENT;

	if (module_loaded(name))
		return 0;
	if (c->initrd_db) {
		snprintf(dir, sizeof(dir), "/lib/modules/%s", c->kver);
		if ((r = load_from(c->initrd_db, dir, name)) != -ENOENT)
			return r;
	}
	if (c->carried_db)
		r = load_from(c->carried_db, CARRIED_MODULES_DIR, name);
	return r;
}

int load_module(struct ctx *c, const char *name, bool required)
{
	char dir[256];
	int r = load_from_ram(c, name);

	if (r != -ENOENT)
		return r;
	if (c->modules_mounted && !c->disk_db_read)
		modules_use_disk(c);
	if (c->disk_db) {
		snprintf(dir, sizeof(dir), MODULES_MNT "/%s", c->kver);
		r = load_from(c->disk_db, dir, name);
	}
	if (r < 0 && required)
		log_errno(r, "module %s not available", name);
	return r;
}

/* In order; returns 0, or the first required module's negative errno with
 * *failed set to its name. (Two lists side by side, the second from a
 * forked loader, were measured: slower on a busy host, where the guest's
 * second CPU must first get a host CPU; see the README's Performance.) */
int load_modules(struct ctx *c, const struct modreq *list, size_t n, const char **failed)
{
	for (size_t i = 0; i < n; i++) {
		int r = load_module(c, list[i].name, list[i].required);
		if (r < 0 && list[i].required) {
			*failed = list[i].name;
			return r;
		}
	}
	return 0;
}

/* Like udev's coldplug, limited to the drivers the initramfs carries: load
 * the module of every device's modalias, again while that makes new devices
 * (virtio_pci brings virtio devices that want virtio_blk). */
int modules_coldplug(struct ctx *c)
{
	static char *tried[MAX_MODALIASES];
	static size_t ntried;
	int loaded_total = 0;

	if (!c->initrd_db)
		return 0;
	for (;;) {
		int loaded = 0;
		DIR *buses = opendir("/sys/bus");
		struct dirent *b;
		if (!buses)
			return -errno;
		while ((b = readdir(buses))) {
			char path[512];
			if (b->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/bus/%s/devices", b->d_name);
			DIR *devs = opendir(path);
			struct dirent *d;
			if (!devs)
				continue;
			while ((d = readdir(devs))) {
				char alias[256], file[1024];
				if (d->d_name[0] == '.')
					continue;
				snprintf(file, sizeof(file), "%s/%s/modalias", path, d->d_name);
				FILE *f = fopen(file, "re");
				if (!f)
					continue;
				bool got = fgets(alias, sizeof(alias), f) != NULL;
				fclose(f);
				if (!got)
					continue;
				alias[strcspn(alias, "\n")] = 0;
				bool seen = false;
				for (size_t i = 0; i < ntried && !seen; i++)
					seen = strcmp(tried[i], alias) == 0;
				if (seen || ntried >= MAX_MODALIASES)
					continue;
				tried[ntried++] = strdup(alias);
				char dir[256];
				snprintf(dir, sizeof(dir), "/lib/modules/%s", c->kver);
				if (load_from(c->initrd_db, dir, alias) == 0)
					loaded++;
			}
			closedir(devs);
		}
		closedir(buses);
		loaded_total += loaded;
		if (!loaded)
			return loaded_total;
	}
}

/* The storage stack's modules are loaded by a thread from RAM (initramfs or
 * carried) while the main thread loads the block driver and waits for the
 * disks: module loading is CPU work (signature hash, relocation, crypto
 * self-tests) that would otherwise start only once every disk is there.
 * Nothing here touches a disk, so it may run before the origins are
 * locked. What is not in RAM is left to load_stack_modules() (boot.c). */
static struct stack_loader {
	pthread_t thread;
	bool running;   /* started and not joined yet: r[] will hold its results */
	struct ctx *c;
	int r[STACK_MODULES];
} loader;

static void *stack_loader_run(void *arg)
{
	struct stack_loader *l = arg;
	for (int i = 0; i < STACK_MODULES; i++)
		l->r[i] = load_from_ram(l->c, stack_module_names[i]);
	return NULL;
}

void stack_modules_start(struct ctx *c)
{
	pthread_attr_t a;

	loader.c = c;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	/* no thread: stack_modules_wait() finds every result -ENOENT and the
	 * modules load in line, as before */
	loader.running = pthread_create(&loader.thread, &a, stack_loader_run, &loader) == 0;
	pthread_attr_destroy(&a);
}

/* Joins the loader (a module whose init hangs is the watchdog's: no step
 * ends meanwhile) and copies each module's result: 0, -ENOENT when it is
 * not in RAM, or the load's own error. */
void stack_modules_wait(int r[STACK_MODULES])
{
	bool ran = loader.running;

	if (ran) {
		pthread_join(loader.thread, NULL);
		loader.running = false;
	}
	/* none ran (stock mode, a caller without start_devices, no thread):
	 * nothing was loaded, every module is still to be found */
	for (int i = 0; i < STACK_MODULES; i++)
		r[i] = ran ? loader.r[i] : -ENOENT;
}
