/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one way qvm-ephemeral runs another program (qrexec-client[-vm],
 * journalctl, debugfs, e2fsck, decompressors): fork, pipes, exec, SIGPIPE,
 * exit status and its wording in one place.
 *
 * The tool itself ignores SIGPIPE (main: spawn_ignore_sigpipe), so a peer
 * that goes away early (qubesd, a child, the reader of our output) is an
 * EPIPE error to report, not a silent death; every child gets SIGPIPE back
 * at its default before exec. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SPAWN_NULL (-1)    /* in/out/err: /dev/null */
#define SPAWN_PIPE (-2)    /* in/out: a pipe to the caller (child.in / child.out) */
#define SPAWN_KEEP (-3)    /* err: the tool's own stderr */
#define SPAWN_OUT (-4)     /* err: wherever stdout goes */

struct spawn_opts {
	int in, out, err;  /* an fd or one of the SPAWN_* above */
	int cwdfd;         /* -1: the current folder */
	bool c_locale;     /* LC_ALL=C for the child */
};

struct child {
	pid_t pid;
	int in, out;       /* the caller's ends of the pipes, or -1 */
};

/* fork() as the helper calls it; replaceable by unit tests. */
extern pid_t (*spawn_fork)(void);

void spawn_ignore_sigpipe(void);

/* Starts argv (argv[0] with a '/' is run as is, else found in PATH).
 * 0, or negative errno with nothing left open (no pipe, no child). */
int spawn_start(char *const argv[], const struct spawn_opts *o, struct child *c);

/* Closes the caller's pipe ends, waits for the child: its exit code (0-255),
 * 128 + the signal that killed it, or negative errno. */
int spawn_wait(struct child *c);

/* spawn_start, write input (NULL: none) to its stdin, read its stdout (and
 * stderr with SPAWN_OUT) keeping the first max bytes in *output (malloc'd,
 * NUL-terminated; the rest is read and dropped), spawn_wait. output may be
 * NULL. Returns what spawn_wait does; a child that exits without reading
 * its input is not an error. */
int spawn_run(char *const argv[], const struct spawn_opts *o, const char *input, size_t max, char **output);

/* The status of spawn_wait in words: "exited 3", "could not be run (exit
 * 127: not found or not executable)", "was killed by signal 9". */
const char *spawn_status_text(int status, char *buf, size_t n);
