/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Judging the output of the guest's ephemeral-status (src/ephemeral-init/status.c). */
#pragma once
#include <stdbool.h>

struct verify_path {
	bool pass;
	char reason[256];
};

struct verify_result {
	struct verify_path root, private, swap, memory;
	char verdict[256];  /* the guest's own verdict line */
	bool guest_ok;      /* the guest tool exited 0 */
};

/* Pure: judges root, private, swap and memory from the tool's output and exit code. */
void verify_judge(const char *out, int guest_rc, struct verify_result *v);
