/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral/spawn.c: the one process-spawn helper of the dom0 tool. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "spawn.h"

static const struct spawn_opts plain = { .in = SPAWN_NULL, .out = SPAWN_PIPE, .err = SPAWN_OUT, .cwdfd = -1 };

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void status_and_output(void **state)
{
	(void)state;
	char *out;
	char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	assert_int_equal(spawn_run(argv, &plain, NULL, 100, &out), 3);
	assert_string_equal(out, "out\nerr\n");
	free(out);
	/* only the first max bytes are kept; the child still runs to its end */
	char *big[] = { "sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a; exit 4", NULL };
	assert_int_equal(spawn_run(big, &plain, NULL, 10, &out), 4);
	assert_string_equal(out, "aaaaaaaaaa");
	free(out);
	/* input reaches the child */
	char *cat[] = { "cat", NULL };
	assert_int_equal(spawn_run(cat, &plain, "hello\n", 100, &out), 0);
	assert_string_equal(out, "hello\n");
	free(out);
}

static void sigpipe(void **state)
{
	(void)state;
	char *out;
	spawn_ignore_sigpipe();
	/* a child that exits without reading 1 MiB of input: EPIPE for us,
	 * not death by SIGPIPE */
	char *input = malloc((1u << 20) + 1);
	assert_non_null(input);
	memset(input, 'x', 1u << 20);
	input[1u << 20] = 0;
	char *quit[] = { "/bin/sh", "-c", "exit 5", NULL };
	assert_int_equal(spawn_run(quit, &plain, input, 100, &out), 5);
	free(out);
	free(input);
	/* the child gets SIGPIPE back at its default (ignored ones survive exec) */
	char *self[] = { "/bin/sh", "-c", "kill -PIPE $$; exit 0", NULL };
	assert_int_equal(spawn_run(self, &plain, NULL, 100, NULL), 128 + SIGPIPE);
	char how[96];
	assert_non_null(strstr(spawn_status_text(128 + SIGPIPE, how, sizeof(how)), "killed by signal 13"));
}

static pid_t no_fork(void)
{
	errno = EAGAIN;
	return -1;
}

static void fork_fails(void **state)
{
	(void)state;
	struct child c;
	struct spawn_opts both = { .in = SPAWN_PIPE, .out = SPAWN_PIPE, .err = SPAWN_KEEP, .cwdfd = -1 };
	char *argv[] = { "true", NULL };
	int before = open_fds();
	spawn_fork = no_fork;
	assert_int_equal(spawn_start(argv, &both, &c), -EAGAIN);
	assert_int_equal(spawn_run(argv, &plain, "x", 10, NULL), -EAGAIN);
	spawn_fork = fork;
	assert_int_equal(c.in, -1);
	assert_int_equal(c.out, -1);
	assert_int_equal(open_fds(), before); /* no pipe left open */
}

static void not_found(void **state)
{
	(void)state;
	char how[96];
	char *argv[] = { "/nonexistent/qvm-tool", NULL };
	char *name[] = { "qvm-ephemeral-no-such-tool", NULL };
	assert_int_equal(spawn_run(argv, &plain, NULL, 10, NULL), 127);
	assert_int_equal(spawn_run(name, &plain, NULL, 10, NULL), 127);
	assert_non_null(strstr(spawn_status_text(127, how, sizeof(how)), "not found"));
	assert_string_equal(spawn_status_text(3, how, sizeof(how)), "exited 3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_and_output), cmocka_unit_test(sigpipe), cmocka_unit_test(fork_fails),
		cmocka_unit_test(not_found),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
