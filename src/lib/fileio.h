/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole reads and writes: one place that loops over short transfers and
 * EINTR, so no caller treats a single read()/write() as complete. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* Reads up to len bytes, stopping early only at end of file. Returns the
 * number read, or a negative errno. */
ssize_t read_full(int fd, void *buf, size_t len);
/* The same at offset off (pread): the file position is not used. */
ssize_t pread_full(int fd, void *buf, size_t len, off_t off);
/* Writes all len bytes (at offset off with pwrite_full). 0 or a negative
 * errno; a write that makes no progress is -EIO. */
int write_full(int fd, const void *buf, size_t len);
int pwrite_full(int fd, const void *buf, size_t len, off_t off);

/* The whole file at path, NUL-terminated (*len excludes the NUL), also for
 * files whose size stat() does not know (/proc). At most max bytes: a larger
 * file is -EFBIG. 0 and *out to be freed, or a negative errno. */
int read_file_full(const char *path, size_t max, char **out, size_t *len);
/* The same from an open fd (a pipe, a socket: to end of file). */
int read_fd_full(int fd, size_t max, char **out, size_t *len);
/* A regular file (else -EINVAL) at path under dirfd, opened with extra
 * oflags (e.g. O_NOFOLLOW); otherwise as read_file_full. */
int read_file_at(int dirfd, const char *path, int oflags, size_t max, char **out, size_t *len);

/* Replaces path with exactly data, mode `mode` whatever the umask: written to
 * path.tmp, then renamed over path, so a reader never sees half a file. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
