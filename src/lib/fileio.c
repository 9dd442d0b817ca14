/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t read_loop(int fd, void *buf, size_t len, off_t off, int positional)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = positional ? pread(fd, (char *)buf + got, len - got, off + (off_t)got)
				       : read(fd, (char *)buf + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	return read_loop(fd, buf, len, 0, 0);
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	return read_loop(fd, buf, len, off, 1);
}

static int write_loop(int fd, const void *buf, size_t len, off_t off, int positional)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = positional ? pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done)
				       : write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	return write_loop(fd, buf, len, 0, 0);
}

int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	return write_loop(fd, buf, len, off, 1);
}

int read_fd_full(int fd, size_t max, char **out, size_t *len)
{
	struct stat st;
	/* stat's size is a first guess only: /proc files, pipes and sockets say 0 */
	size_t cap = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	size_t used = 0;
	char *buf = NULL;
	int r = 0;
	for (;;) {
		if (cap > max + 1)
			cap = max + 1;
		char *nb = realloc(buf, cap);
		if (!nb) {
			r = -ENOMEM;
			break;
		}
		buf = nb;
		ssize_t n = read_full(fd, buf + used, cap - used);
		if (n < 0) {
			r = (int)n;
			break;
		}
		used += (size_t)n;
		if (used < cap)
			break;              /* end of file */
		if (used > max) {
			r = -EFBIG;
			break;
		}
		cap *= 2;
	}
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[used] = 0;  /* used < cap here */
	*out = buf;
	*len = used;
	return 0;
}

int read_file_full(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = read_fd_full(fd, max, out, len);
	close(fd);
	return r;
}

int read_file_at(int dirfd, const char *path, int oflags, size_t max, char **out, size_t *len)
{
	/* O_NONBLOCK: a FIFO put where a file was expected must not hang us */
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | oflags);
	if (fd < 0)
		return -errno;
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EINVAL : read_fd_full(fd, max, out, len);
	close(fd);
	return r;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	int r = 0;
	if (fchmod(fd, mode) < 0)
		r = -errno;
	if (!r)
		r = write_full(fd, data, len);
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}
