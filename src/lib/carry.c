/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "carry.h"

/* what load_stack_modules() asks for: the device-mapper core, AES-NI, the
 * two targets, and the xts/ecb templates used only without AES-NI */
static const char *const wanted[] = { "dm-mod", "aesni-intel", "dm-crypt", "dm-thin-pool", "xts", "ecb" };

int carry_list(const struct moddb *db, const char *paths[CARRY_MAX], size_t *n, size_t *missing)
{
	*n = 0, *missing = 0;
	for (size_t w = 0; w < sizeof(wanted) / sizeof(wanted[0]); w++) {
		const char *got[CARRY_MAX];
		size_t k = 0;
		int r = moddb_resolve(db, wanted[w], got, CARRY_MAX, &k);
		if (r == -ENOENT) {
			(*missing)++;
			continue;
		}
		if (r < 0)
			return r;
		for (size_t i = 0; i < k; i++) {
			size_t j = 0;
			while (j < *n && strcmp(paths[j], got[i]) != 0)
				j++;
			if (j < *n)
				continue;
			if (*n >= CARRY_MAX)
				return -E2BIG;
			paths[(*n)++] = got[i];
		}
	}
	return 0;
}

static bool is_carried(const char *line, size_t len, const char *const *paths, size_t n)
{
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return false;
	size_t name_len = (size_t)(colon - line);
	for (size_t i = 0; i < n; i++)
		if (strlen(paths[i]) == name_len && memcmp(paths[i], line, name_len) == 0)
			return true;
	return false;
}

int carry_depfile(const char *dep_text, size_t dep_len, const char *const *paths, size_t n,
		  char **out, size_t *out_len)
{
	char *buf = malloc(dep_len + 2);   /* a last line gains its '\n', then the 0 */
	size_t o = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t at = 0; at < dep_len;) {
		const char *line = dep_text + at, *nl = memchr(line, '\n', dep_len - at);
		size_t len = nl ? (size_t)(nl - line) : dep_len - at;
		if (is_carried(line, len, paths, n)) {
			memcpy(buf + o, line, len);
			o += len;
			buf[o++] = '\n';
		}
		at += len + 1;
	}
	buf[o] = 0;
	*out = buf, *out_len = o;
	return 0;
}
