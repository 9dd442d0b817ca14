/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer: modules.dep / modules.alias / modules.builtin texts split on
 * 0xff bytes (a fourth part, if any, is a name to resolve). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moddep.h"

#define SEP 0xff
#define MAX_PATHS 16

/* The next part of data[*pos..size) up to SEP; NULL when none is left. */
static const char *part(const uint8_t *data, size_t size, size_t *pos, size_t *len)
{
	if (*pos > size)
		return NULL;
	const uint8_t *s = data + *pos, *e = memchr(s, SEP, size - *pos);
	*len = e ? (size_t)(e - s) : size - *pos;
	*pos += *len + 1;  /* past the end when this was the last part */
	return (const char *)s;
}

static void resolve(const struct moddb *db, const char *name)
{
	const char *paths[MAX_PATHS];
	size_t n = 99;
	int r = moddb_resolve(db, name, paths, MAX_PATHS, &n);

	if (n > MAX_PATHS)
		abort();
	if (r == 0)
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++)
				if (strcmp(paths[i], paths[j]) == 0)
					abort();  /* each path once */
	if (r != 0 && r != -ENOENT && r != -ELOOP && r != -E2BIG && r != -ENOMEM)
		abort();
	(void)moddb_is_builtin(db, name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0, dl = 0, al = 0, bl = 0, nl = 0;
	const char *dep = part(data, size, &pos, &dl);
	const char *alias = part(data, size, &pos, &al);
	const char *builtin = part(data, size, &pos, &bl);
	const char *name = part(data, size, &pos, &nl);

	struct moddb *db = moddb_parse(dep, dl, alias, al, builtin, bl);
	if (!db)
		return 0;
	resolve(db, "dm-crypt");
	resolve(db, "a");
	resolve(db, "crypto-xts");
	if (name) {
		char *q = malloc(nl + 1);
		if (q) {
			memcpy(q, name, nl);
			q[nl] = '\0';
			resolve(db, q);
			free(q);
		}
	}
	/* the first module of the dep text, by its own name */
	if (dep && dl) {
		char path[256], mod[MODNAME_MAX];
		size_t k = 0;
		for (; k < dl && k < sizeof(path) - 1 && dep[k] != ':' && dep[k] != '\n'; k++)
			path[k] = dep[k];
		path[k] = '\0';
		moddb_name_from_path(path, mod);
		resolve(db, mod);
	}
	moddb_free(db);
	return 0;
}
