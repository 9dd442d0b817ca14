/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer: the verdict's parsers on any bytes: meminit_parse on a kernel
 * log, stack_param_dev on a table's params, and stack_judge on a device
 * list whose tables are the input (lines "NAME TYPE PARAMS"). Nothing may
 * crash, and a stack whose crypt device is not a keyring-keyed dm-crypt is
 * never judged ephemeral. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "meminit.h"
#include "stackcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meminit m;
	meminit_parse((const char *)data, size, &m);
	if (m.alloc < -1 || m.alloc > 1 || m.free < -1 || m.free > 1)
		abort();

	char text[4096];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, n);
	text[n] = 0;
	dev_t d;
	for (unsigned i = 0; i < 4; i++)
		stack_param_dev(text, i, &d);

	static struct stack_dev devs[8];
	struct stack_facts f = {
		.mode = "ephemeral", .crypt_name = "c", .root_name = "r", .private_name = "p",
		.key_desc = "k", .devs = devs, .root_fs = makedev(253, 1), .root_origin_ro = 1,
		.private_origin_ro = 1, .scrub_pages = 1,
	};
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line && f.ndevs < 8; line = strtok_r(NULL, "\n", &save)) {
		struct stack_dev *x = &devs[f.ndevs];
		memset(x, 0, sizeof(*x));
		if (sscanf(line, "%127s %15s %511[^\n]", x->name, x->type, x->params) < 2)
			continue;
		x->dev = makedev(253, (unsigned)f.ndevs);
		x->targets = 1;
		f.ndevs++;
	}
	char why[256];
	int r = stack_judge(&f, why, sizeof(why));
	bool crypt_ok = false;
	for (size_t i = 0; i < f.ndevs; i++)
		if (!strcmp(devs[i].name, "c") && !strcmp(devs[i].type, "crypt") && strstr(devs[i].params, ":logon:k"))
			crypt_ok = true;
	if (r == 0 && !crypt_ok)
		abort();
	return 0;
}
