/* SPDX-License-Identifier: GPL-2.0-or-later */
#define _GNU_SOURCE   /* asprintf */
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "carry.h"
#include "stackmods.h"

/* what load_stack_modules() asks for: the stack's modules, and the xts/ecb
 * templates it loads only without AES-NI */
static const char *wanted(size_t w)
{
	return w < STACK_MODULES ? stack_module_names[w] : stack_generic_xts_names[w - STACK_MODULES];
}

int carry_list(const struct moddb *db, const char *paths[CARRY_MAX], size_t *n, size_t *missing)
{
	*n = 0, *missing = 0;
	for (size_t w = 0; w < STACK_MODULES + STACK_GENERIC_XTS; w++) {
		const char *got[CARRY_MAX];
		size_t k = 0;
		int r = moddb_resolve(db, wanted(w), got, CARRY_MAX, &k);
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

void carry_set_free(struct carry_set *s)
{
	for (size_t i = 0; i < s->nbufs; i++)
		free(s->bufs[i]);
	memset(s, 0, sizeof(*s));
}

static int read_into(carry_read_fn read, void *arg, const char *rel, char **data, size_t *len, struct carry_set *s)
{
	int r = read(arg, rel, data, len);
	if (r < 0)
		snprintf(s->failed, sizeof(s->failed), "%s", rel);
	return r;
}

int carry_collect(carry_read_fn read, void *arg, struct carry_set *s)
{
	char *dep = NULL, *builtin = NULL, *depfile;
	const char *paths[CARRY_MAX];
	size_t dep_len, builtin_len = 0, n = 0, missing = 0, len;
	struct moddb *db = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = read_into(read, arg, "modules.dep", &dep, &dep_len, s)) < 0)
		return r;
	if (read(arg, "modules.builtin", &builtin, &builtin_len) < 0)
		builtin = NULL, builtin_len = 0;   /* optional: nothing built in */
	if (!(db = moddb_parse(dep, dep_len, NULL, 0, builtin, builtin_len)))
		r = -ENOMEM;
	else
		r = carry_list(db, paths, &n, &missing);
	for (size_t i = 0; r == 0 && i < n; i++) {
		char *data, *dest;
		if ((r = read_into(read, arg, paths[i], &data, &len, s)) < 0)
			break;
		s->bufs[s->nbufs++] = data;
		if (asprintf(&dest, CARRIED_MODULES_REL "/%s", paths[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		s->bufs[s->nbufs++] = dest;
		s->f[s->n++] = (struct append_file){ dest, data, len, 0644, false };
	}
	if (r == 0 && (r = carry_depfile(dep, dep_len, paths, n, &depfile, &len)) == 0) {
		s->bufs[s->nbufs++] = depfile;
		s->f[s->n++] = (struct append_file){ CARRIED_MODULES_REL "/modules.dep", depfile, len, 0644, false };
		s->missing = missing;
	}
	moddb_free(db);
	free(dep);
	free(builtin);
	if (r < 0) {
		char failed[sizeof(s->failed)];
		memcpy(failed, s->failed, sizeof(failed));
		carry_set_free(s);
		memcpy(s->failed, failed, sizeof(failed));
	}
	return r;
}
