/* SPDX-License-Identifier: GPL-2.0-or-later */
/* File and process helpers of `qvm-ephemeral kernel`. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "kernel.h"
#include "qvm.h"
#include "sha256.h"
#include "spawn.h"

/* [off, off+len) of src to the same offset of dst. */
static int copy_range(int src, int dst, off_t off, off_t len)
{
	static char buf[1 << 20];
	bool use_cfr = true;

	while (len > 0) {
		if (use_cfr) {
			loff_t in = off, out = off;
			ssize_t n = copy_file_range(src, &in, dst, &out, (size_t)len, 0);
			if (n > 0) {
				off += n, len -= n;
				continue;
			}
			if (n == 0)
				return -EIO;   /* the source shrank while we copied */
			if (errno == EINTR)
				continue;
			if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
				return -errno;
			use_cfr = false;
		}
		size_t want = len < (off_t)sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t n = pread(src, buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (size_t done = 0; done < (size_t)n;) {
			ssize_t w = pwrite(dst, buf + done, (size_t)n - done, off + (off_t)done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
			done += (size_t)w;
		}
		off += n, len -= n;
	}
	return 0;
}

/* Data extents only: a 400 MiB modules.img that is mostly holes stays so. */
static int copy_sparse(int src, int dst, off_t size)
{
	off_t pos = 0;
	int r;

	while (pos < size) {
		off_t data = lseek(src, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;                      /* only a hole is left */
			if (errno == EINVAL || errno == EOPNOTSUPP)
				return copy_range(src, dst, pos, size - pos);
			return -errno;
		}
		off_t hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if (hole > size)
			hole = size;
		if ((r = copy_range(src, dst, data, hole - data)) < 0)
			return r;
		pos = hole;
	}
	return ftruncate(dst, size) < 0 ? -errno : 0;
}

int kio_copy(int srcfd, int dstdirfd, const char *dst, mode_t mode)
{
	struct stat st;
	int r = 0;
	int fd = openat(dstdirfd, dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

	if (fd < 0)
		return -errno;
	if (fstat(srcfd, &st) < 0)
		r = -errno;
	/* reflink: no data copied at all on btrfs/xfs; the original stays
	 * untouched as every later write to the copy is copy-on-write */
	else if (ioctl(fd, FICLONE, srcfd) < 0)
		r = copy_sparse(srcfd, fd, st.st_size);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int kio_sha256_fd(int fd, char out[65])
{
	static unsigned char buf[1 << 20];
	struct sha256_ctx h;
	uint8_t d[32];
	off_t off = 0;

	sha256_init(&h);
	for (;;) {
		ssize_t n = pread_full(fd, buf, sizeof(buf), off);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		sha256_update(&h, buf, (size_t)n);
		off += n;
	}
	sha256_final(&h, d);
	sha_hex(d, out);
	return 0;
}

int kio_fsync_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int r = 0;
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int kio_rm_rf(int parent, const char *name)
{
	struct stat st;
	int r = 0;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		int q = kio_rm_rf(dirfd(d), e->d_name);
		if (q < 0 && r == 0)
			r = q;
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && r == 0 && errno != ENOENT)
		r = -errno;
	return r;
}

int kio_find_tool(const char *name, const char *override, char *out, size_t n)
{
	const char *o = override;
	if (o && *o) {
		if (access(o, X_OK) < 0)
			return -ENOENT;
		return (size_t)snprintf(out, n, "%s", o) < n ? 0 : -ENAMETOOLONG;
	}
	const char *path = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin", path && *path ? path : "/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if ((size_t)snprintf(out, n, "%s/%s", d, name) < n && access(out, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int kio_run(int cwdfd, char *const argv[], const char *input, char **output)
{
	struct spawn_opts o = { .in = SPAWN_NULL, .out = SPAWN_PIPE, .err = SPAWN_OUT, .cwdfd = cwdfd, .c_locale = true };
	return spawn_run(argv, &o, input, 65536, output);
}

/* The decompressor of comp with its arguments, stdin -> stdout. */
static int decompressor(enum ird_comp comp, char path[4096], char *argv[5])
{
	static const struct {
		enum ird_comp comp;
		const char *tool;
		const char *args[3];
	} tools[] = {
		{ IRD_GZIP, "gzip", { "-dc", NULL } },
		{ IRD_ZSTD, "zstd", { "-dcq", NULL } },
		{ IRD_XZ, "xz", { "-dc", NULL } },
		{ IRD_LZMA, "xz", { "--format=lzma", "-dc", NULL } },
		{ IRD_BZIP2, "bzip2", { "-dc", NULL } },
		{ IRD_LZ4, "lz4", { "-dc", NULL } },
		{ IRD_LZO, "lzop", { "-dc", NULL } },
	};
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		if (tools[i].comp != comp)
			continue;
		if (kio_find_tool(tools[i].tool, NULL, path, 4096) < 0)
			return -ENOENT;
		argv[0] = path;
		size_t a = 1;
		for (size_t k = 0; tools[i].args[k]; k++)
			argv[a++] = (char *)tools[i].args[k];
		argv[a] = NULL;
		return 0;
	}
	return -ENOENT;
}

/* The decompressor of comp started on fd (from its offset), its output on c->out. */
static int decompressor_start(int fd, enum ird_comp comp, struct child *c)
{
	char path[4096];
	char *argv[5];
	int r = decompressor(comp, path, argv);

	if (r < 0)
		return r;
	struct spawn_opts o = { .in = fd, .out = SPAWN_PIPE, .err = SPAWN_NULL, .cwdfd = -1 };
	return spawn_start(argv, &o, c);
}

int kio_decompress_head(int fd, enum ird_comp comp, unsigned char *buf, size_t n, size_t *got)
{
	struct child c;
	int r;

	*got = 0;
	if ((r = decompressor_start(fd, comp, &c)) < 0)
		return r;
	ssize_t k = read_full(c.out, buf, n);
	*got = k > 0 ? (size_t)k : 0;
	close(c.out);          /* the decompressor dies of SIGPIPE: we have enough */
	c.out = -1;
	kill(c.pid, SIGTERM);
	spawn_wait(&c);
	return 0;
}

int kio_decompress_all(int fd, enum ird_comp comp, size_t max, unsigned char **buf, size_t *got)
{
	unsigned char *b = NULL;
	size_t cap = 0, n = 0;
	struct child c;
	int r;

	*buf = NULL, *got = 0;
	if ((r = decompressor_start(fd, comp, &c)) < 0)
		return r;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : (size_t)1 << 22;
			unsigned char *nb;
			if (cap >= max || !(nb = realloc(b, ncap > max ? max : ncap))) {
				r = cap >= max ? -EFBIG : -ENOMEM;
				break;
			}
			b = nb, cap = ncap > max ? max : ncap;
		}
		ssize_t k = read(c.out, b + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(c.out);
	c.out = -1;
	if (r < 0)
		kill(c.pid, SIGTERM);
	int st = spawn_wait(&c);
	/* trailing garbage after the stream makes gzip exit 2 with a warning:
	 * the kernel ignores it too, what was decompressed counts */
	if (r == 0 && st != 0 && st != 2)
		r = st < 0 ? st : -EIO;
	if (r < 0) {
		free(b);
		return r;
	}
	*buf = b, *got = n;
	return 0;
}

void kio_test_kill(const char *step)
{
	const char *at = TEST_ENV("QVM_EPHEMERAL_TEST_KILL_AT");
	if (at && !strcmp(at, step)) {
		fflush(NULL);
		raise(SIGKILL);
	}
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

int kernel_list_files(int verfd, char names[][KNAME_MAX], size_t max, size_t *n)
{
	struct stat st;
	int fd = dup(verfd);
	DIR *d;

	*n = 0;
	if (fd < 0)
		return -errno;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || strchr(e->d_name, '\n') || strlen(e->d_name) >= KNAME_MAX)
			continue;
		if (fstatat(verfd, e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (*n >= max) {
			closedir(d);
			return -E2BIG;
		}
		snprintf(names[(*n)++], KNAME_MAX, "%s", e->d_name);
	}
	closedir(d);
	qsort(names, *n, KNAME_MAX, cmp_names);
	return 0;
}
