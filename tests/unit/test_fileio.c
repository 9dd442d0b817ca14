/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/fileio.c: whole reads and writes, also across short transfers. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"

/* a pipe delivers what a writer sends in small pieces: one read() gets
 * only the first piece */
static void read_full_across_short_reads(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		for (int i = 0; i < 10; i++) {
			if (write(p[1], "0123456789", 10) != 10)
				_exit(1);
			usleep(2000);
		}
		_exit(0);
	}
	close(p[1]);
	char buf[200];
	ssize_t n = read_full(p[0], buf, sizeof(buf));
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	assert_int_equal(n, 100);
	assert_memory_equal(buf + 90, "0123456789", 10);
}

/* /proc files say size 0: the old reader (one read of st_size bytes) got
 * nothing at all from them */
static void read_file_full_proc(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(read_file_full("/proc/self/maps", 1 << 20, &buf, &len), 0);
	assert_true(len > 0);
	assert_int_equal(strlen(buf), len);
	assert_non_null(strstr(buf, "test_fileio"));
	free(buf);
}

static void read_file_full_limits(void **state)
{
	(void)state;
	char path[] = "/tmp/test_fileio.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static char big[10000];
	memset(big, 'a', sizeof(big));
	assert_int_equal(write_full(fd, big, sizeof(big)), 0);
	close(fd);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(read_file_full(path, sizeof(big), &buf, &len), 0);
	assert_int_equal(len, sizeof(big));
	assert_int_equal(buf[len], 0);
	free(buf);
	assert_int_equal(read_file_full(path, sizeof(big) - 1, &buf, &len), -EFBIG);
	assert_int_equal(read_file_full("/nonexistent/x", 10, &buf, &len), -ENOENT);
	unlink(path);
}

static void write_file_atomic_mode_and_content(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_fileio.XXXXXX", path[256], tmp[320];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	mode_t old = umask(077);
	assert_int_equal(write_file_atomic(path, "old", 3, 0644), 0);
	assert_int_equal(write_file_atomic(path, "hello", 5, 01644), 0);
	umask(old);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 01644);
	assert_int_equal(st.st_size, 5);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	/* a directory in the way: an error, and no temporary file left */
	char sub[280];
	snprintf(sub, sizeof(sub), "%s/d", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_true(write_file_atomic(sub, "x", 1, 0644) < 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", sub);
	assert_int_equal(access(tmp, F_OK), -1);
	rmdir(sub);
	unlink(path);
	rmdir(dir);
}

static void write_full_to_closed_pipe(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write_full(p[1], "x", 1), -EPIPE);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_full_across_short_reads),
		cmocka_unit_test(read_file_full_proc),
		cmocka_unit_test(read_file_full_limits),
		cmocka_unit_test(write_file_atomic_mode_and_content),
		cmocka_unit_test(write_full_to_closed_pipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
