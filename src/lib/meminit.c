/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "meminit.h"

#include <errno.h>
#include <string.h>

/* "on" or "off" right after key within [p, end); -1 when absent */
static int field(const char *p, const char *end, const char *key)
{
	size_t kl = strlen(key);
	for (; p + kl <= end; p++) {
		if (memcmp(p, key, kl) != 0)
			continue;
		const char *v = p + kl;
		if (end - v >= 2 && !memcmp(v, "on", 2))
			return 1;
		if (end - v >= 3 && !memcmp(v, "off", 3))
			return 0;
		return -1;
	}
	return -1;
}

int meminit_parse(const char *log, size_t len, struct meminit *m)
{
	static const char tag[] = "mem auto-init:";
	const char *line = NULL, *end = NULL;

	m->alloc = m->free = -1;
	for (size_t i = 0; i + sizeof(tag) - 1 <= len; i++) {
		if (memcmp(log + i, tag, sizeof(tag) - 1) != 0)
			continue;
		line = log + i + sizeof(tag) - 1;
		const char *nl = memchr(line, '\n', (size_t)(log + len - line));
		end = nl ? nl : log + len;
		i = (size_t)(end - log);
	}
	if (!line)
		return -ENOENT;
	m->alloc = field(line, end, "heap alloc:");
	m->free = field(line, end, "heap free:");
	return 0;
}
