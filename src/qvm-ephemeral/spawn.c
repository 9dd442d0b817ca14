/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Running other programs (see spawn.h). */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"

pid_t (*spawn_fork)(void) = fork;

void spawn_ignore_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the child: fd becomes target (SPAWN_NULL: /dev/null). */
static int child_fd(int fd, int target, int devnull)
{
	if (fd == SPAWN_KEEP)
		return 0;
	return dup2(fd == SPAWN_NULL ? devnull : fd, target) < 0 ? -1 : 0;
}

int spawn_start(char *const argv[], const struct spawn_opts *o, struct child *c)
{
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, devnull = -1, r = 0;

	c->pid = -1;
	c->in = c->out = -1;
	if ((o->in == SPAWN_PIPE && pipe2(inp, O_CLOEXEC) < 0) || (o->out == SPAWN_PIPE && pipe2(outp, O_CLOEXEC) < 0) ||
	    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		r = -errno;
	pid_t pid = r ? -1 : spawn_fork();
	if (pid < 0 && !r)
		r = -errno;
	if (pid == 0) {
		int in = o->in == SPAWN_PIPE ? inp[0] : o->in, out = o->out == SPAWN_PIPE ? outp[1] : o->out;
		if (child_fd(in, 0, devnull) < 0 || child_fd(out, 1, devnull) < 0 ||
		    (o->err == SPAWN_OUT ? dup2(1, 2) < 0 : child_fd(o->err, 2, devnull) < 0) ||
		    (o->cwdfd >= 0 && fchdir(o->cwdfd) < 0))
			_exit(127);
		signal(SIGPIPE, SIG_DFL);   /* ignored signals survive exec */
		if (o->c_locale)
			setenv("LC_ALL", "C", 1);
		if (strchr(argv[0], '/'))
			execv(argv[0], argv);
		else
			execvp(argv[0], argv);
		_exit(127);
	}
	close_fd(&devnull);
	close_fd(&inp[0]);
	close_fd(&outp[1]);
	if (r < 0) {
		close_fd(&inp[1]);
		close_fd(&outp[0]);
		return r;
	}
	c->pid = pid;
	c->in = inp[1];
	c->out = outp[0];
	return 0;
}

int spawn_wait(struct child *c)
{
	int st;
	close_fd(&c->in);
	close_fd(&c->out);
	if (c->pid <= 0)
		return -ECHILD;
	while (waitpid(c->pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	c->pid = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int spawn_run(char *const argv[], const struct spawn_opts *o, const char *input, size_t max, char **output)
{
	struct spawn_opts so = *o;
	struct child c;
	char *buf = NULL;
	size_t used = 0;
	int r;

	if (output)
		*output = NULL;
	if (input)
		so.in = SPAWN_PIPE;
	so.out = SPAWN_PIPE;
	if ((r = spawn_start(argv, &so, &c)) < 0)
		return r;
	/* a child that does not read its input (EPIPE) says why by its status */
	if (input)
		(void)write_full(c.in, input, strlen(input));
	close_fd(&c.in);
	if (output && !(buf = malloc(max + 1)))
		r = -ENOMEM;
	for (;;) {
		char tmp[4096];
		ssize_t n = read_full(c.out, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		size_t take = buf && used < max ? ((size_t)n < max - used ? (size_t)n : max - used) : 0;
		memcpy(buf + used, tmp, take);
		used += take;
	}
	int st = spawn_wait(&c);
	if (r < 0) {
		free(buf);
		return r;
	}
	if (buf) {
		buf[used] = 0;
		*output = buf;
	}
	return st;
}

const char *spawn_status_text(int status, char *buf, size_t n)
{
	if (status < 0)
		snprintf(buf, n, "could not be started: %s", strerror(-status));
	else if (status == 127)
		snprintf(buf, n, "could not be run (exit 127: not found or not executable)");
	else if (status > 128)
		snprintf(buf, n, "was killed by signal %d (%s)", status - 128, strsignal(status - 128));
	else
		snprintf(buf, n, "exited %d", status);
	return buf;
}
