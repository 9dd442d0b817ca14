/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral: make qubes fully ephemeral (dom0 side).
 *
 * Exit codes: 0 success; 1 the command failed or refused something (the
 * reason is printed); 2 usage error. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qvm.h"
#include "spawn.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{ "kernel", cmd_kernel, "kernel add VER | sync | list: ephemeral kernel variants" },
	{ "enable", cmd_enable, "enable [--dom0-crypt] [--all-disposables] [--exclude VM]... [--force] VM...: make qubes ephemeral" },
	{ "disable", cmd_disable, "disable [--force] VM...: restore exactly what enable changed" },
	{ "status", cmd_status, "status [--format table|json] [VM...]: verdict per qube" },
	{ "apply", cmd_apply, "apply: re-apply every recorded qube (fixes drift)" },
	{ "watch", cmd_watch, "watch: service that keeps the policy across qubesd restarts and new disposables" },
	{ "verify", cmd_verify, "verify VM: check a running qube from inside through qrexec" },
	{ "traces", cmd_traces, "traces [--scrub] [--root DIR] VM... | --all-disposables: dom0 logs of qubes that are gone" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: qvm-ephemeral [-v|-q] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].help);
	fprintf(f, "\nexit codes: 0 success, 1 failed or refused (reason printed), 2 usage error\n");
}

/* Output that could not be written (a reader gone: EPIPE, a full disk) is
 * a failure, said once on stderr. */
static int output_done(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "qvm-ephemeral: cannot write the output: %s\n", strerror(errno));
		return rc == EXIT_OK ? EXIT_FAIL : rc;
	}
	return rc;
}

int main(int argc, char **argv)
{
	int i = 1;

	log_prog = "qvm-ephemeral";
	/* a peer that goes away (qubesd, a child, our reader) is an error to
	 * report, never a silent death by SIGPIPE */
	spawn_ignore_sigpipe();
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			qvm_verbose = 1;
		else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			qvm_quiet = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "qvm-ephemeral: unknown option %s; see qvm-ephemeral --help\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c].name) != 0)
			continue;
		return output_done(commands[c].fn(argc - i, argv + i));
	}
	fprintf(stderr, "qvm-ephemeral: unknown command %s; see qvm-ephemeral --help\n", argv[i]);
	return EXIT_USAGE;
}
