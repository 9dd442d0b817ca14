/* SPDX-License-Identifier: GPL-2.0-or-later */
/* initramfs-append: IN, zero padding to 512 bytes, then an uncompressed
 * newc cpio with our /init (and a few more files) -> OUT. A gzip'ed IN gets
 * an empty uncompressed cpio in front (the lead, see cpio.h).
 *
 * The kernel unpacks concatenated archives in order and later files replace
 * earlier ones, so the distribution's initramfs stays as it is and only
 * /init is ours. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpio.h"
#include "log.h"

#define EXIT_OK 0
#define EXIT_ERROR 1
#define EXIT_USAGE 2

#ifndef QE_VERSION
#error "QE_VERSION is passed by the Makefile from the file `version`"
#endif
#define DEFAULT_VERSION "qubes-ephemeral " QE_VERSION
#define VERSION_PATH "usr/lib/qubes-ephemeral/version"
#define DIR_MODE 0755

struct add {
	char src[4096];
	char dest[4096];
	int mode;        /* -1: the source file's permissions */
};

struct args {
	const char *init, *version, *in, *out;
	struct add *adds;
	size_t nadds;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: initramfs-append --init FILE [--version STRING] [--add SRC:DEST[:MODE]]... IN OUT\n"
		"Writes OUT = IN + an uncompressed cpio holding /init = FILE, the version\n"
		"file " VERSION_PATH " and each SRC as DEST (MODE octal, default SRC's).\n");
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
		} else if (strcmp(o, "--add") == 0 && has_val) {
			if (parse_add(argv[++i], &a->adds[a->nadds]) < 0)
				return usage_error("bad --add \"%s\": want SRC:DEST[:MODE], "
						 "DEST a relative path, MODE octal", argv[i]);
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

static int read_file(const char *path, char **data, size_t *len, mode_t *mode)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	} else {
		*len = (size_t)st.st_size;
		*mode = st.st_mode;
		*data = malloc(*len ? *len : 1);
		if (!*data)
			r = -ENOMEM;
		for (size_t got = 0; r == 0 && got < *len;) {
			ssize_t n = read(fd, *data + got, *len - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = n < 0 ? -errno : -EIO;  /* shrank while we read */
				free(*data);
				*data = NULL;
				break;
			}
			got += (size_t)n;
		}
	}
	close(fd);
	return r;
}

/* Every initramfs starts with a cpio or a compressed stream. */
static bool looks_like_initramfs(const unsigned char *b, size_t n)
{
	static const struct { const char *magic; size_t len; } known[] = {
		{ "070701", 6 }, { "070702", 6 },
		{ "\x1f\x8b", 2 },                    /* gzip */
		{ "\x28\xb5\x2f\xfd", 4 },            /* zstd */
		{ "\xfd" "7zXZ\0", 6 },               /* xz */
		{ "\x5d\x00", 2 },                    /* lzma */
		{ "BZh", 3 },                         /* bzip2 */
		{ "\x02\x21\x4c\x18", 4 },            /* lz4 legacy */
		{ "\x04\x22\x4d\x18", 4 },            /* lz4 frame */
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (n >= known[i].len && memcmp(b, known[i].magic, known[i].len) == 0)
			return true;
	return false;
}

/* Adds DIR_MODE entries for every parent folder of path not yet written. */
static int add_parents(struct cpio_writer *w, const char *path, char ***done, size_t *ndone)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		bool seen = false;
		for (size_t i = 0; i < *ndone && !seen; i++)
			seen = strcmp((*done)[i], buf) == 0;
		if (!seen) {
			char **d = realloc(*done, (*ndone + 1) * sizeof(**done));
			char *copy = strdup(buf);
			if (d)
				*done = d;
			if (!d || !copy) {
				free(copy);
				return -ENOMEM;
			}
			(*done)[(*ndone)++] = copy;
			int r = cpio_add_dir(w, buf, DIR_MODE);
			if (r < 0)
				return r;
		}
		*s = '/';
	}
	return 0;
}

struct entry {
	const char *dest;
	const char *data;
	size_t len;
	unsigned mode;
};

static int write_archive(FILE *f, const struct entry *e, size_t n)
{
	struct cpio_writer w;
	char **dirs = NULL;
	size_t ndirs = 0;
	int r = 0;

	cpio_init(&w, f);
	/* folders first, so each file's parent exists when the kernel creates it */
	for (size_t i = 0; i < n && r == 0; i++)
		r = add_parents(&w, e[i].dest, &dirs, &ndirs);
	for (size_t i = 0; i < n && r == 0; i++)
		r = cpio_add_file(&w, e[i].dest, e[i].mode, e[i].data, e[i].len);
	if (r == 0)
		r = cpio_finish(&w);
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	free(dirs);
	return r;
}

/* Copies IN to f (behind the lead archive when IN is gzip'ed) and pads with
 * zeros to 512; checks the magic on the way. */
static int copy_in(const char *in, FILE *f)
{
	static const char zeros[512];
	unsigned char buf[65536];
	uint64_t total = 0;
	FILE *src = fopen(in, "rb");
	size_t n;
	int r = 0;

	if (!src)
		return log_errno(neg_errno(), "cannot read IN \"%s\"", in);
	while ((n = fread(buf, 1, sizeof(buf), src)) > 0) {
		if (total == 0 && !looks_like_initramfs(buf, n)) {
			log_info("IN does not look like an initramfs "
				 "(no cpio or known compression magic)");
			r = -EINVAL;
			break;
		}
		if (total == 0 && cpio_lead_needed(buf, n)) {
			unsigned char lead[CPIO_LEAD_SIZE];   /* see cpio.h: Xen's gunzip */
			cpio_lead(lead);
			if (fwrite(lead, 1, sizeof(lead), f) != sizeof(lead)) {
				r = log_errno(neg_errno(), "cannot write OUT");
				break;
			}
		}
		if (fwrite(buf, 1, n, f) != n) {
			r = log_errno(neg_errno(), "cannot write OUT");
			break;
		}
		total += n;
	}
	if (r == 0 && ferror(src))
		r = log_errno(-EIO, "cannot read IN \"%s\"", in);
	if (r == 0 && total == 0) {
		log_info("IN \"%s\" is empty, not an initramfs", in);
		r = -EINVAL;
	}
	fclose(src);
	size_t padn = (size_t)((512 - total % 512) % 512);
	if (r == 0 && padn && fwrite(zeros, 1, padn, f) != padn)
		r = log_errno(neg_errno(), "cannot write OUT");
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

/* Writes IN + archive into the open temp file; closes it. */
static int write_tmp(const struct args *a, const struct entry *e, size_t n,
		     int fd, const char *tmp)
{
	struct stat st;
	FILE *f = fdopen(fd, "wb");
	int r;

	if (!f) {
		r = log_errno(neg_errno(), "cannot write \"%s\"", tmp);
		close(fd);
		return r;
	}
	r = copy_in(a->in, f);
	if (r == 0 && (r = write_archive(f, e, n)) < 0)
		log_errno(r, "cannot write \"%s\"", tmp);
	/* keep IN's permissions: an initramfs may hold secrets */
	mode_t mode = stat(a->in, &st) == 0 ? (st.st_mode & 0777) : 0600;
	if (r == 0 && (fflush(f) != 0 || fchmod(fd, mode) < 0 || fsync(fd) < 0))
		r = log_errno(neg_errno(), "cannot write \"%s\"", tmp);
	if (fclose(f) != 0 && r == 0)
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
static int write_out(const struct args *a, const struct entry *e, size_t n)
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
	r = write_tmp(a, e, n, fd, tmp);
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

/* Loads every file the archive will hold: init, version, the --add ones. */
static int load_entries(const struct args *a, struct entry *e, char **bufs, char *version)
{
	size_t len;
	mode_t mode;
	int r;

	if ((r = read_file(a->init, &bufs[0], &len, &mode)) < 0)
		return log_errno(r, "cannot read init FILE \"%s\"", a->init);
	e[0] = (struct entry){ "init", bufs[0], len, 0755 };
	e[1] = (struct entry){ VERSION_PATH, version, strlen(version), 0644 };
	for (size_t i = 0; i < a->nadds; i++) {
		const struct add *ad = &a->adds[i];
		if ((r = read_file(ad->src, &bufs[i + 1], &len, &mode)) < 0)
			return log_errno(r, "cannot read --add SRC \"%s\"", ad->src);
		unsigned m = ad->mode >= 0 ? (unsigned)ad->mode : (unsigned)(mode & 07777);
		e[i + 2] = (struct entry){ ad->dest, bufs[i + 1], len, m };
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	int r;

	log_prog = "initramfs-append";
	if (parse_args(argc, argv, &a) < 0) {
		usage();
		free(a.adds);
		return EXIT_USAGE;
	}
	size_t n = a.nadds + 2;
	struct entry *e = calloc(n, sizeof(*e));
	char **bufs = calloc(a.nadds + 1, sizeof(*bufs));
	char *version = malloc(strlen(a.version) + 2);
	if (!e || !bufs || !version) {
		r = log_errno(-ENOMEM, "out of memory");
	} else {
		sprintf(version, "%s\n", a.version);
		r = load_entries(&a, e, bufs, version);
		if (r == 0)
			r = write_out(&a, e, n);
	}
	for (size_t i = 0; bufs && i < a.nadds + 1; i++)
		free(bufs[i]);
	free(bufs);
	free(e);
	free(version);
	free(a.adds);
	return r < 0 ? EXIT_ERROR : EXIT_OK;
}
