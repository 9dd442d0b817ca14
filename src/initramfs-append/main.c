/* SPDX-License-Identifier: GPL-2.0-or-later */
/* initramfs-append: the command line of the appender (src/lib/appender.h):
 * OUT = IN + our uncompressed cpio with /init, the version file and the
 * --add files; written beside OUT and renamed over it. */
#define _GNU_SOURCE   /* asprintf */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appender.h"
#include "carry.h"
#include "fileio.h"
#include "log.h"

#define EXIT_OK 0
#define EXIT_ERROR 1
#define EXIT_USAGE 2

#ifndef QE_VERSION
#error "QE_VERSION is passed by the Makefile from the file `version`"
#endif
#define DEFAULT_VERSION "qubes-ephemeral " QE_VERSION
#define VERSION_PATH APPEND_VERSION_PATH

struct add {
	char src[4096];
	char dest[4096];
	int mode;        /* -1: the source file's permissions */
};

struct args {
	const char *init, *version, *in, *out;
	const char *carry;      /* --carry-modules: a /lib/modules/KVER folder */
	struct add *adds;
	size_t nadds;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: initramfs-append --init FILE [--version STRING] [--add SRC:DEST[:MODE]]...\n"
		"                        [--carry-modules /lib/modules/KVER] IN OUT\n"
		"Writes OUT = IN + an uncompressed cpio holding /init = FILE, the version\n"
		"file " VERSION_PATH ", each SRC as DEST (MODE octal, default SRC's) and,\n"
		"with --carry-modules, the storage stack's modules of that kernel with their\n"
		"dependencies in " CARRIED_MODULES_DIR ".\n");
}

/* errno after a failed call, never 0 (stdio may leave it unset) */
static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* A path inside the archive: relative, no empty, "." or ".." parts. */
static bool dest_ok(const char *d)
{
	if (!*d)
		return false;
	for (const char *p = d; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/' && !*++p)
			return false;
	}
	return true;
}

static int parse_mode(const char *s, int *mode)
{
	char *end;
	long v;

	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 8);
	if (errno || *end || v < 0 || v > 07777)
		return -EINVAL;
	*mode = (int)v;
	return 0;
}

/* SRC:DEST[:MODE]; paths holding ':' are not supported. */
static int parse_add(const char *spec, struct add *a)
{
	const char *c1 = strchr(spec, ':');
	if (!c1 || c1 == spec || (size_t)(c1 - spec) >= sizeof(a->src))
		return -EINVAL;
	snprintf(a->src, sizeof(a->src), "%.*s", (int)(c1 - spec), spec);
	const char *dest = c1 + 1, *c2 = strchr(dest, ':');
	a->mode = -1;
	if (c2 && parse_mode(c2 + 1, &a->mode) < 0)
		return -EINVAL;
	while (*dest == '/')
		dest++;
	size_t dl = c2 ? (size_t)(c2 - dest) : strlen(dest);
	if (dl >= sizeof(a->dest))
		return -EINVAL;
	snprintf(a->dest, sizeof(a->dest), "%.*s", (int)dl, dest);
	return dest_ok(a->dest) ? 0 : -EINVAL;
}

/* A usage mistake: the sentence says it all, no errno text. */
#define usage_error(...) (log_info(__VA_ARGS__), -EINVAL)

static int parse_args(int argc, char **argv, struct args *a)
{
	const char *pos[2];
	int npos = 0;

	a->version = DEFAULT_VERSION;
	a->adds = calloc((size_t)argc, sizeof(*a->adds));
	if (!a->adds)
		return log_errno(-ENOMEM, "cannot parse arguments");
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		bool has_val = i + 1 < argc;
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			usage();
			exit(EXIT_OK);
		} else if (strcmp(o, "--init") == 0 && has_val) {
			a->init = argv[++i];
		} else if (strcmp(o, "--version") == 0 && has_val) {
			a->version = argv[++i];
		} else if (strcmp(o, "--carry-modules") == 0 && has_val) {
			a->carry = argv[++i];
		} else if (strcmp(o, "--add") == 0 && has_val) {
			if (parse_add(argv[++i], &a->adds[a->nadds]) < 0)
				return usage_error("bad --add \"%s\": want SRC:DEST[:MODE], "
						 "DEST a relative path, MODE octal", argv[i]);
			if (!append_dest_safe(a->adds[a->nadds].dest))
				return usage_error("bad --add \"%s\": DEST under lib/, lib64/, bin/ or sbin/ would replace "
						 "the initramfs' symlink of that name with a folder; use usr/lib/... instead", argv[i]);
			a->nadds++;
		} else if (o[0] == '-' && o[1]) {
			return usage_error("unknown option or missing value: %s", o);
		} else if (npos < 2) {
			pos[npos++] = o;
		} else {
			return usage_error("too many arguments: %s", o);
		}
	}
	if (!a->init)
		return usage_error("--init FILE is required");
	if (npos != 2)
		return usage_error("need IN and OUT");
	a->in = pos[0];
	a->out = pos[1];
	return 0;
}

/* A regular file's bytes and permissions (the --add default). */
static int load_file(const char *path, char **data, size_t *len, unsigned *mode)
{
	struct stat st;
	int r = read_file_at(AT_FDCWD, path, 0, (size_t)1 << 30, data, len);

	if (r == 0 && stat(path, &st) < 0) {
		r = neg_errno();
		free(*data);
		*data = NULL;
	}
	if (r == 0)
		*mode = st.st_mode & 07777;
	return r;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Writes IN + our archive into the open temp file; closes it. */
static int write_tmp(const char *in, const struct append_payload *p, int fd, const char *tmp)
{
	struct stat st;
	uint64_t cpio_offset;
	bool write_failed;
	int r, infd = open(in, O_RDONLY | O_CLOEXEC);

	if (infd < 0) {
		r = log_errno(neg_errno(), "cannot read IN \"%s\"", in);
		close(fd);
		return r;
	}
	r = append_initramfs(infd, fd, p, &cpio_offset, &write_failed);
	if (r == -ENODATA)
		log_info("IN \"%s\" is empty, not an initramfs", in);
	else if (r == -EMEDIUMTYPE)
		log_info("IN does not look like an initramfs (no cpio or known compression magic)");
	else if (r < 0 && write_failed)
		log_errno(r, "cannot write \"%s\"", tmp);
	else if (r < 0)
		log_errno(r, "cannot read IN \"%s\"", in);
	/* keep IN's permissions: an initramfs may hold secrets */
	mode_t mode = fstat(infd, &st) == 0 ? (st.st_mode & 0777) : 0600;
	close(infd);
	if (r == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
		r = log_errno(neg_errno(), "cannot write \"%s\"", tmp);
	if (close(fd) != 0 && r == 0)
		r = log_errno(neg_errno(), "cannot write \"%s\"", tmp);
	return r;
}

/* OUT's folder and file name: "a/b" -> "a", "b"; "b" -> ".", "b". */
static void split_path(const char *path, char *dir, size_t dirsz, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, dirsz, ".");
		*base = path;
	} else {
		snprintf(dir, dirsz, "%.*s", slash == path ? 1 : (int)(slash - path), path);
		*base = slash + 1;
	}
}

/* Writes a temp file beside OUT, then renames it over OUT: never a half file. */
static int write_out(const struct args *a, const struct append_payload *p)
{
	char dir[4096], tmp[4096];
	const char *base;
	int r;

	split_path(a->out, dir, sizeof(dir), &base);
	if (!*base || strlen(a->out) >= sizeof(dir) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >= sizeof(tmp))
		return log_errno(-EINVAL, "bad OUT \"%s\"", a->out);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return log_errno(neg_errno(), "cannot create a temporary file in \"%s\"", dir);
	r = write_tmp(a->in, p, fd, tmp);
	if (r == 0 && rename(tmp, a->out) < 0)
		r = log_errno(neg_errno(), "cannot rename \"%s\" to \"%s\"", tmp, a->out);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	if ((r = fsync_dir(dir)) < 0)
		log_errno(r, "cannot sync folder \"%s\"", dir);
	return r;
}

/* Loads every file the archive will hold: init and the --add ones. */
static int load_payload(const struct args *a, struct append_payload *p, struct append_file *extra,
			char **bufs)
{
	size_t len;
	unsigned mode = 0;
	int r;

	if ((r = load_file(a->init, &bufs[0], &len, &mode)) < 0)
		return log_errno(r, "cannot read init FILE \"%s\"", a->init);
	*p = (struct append_payload){ .init = bufs[0], .init_len = len, .version = a->version,
				      .extra = extra, .nextra = a->nadds };
	for (size_t i = 0; i < a->nadds; i++) {
		const struct add *ad = &a->adds[i];
		if ((r = load_file(ad->src, &bufs[i + 1], &len, &mode)) < 0)
			return log_errno(r, "cannot read --add SRC \"%s\"", ad->src);
		unsigned m = ad->mode >= 0 ? (unsigned)ad->mode : mode;
		extra[i] = (struct append_file){ ad->dest, bufs[i + 1], len, m, false };
	}
	return 0;
}

/* --carry-modules DIR: the stack's modules (lib/carry.c) from DIR, a
 * /lib/modules/KVER folder */
static int read_from_dir(void *dir, const char *rel, char **data, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", (const char *)dir, rel);
	return read_file_at(AT_FDCWD, path, 0, (size_t)64 << 20, data, len);
}

static int load_carried(const char *dir, struct carry_set *m)
{
	int r = carry_collect(read_from_dir, (void *)dir, m);

	if (r < 0 && !strcmp(m->failed, "modules.dep"))
		return log_errno(r, "cannot read \"%s/modules.dep\" (--carry-modules wants a /lib/modules/KVER "
				 "folder with depmod's files)", dir);
	if (r < 0 && m->failed[0])
		return log_errno(r, "cannot read module \"%s/%s\"", dir, m->failed);
	if (r < 0)
		return log_errno(r, "cannot work out the modules to carry from \"%s/modules.dep\"", dir);
	if (m->missing)
		log_info("%zu of the stack's modules are not in \"%s\" (built in or absent there): "
			 "the VM looks for them on its modules disk", m->missing, dir);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct append_payload p;
	int r;

	log_prog = "initramfs-append";
	if (parse_args(argc, argv, &a) < 0) {
		usage();
		free(a.adds);
		return EXIT_USAGE;
	}
	/* the --add files, then the carried modules and their modules.dep */
	static struct carry_set m;
	struct append_file *extra = calloc(a.nadds + CARRY_MAX + 2, sizeof(*extra));
	char **bufs = calloc(a.nadds + 1, sizeof(*bufs));
	if (!extra || !bufs) {
		r = log_errno(-ENOMEM, "out of memory");
	} else {
		r = load_payload(&a, &p, extra, bufs);
		if (r == 0 && a.carry && (r = load_carried(a.carry, &m)) == 0) {
			memcpy(extra + p.nextra, m.f, m.n * sizeof(*extra));
			p.nextra += m.n;
		}
		if (r == 0)
			r = write_out(&a, &p);
	}
	carry_set_free(&m);
	for (size_t i = 0; bufs && i < a.nadds + 1; i++)
		free(bufs[i]);
	free(bufs);
	free(extra);
	free(a.adds);
	return r < 0 ? EXIT_ERROR : EXIT_OK;
}
