/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer: cmdline_parse on any text; checks what it promises on success. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

static void check_str(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct options o;
	char err[256];
	uint64_t v;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	int r = cmdline_parse(text, &o, err, sizeof(err));
	check_str(err, sizeof(err));
	if (r == 0) {
		check_str(o.disk_root, sizeof(o.disk_root));
		check_str(o.disk_private, sizeof(o.disk_private));
		check_str(o.disk_volatile, sizeof(o.disk_volatile));
		check_str(o.disk_modules, sizeof(o.disk_modules));
		check_str(o.init, sizeof(o.init));
		check_str(o.rootfstype, sizeof(o.rootfstype));
		check_str(o.rootflags, sizeof(o.rootflags));
		if (!o.disk_root[0] || !o.disk_private[0] || !o.disk_volatile[0] || !o.disk_modules[0])
			abort();
		if (o.swap_bytes && (o.swap_bytes % 4096 || o.swap_bytes < 65536))
			abort();
		if (o.timeout_s < 1 || o.timeout_s > 3600)
			abort();
		if ((o.test_plain || o.test_keyhash || o.test_fail != FAIL_NONE) && !o.test_any)
			abort();
		(void)fail_step_name(o.test_fail);
	} else if (!err[0] || strchr(err, '\n')) {
		abort();  /* a refusal always says why, on one line */
	}
	(void)parse_size(text, &v);
	free(text);
	return 0;
}
