/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral kernel add|sync|list: ephemeral variants of dom0 kernels
 * (see kernel.h for what a variant holds, kernel_build.c and kernel_swap.c for how it is put
 * in place atomically). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "fileio.h"
#include "kernel.h"
#include "log.h"
#include "qube.h"
#include "qvm.h"
#include "sha256.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qvm-ephemeral kernel [OPTIONS] add [--force] VER...\n"
		"       qvm-ephemeral kernel [OPTIONS] sync\n"
		"       qvm-ephemeral kernel [OPTIONS] list\n"
		"\n"
		"add    makes KERNELS_DIR/VER-ephemeral: VER's files, its initramfs with our cpio\n"
		"       appended (/init = ephemeral-init), and modules.img whose initramfs copy\n"
		"       (booted by HVMs) is the same. VER is never written. Nothing happens when\n"
		"       the variant is current; a stale one is rebuilt; --force rebuilds anyway\n"
		"       and replaces a VER-ephemeral not made by qvm-ephemeral.\n"
		"sync   add for every installed kernel; removes variants whose kernel is gone\n"
		"       unless a qube uses them (asks qubesd; when it cannot, keeps them).\n"
		"list   kernels, variants, their state (current, stale, orphan, foreign,\n"
		"       broken) and the version inside each variant's initramfs.\n"
		"\n"
		"options:\n"
		"  --kernels-dir DIR   default: the linux-kernel pool's folder (asked from qubesd),\n"
		"                      else " KERNELS_DIR_DEFAULT "\n"
		"  --init-binary PATH  default " KERNEL_INIT_DEFAULT "\n"
		"  -v, -q, -h\n"
		"\n"
		"exit codes: 0 done; 1 failed (reason printed); 2 usage; %d (sync) a kernel\n"
		"folder is still being installed: run again later (the systemd unit does)\n",
		KERNEL_EXIT_RETRY);
}

/* --- context --- */

static int kctx_open(struct kctx *c, const char *dir, bool lock)
{
	c->dir = dir;
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return log_errno(-errno, "cannot open the kernel folder %s", dir);
	if (!lock)
		return 0;
	/* on the folder itself: no lock file (Qubes lists every entry of the
	 * folder as a kernel), and it goes away with the process */
	if (flock(c->dirfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK && !qvm_quiet)
			log_info("waiting for another qvm-ephemeral kernel run in %s", dir);
		if (flock(c->dirfd, LOCK_EX) < 0) {
			int r = log_errno(-errno, "cannot lock %s", dir);
			close(c->dirfd);
			c->dirfd = -1;
			return r;
		}
	}
	return 0;
}

static void kctx_close(struct kctx *c)
{
	if (c->dirfd >= 0)
		close(c->dirfd);
	c->dirfd = -1;
	free(c->init);
	c->init = NULL;
}

int kctx_load_init(struct kctx *c, bool quiet)
{
	char *data;
	size_t len;
	uint8_t d[32];
	int r;

	if (c->init)
		return 0;
	r = read_file_at(AT_FDCWD, c->init_path, 0, 64u << 20, &data, &len);
	if (r == 0 && (len < 4 || memcmp(data, "\x7f" "ELF", 4))) {
		free(data);
		r = -ENOEXEC;
	}
	if (r < 0) {
		if (!quiet)
			log_errno(r, "cannot read the ephemeral-init binary %s (install qubes-ephemeral, or give "
				  "--init-binary PATH)", c->init_path);
		return r;
	}
	c->init = (unsigned char *)data;
	c->init_len = len;
	sha256(data, len, d);
	sha_hex(d, c->init_sha);
	snprintf(c->version, sizeof(c->version), "qubes-ephemeral %s init-sha256=%s", KERNEL_TOOL_VERSION, c->init_sha);
	return 0;
}

/* --- who uses a variant --- */

static int users_from_qubesd(const char *variant, char ***names, size_t *n)
{
	return qubes_using_kernel(variant, names, n);
}

int (*kernel_variant_users)(const char *variant, char ***names, size_t *n) = users_from_qubesd;

/* --- add --- */

/* FOREIGN_OK: a VER-ephemeral not made by us is left alone (enable, sync);
 * QUIET_CURRENT: say nothing when there is nothing to do (enable) */
enum ensure_flags { ENSURE_FORCE = 1, ENSURE_FOREIGN_OK = 2, ENSURE_QUIET_CURRENT = 4 };

/* Makes VER's variant unless it is current. 1 = made, 0 = nothing to do. */
static int ensure_one(struct kctx *c, const char *ver, int flags)
{
	char variant[KNAME_MAX];
	struct stat st;
	struct vcheck v;
	int r;

	if (kernel_variant_name(ver, variant, sizeof(variant)) < 0) {
		log_info("\"%s\" is not a kernel name%s", ver,
			 kernel_variant_base(ver, NULL, 0) ? " (it is a variant; give its kernel)" : "");
		return -EINVAL;
	}
	if (fstatat(c->dirfd, variant, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		variant_check(c, variant, &v);
		if (v.st == VS_CURRENT && !(flags & ENSURE_FORCE)) {
			if (v.touched && (r = variant_refresh_manifest(c, variant, &v.m)) < 0)
				log_errno(r, "warning: cannot update the manifest of %s", variant);
			if (!qvm_quiet && !(flags & ENSURE_QUIET_CURRENT))
				printf("%s: current (%s)\n", variant, v.version);
			return 0;
		}
		if (v.st == VS_FOREIGN && !(flags & ENSURE_FORCE)) {
			if (flags & ENSURE_FOREIGN_OK) {
				if (!qvm_quiet && !(flags & ENSURE_QUIET_CURRENT))
					printf("%s: not made by qvm-ephemeral, left alone\n", variant);
				return 0;
			}
			log_info("%s/%s exists and was not made by qvm-ephemeral; --force replaces it", c->dir, variant);
			return -EEXIST;
		}
		if (!qvm_quiet)
			printf("%s: %s%s%s, rebuilding\n", variant, (flags & ENSURE_FORCE) ? "forced" : vstate_name(v.st),
			       v.why[0] ? ": " : "", v.why);
	}
	if ((r = kctx_load_init(c, true)) < 0) {
		log_errno(r, "cannot make %s: cannot read the ephemeral-init binary %s (install qubes-ephemeral, or give "
			  "--init-binary PATH)", variant, c->init_path);
		return r;
	}
	if ((r = variant_build(c, ver)) < 0)
		return r;
	if (!qvm_quiet)
		printf("%s: made from %s (%s)\n", variant, ver, c->version);
	return 1;
}

static int do_add(struct kctx *c, char **vers, int n, bool force)
{
	int failed = 0;

	if (n == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (kctx_load_init(c, false) < 0)
		return EXIT_FAIL;
	variant_cleanup(c);
	for (int i = 0; i < n; i++)
		if (ensure_one(c, vers[i], force ? ENSURE_FORCE : 0) < 0)
			failed++;
	return failed ? EXIT_FAIL : EXIT_OK;
}

/* --- sync --- */

struct entry {
	char name[KNAME_MAX];
};

/* Non-hidden folders of KERNELS_DIR, sorted. */
static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int list_dirs(struct kctx *c, struct entry **out, size_t *n)
{
	int fd = dup(c->dirfd);
	DIR *d;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return log_errno(-errno, "cannot list %s", c->dir);
	}
	rewinddir(d);
	for (struct dirent *e; (e = readdir(d));) {
		struct stat st;
		if (e->d_name[0] == '.' || strlen(e->d_name) >= KNAME_MAX ||
		    fstatat(c->dirfd, e->d_name, &st, 0) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			struct entry *ne = realloc(*out, cap * sizeof(**out));
			if (!ne) {
				closedir(d);
				return -ENOMEM;
			}
			*out = ne;
		}
		snprintf((*out)[(*n)++].name, KNAME_MAX, "%s", e->d_name);
	}
	closedir(d);
	qsort(*out, *n, sizeof(**out), cmp_entry);
	return 0;
}

static bool has_file(int dirfd, const char *dir, const char *file)
{
	char p[2 * KNAME_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	return fstatat(dirfd, p, &st, 0) == 0 && S_ISREG(st.st_mode);
}

/* Newest mtime/ctime of the folder and its entries. */
static time_t folder_age(struct kctx *c, const char *name)
{
	struct stat st;
	time_t newest = 0;
	int fd = openat(c->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return 0;
	/* mtimes only: the folder's changes whenever an entry is added or
	 * renamed in (what a package install does); ctime cannot be set back,
	 * so tests could not age a folder */
	if (fstat(fd, &st) == 0)
		newest = st.st_mtime;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return 0;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (st.st_mtime > newest)
			newest = st.st_mtime;
	}
	closedir(d);
	return time(NULL) - newest;
}

/* Moves the variant to a hidden name, then removes it: never half there. */
static int remove_variant(struct kctx *c, const char *variant)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.XXXXXX", c->dir, variant);
	if (!mkdtemp(tmp))
		return -errno;
	const char *hidden = strrchr(tmp, '/') + 1;
	if (renameat(c->dirfd, variant, c->dirfd, hidden) < 0) {
		int r = -errno;
		unlinkat(c->dirfd, hidden, AT_REMOVEDIR);
		return r;
	}
	fsync(c->dirfd);
	return kio_rm_rf(c->dirfd, hidden);
}

struct sync_count {
	int made, current, removed, kept, skipped, pending, failed;
};

static void sync_orphan(struct kctx *c, const char *variant, struct sync_count *k)
{
	struct vcheck v;
	char **users = NULL;
	size_t n = 0;
	int r;

	variant_check(c, variant, &v);
	if (v.st == VS_FOREIGN) {
		if (qvm_verbose)
			printf("%s: not made by qvm-ephemeral, left alone\n", variant);
		return;
	}
	r = kernel_variant_users(variant, &users, &n);
	if (r < 0) {
		k->kept++;
		printf("%s: orphan (its kernel %s is gone), KEPT: cannot ask qubesd which qubes use it (%s)\n", variant,
		       v.m.base[0] ? v.m.base : "?", strerror(-r));
		log_info("warning: %s kept: which qubes use it is unknown", variant);
		return;
	}
	if (n > 0) {
		k->kept++;
		printf("%s: orphan (its kernel is gone), kept: used by", variant);
		for (size_t i = 0; i < n; i++)
			printf("%s %s", i ? "," : "", users[i]);
		printf("\n");
		qubes_names_free(users, n);
		return;
	}
	if ((r = remove_variant(c, variant)) < 0) {
		k->failed++;
		log_errno(r, "cannot remove %s/%s", c->dir, variant);
		return;
	}
	k->removed++;
	if (!qvm_quiet)
		printf("%s: removed (its kernel is gone, no qube uses it)\n", variant);
}

static int do_sync(struct kctx *c)
{
	static const char *need[] = { "vmlinuz", "initramfs", "modules.img" };
	struct sync_count k = { 0 };
	struct entry *e;
	size_t n;

	if (kctx_load_init(c, false) < 0)
		return EXIT_FAIL;
	variant_cleanup(c);
	if (list_dirs(c, &e, &n) < 0)
		return EXIT_FAIL;
	for (size_t i = 0; i < n; i++) {
		const char *name = e[i].name;
		char base[KNAME_MAX];
		if (kernel_variant_base(name, base, sizeof(base))) {
			if (!has_file(c->dirfd, base, "vmlinuz"))
				sync_orphan(c, name, &k);
			continue;
		}
		const char *missing = NULL;
		for (size_t m = 0; m < 3 && !missing; m++)
			if (!has_file(c->dirfd, name, need[m]))
				missing = need[m];
		if (missing) {
			if (folder_age(c, name) < KERNEL_SETTLE_SECONDS) {
				k.pending++;
				printf("%s: incomplete (no %s yet; being installed?), will retry\n", name, missing);
			} else if (strcmp(missing, "vmlinuz")) {
				k.skipped++;
				printf("%s: has no %s, no variant made\n", name, missing);
			} else if (qvm_verbose) {
				printf("%s: no vmlinuz, not a kernel\n", name);
			}
			continue;
		}
		int r = ensure_one(c, name, ENSURE_FOREIGN_OK);
		if (r < 0)
			k.failed++;
		else if (r > 0)
			k.made++;
		else
			k.current++;
	}
	free(e);
	if (!qvm_quiet || k.failed || k.kept)
		printf("sync: %d made, %d current, %d removed, %d kept, %d skipped, %d incomplete, %d failed\n", k.made,
		       k.current, k.removed, k.kept, k.skipped, k.pending, k.failed);
	return k.failed ? EXIT_FAIL : k.pending ? KERNEL_EXIT_RETRY : EXIT_OK;
}

/* --- list --- */

static int do_list(struct kctx *c)
{
	struct entry *e;
	size_t n, w = strlen("NAME");

	if (kctx_load_init(c, true) < 0 && !qvm_quiet)
		log_info("note: %s not readable: staleness against the installed ephemeral-init not checked", c->init_path);
	if (list_dirs(c, &e, &n) < 0)
		return EXIT_FAIL;
	for (size_t i = 0; i < n; i++)
		if (strlen(e[i].name) > w)
			w = strlen(e[i].name);
	printf("%-*s  %-8s  %-10s  %s\n", (int)w, "NAME", "KIND", "STATE", "VERSION / REASON");
	for (size_t i = 0; i < n; i++) {
		const char *name = e[i].name;
		char base[KNAME_MAX], variant[KNAME_MAX];
		struct vcheck v;
		if (kernel_variant_base(name, base, sizeof(base))) {
			variant_check(c, name, &v);
			char detail[512];
			if (v.st == VS_CURRENT)
				snprintf(detail, sizeof(detail), "%s", v.version);
			else if (v.version[0])
				snprintf(detail, sizeof(detail), "%s; %s", v.why, v.version);
			else
				snprintf(detail, sizeof(detail), "%s", v.why);
			printf("%-*s  %-8s  %-10s  %s\n", (int)w, name, "variant", vstate_name(v.st), detail);
			continue;
		}
		if (!has_file(c->dirfd, name, "vmlinuz"))
			continue;
		const char *state = "no variant";
		char detail[2 * KNAME_MAX + 40];
		snprintf(detail, sizeof(detail), "run: qvm-ephemeral kernel add %s", name);
		if (kernel_variant_name(name, variant, sizeof(variant)) == 0 && has_file(c->dirfd, variant, "vmlinuz")) {
			variant_check(c, variant, &v);
			state = v.st == VS_CURRENT ? "ok" : v.st == VS_FOREIGN ? "unknown" : "outdated";
			snprintf(detail, sizeof(detail), "variant %s is %s", variant, vstate_name(v.st));
		}
		printf("%-*s  %-8s  %-10s  %s\n", (int)w, name, "original", state, detail);
	}
	free(e);
	return EXIT_OK;
}

/* --- entry points --- */

int kernel_variant_ensure(const char *kdir, const char *ver, char *variant_name, size_t len)
{
	struct kctx c = { .dirfd = -1 };
	const char *init = TEST_ENV("QVM_EPHEMERAL_INIT");
	int r;

	c.init_path = init && *init ? init : KERNEL_INIT_DEFAULT;
	if ((r = kernel_variant_name(ver, variant_name, len)) < 0) {
		log_info("invalid kernel name \"%s\"", ver);
		return r;
	}
	if ((r = kctx_open(&c, kdir, true)) < 0)
		return r;
	kctx_load_init(&c, true);   /* to tell a variant made from an older init */
	variant_cleanup(&c);
	r = ensure_one(&c, ver, ENSURE_FOREIGN_OK | ENSURE_QUIET_CURRENT);
	kctx_close(&c);
	return r < 0 ? r : 0;
}

int cmd_kernel(int argc, char **argv)
{
	struct kctx c = { .dirfd = -1 };
	const char *dir = NULL, *sub = NULL, *init = TEST_ENV("QVM_EPHEMERAL_INIT");
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int nrest = 0, exit_now = -1, rc;
	bool force = false;

	if (!rest)
		return EXIT_FAIL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (qvm_common_opt(a, usage, &exit_now)) {
			if (exit_now >= 0)
				goto done;
		} else if (!strcmp(a, "--kernels-dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(a, "--init-binary") && i + 1 < argc) {
			init = argv[++i];
		} else if (!strcmp(a, "--force")) {
			force = true;
		} else if (a[0] == '-') {
			fprintf(stderr, "qvm-ephemeral: kernel: unknown option or missing value: %s\n", a);
			usage(stderr);
			exit_now = EXIT_USAGE;
			goto done;
		} else if (!sub) {
			sub = a;
		} else {
			rest[nrest++] = argv[i];
		}
	}
	c.init_path = init && *init ? init : KERNEL_INIT_DEFAULT;
	if (!sub || (strcmp(sub, "add") && ((strcmp(sub, "sync") && strcmp(sub, "list")) || nrest) ) ||
	    (force && strcmp(sub, "add"))) {
		usage(stderr);
		exit_now = EXIT_USAGE;
		goto done;
	}
	if (kctx_open(&c, dir ? dir : kernels_dir(), strcmp(sub, "list") != 0) < 0) {
		exit_now = EXIT_FAIL;
		goto done;
	}
	if (!strcmp(sub, "add"))
		exit_now = do_add(&c, rest, nrest, force);
	else if (!strcmp(sub, "sync"))
		exit_now = do_sync(&c);
	else
		exit_now = do_list(&c);
done:
	rc = exit_now;
	kctx_close(&c);
	free(rest);
	return rc;
}
