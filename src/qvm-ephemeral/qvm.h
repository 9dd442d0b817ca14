/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral: the dom0 tool. Each subcommand lives in its own file and
 * is reached from main.c's table. Exit codes are documented in main.c. */
#pragma once

/* Test-only environment hooks exist only in the test build
 * (build/qvm-ephemeral-test, -DTEST_HOOKS=1): in the shipped one TEST_ENV is
 * NULL and the variable's name is not even in the binary (tests/dom0/
 * no-test-hooks.sh checks it). */
#ifndef TEST_HOOKS
#define TEST_HOOKS 0
#endif
#if TEST_HOOKS
#include <stdlib.h>
#define TEST_ENV(name) getenv(name)
#else
#define TEST_ENV(name) ((const char *)NULL)
#endif

#define EXIT_OK 0
#define EXIT_FAIL 1      /* the command ran and something failed / refused */
#define EXIT_USAGE 2     /* bad command line */

/* Global flags set by main() from -v / -q before the subcommand runs. */
extern int qvm_verbose;  /* 0 normal, 1 -v */
extern int qvm_quiet;    /* 1 with -q */

int cmd_kernel(int argc, char **argv);   /* kernel.c: kernel add|sync|list */
int cmd_enable(int argc, char **argv);
int cmd_disable(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_traces(int argc, char **argv);   /* traces.c: dom0 traces of gone qubes */
