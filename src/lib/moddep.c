/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "moddep.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mod {
	char name[MODNAME_MAX];
	const char *path;       /* into db->dep_text */
	size_t dep_first;       /* index of its first one in db->dep_paths */
	size_t ndeps;
	size_t seq;             /* line order, so the first of duplicates wins */
};

struct alias {
	const char *pattern;    /* normalised, into db->alias_text */
	char module[MODNAME_MAX];
};

struct moddb {
	char *dep_text, *alias_text;  /* private copies, cut into strings */
	struct mod *mods;             /* sorted by name */
	size_t nmods;
	const char **dep_paths;       /* every line's dependency paths, one after another */
	size_t ndep_paths;
	struct alias *aliases;        /* in file order: the order matches are loaded */
	size_t naliases;
	char (*builtin)[MODNAME_MAX]; /* sorted */
	size_t nbuiltin;
};

/* Makes room for element n of a growing array; returns the array (maybe
 * moved), or NULL when out of memory (the old one is still valid). */
static void *grow(void *arr, size_t *cap, size_t n, size_t elsize)
{
	if (n < *cap)
		return arr;
	size_t c = *cap ? *cap * 2 : 64;
	if (c > SIZE_MAX / elsize)
		return NULL;
	void *p = realloc(arr, c * elsize);
	if (p)
		*cap = c;
	return p;
}

static char *copy_text(const char *text, size_t len)
{
	if (len == SIZE_MAX)
		return NULL;
	char *s = malloc(len + 1);
	if (!s)
		return NULL;
	if (len)
		memcpy(s, text, len);
	s[len] = '\0';
	return s;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Cuts the next line out of [*p, end): NUL-terminates it in place. */
static char *next_line(char **p, char *end, char **line_end)
{
	if (*p >= end)
		return NULL;
	char *s = *p;
	char *nl = memchr(s, '\n', (size_t)(end - s));
	char *e = nl ? nl : end;
	*e = '\0';
	*p = nl ? nl + 1 : end;
	*line_end = e;
	return s;
}

/* Cuts the next blank-separated word out of [*p, end). */
static char *next_token(char **p, char *end)
{
	char *s = *p;

	while (s < end && is_blank(*s))
		s++;
	if (s >= end)
		return NULL;
	char *t = s;
	while (s < end && !is_blank(*s))
		s++;
	*s = '\0';
	*p = s < end ? s + 1 : end;
	return t;
}

void moddb_name_from_path(const char *path, char *out)
{
	const char *base = strrchr(path, '/');
	size_t n = 0;

	base = base ? base + 1 : path;
	/* module names hold no '.', so the first one starts the suffix */
	for (; base[n] && base[n] != '.' && n < MODNAME_MAX - 1; n++)
		out[n] = base[n] == '-' ? '_' : base[n];
	out[n] = '\0';
}

/* '-' and '_' are one character in names; false if too long to be a name. */
static bool normalise_name(const char *s, char out[MODNAME_MAX])
{
	size_t n = strlen(s);

	if (n >= MODNAME_MAX)
		return false;
	for (size_t i = 0; i <= n; i++)
		out[i] = s[i] == '-' ? '_' : s[i];
	return true;
}

/* As for names, but a '-' inside [...] is a range and stays. */
static void normalise_alias(char *s)
{
	bool in_set = false;

	for (; *s; s++) {
		if (*s == '[')
			in_set = true;
		else if (*s == ']')
			in_set = false;
		else if (*s == '-' && !in_set)
			*s = '_';
	}
}

static int cmp_mod(const void *a, const void *b)
{
	const struct mod *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int cmp_key_mod(const void *key, const void *m)
{
	return strcmp(key, ((const struct mod *)m)->name);
}

/* "path: dep dep ..." -> one struct mod; skips lines that are not like that. */
static int parse_dep_line(struct moddb *db, char *line, char *end, size_t *cap, size_t *dcap)
{
	char *colon = memchr(line, ':', (size_t)(end - line));
	if (!colon)
		return 0;
	*colon = '\0';
	char *p = line, *path = next_token(&p, colon);
	if (!path || next_token(&p, colon))
		return 0;  /* no path, or a blank inside it */
	struct mod m = { .path = path, .seq = db->nmods };
	moddb_name_from_path(path, m.name);
	if (!m.name[0])
		return 0;
	m.dep_first = db->ndep_paths;
	p = colon + 1;
	for (char *t; (t = next_token(&p, end));) {
		const char **d = grow(db->dep_paths, dcap, db->ndep_paths, sizeof(*d));
		if (!d)
			return -ENOMEM;
		db->dep_paths = d;
		db->dep_paths[db->ndep_paths++] = t;
	}
	m.ndeps = db->ndep_paths - m.dep_first;
	struct mod *mods = grow(db->mods, cap, db->nmods, sizeof(*mods));
	if (!mods)
		return -ENOMEM;
	db->mods = mods;
	db->mods[db->nmods++] = m;
	return 0;
}

/* Sorts by name and drops later duplicates of a name. */
static void index_mods(struct moddb *db)
{
	size_t k = 0;

	if (db->nmods)
		qsort(db->mods, db->nmods, sizeof(*db->mods), cmp_mod);
	for (size_t i = 0; i < db->nmods; i++)
		if (k == 0 || strcmp(db->mods[k - 1].name, db->mods[i].name) != 0)
			db->mods[k++] = db->mods[i];
	db->nmods = k;
}

static int parse_dep(struct moddb *db, const char *text, size_t len)
{
	size_t cap = 0, dcap = 0;
	char *line, *le;

	if (!(db->dep_text = copy_text(text, len)))
		return -ENOMEM;
	char *p = db->dep_text, *end = db->dep_text + len;
	while ((line = next_line(&p, end, &le)))
		if (parse_dep_line(db, line, le, &cap, &dcap) < 0)
			return -ENOMEM;
	index_mods(db);
	return 0;
}

/* "alias PATTERN MODULE" */
static int parse_alias(struct moddb *db, const char *text, size_t len)
{
	size_t cap = 0;
	char *line, *le;

	if (!(db->alias_text = copy_text(text, len)))
		return -ENOMEM;
	char *p = db->alias_text, *end = db->alias_text + len;
	while ((line = next_line(&p, end, &le))) {
		char *q = line, *kw = next_token(&q, le);
		char *pat = next_token(&q, le), *mod = next_token(&q, le);
		struct alias a = { .pattern = pat };
		if (!kw || strcmp(kw, "alias") != 0 || !mod || !normalise_name(mod, a.module))
			continue;
		normalise_alias(pat);
		struct alias *as = grow(db->aliases, &cap, db->naliases, sizeof(*as));
		if (!as)
			return -ENOMEM;
		db->aliases = as;
		db->aliases[db->naliases++] = a;
	}
	return 0;
}

/* One path per line; only the names are kept. */
static int parse_builtin(struct moddb *db, const char *text, size_t len)
{
	size_t cap = 0;
	char *line, *le;
	char *copy = copy_text(text, len);

	if (!copy)
		return -ENOMEM;
	char *p = copy, *end = copy + len;
	while ((line = next_line(&p, end, &le))) {
		char *q = line, *path = next_token(&q, le);
		if (!path)
			continue;
		char (*b)[MODNAME_MAX] = grow(db->builtin, &cap, db->nbuiltin, sizeof(*b));
		if (!b) {
			free(copy);
			return -ENOMEM;
		}
		db->builtin = b;
		moddb_name_from_path(path, db->builtin[db->nbuiltin]);
		if (db->builtin[db->nbuiltin][0])
			db->nbuiltin++;
	}
	free(copy);
	if (db->nbuiltin)
		qsort(db->builtin, db->nbuiltin, sizeof(*db->builtin), cmp_name);
	return 0;
}

struct moddb *moddb_parse(const char *dep_text, size_t dep_len,
			  const char *alias_text, size_t alias_len,
			  const char *builtin_text, size_t builtin_len)
{
	struct moddb *db = calloc(1, sizeof(*db));

	if (!db)
		return NULL;
	if (parse_dep(db, dep_text ? dep_text : "", dep_text ? dep_len : 0) < 0 ||
	    parse_alias(db, alias_text ? alias_text : "", alias_text ? alias_len : 0) < 0 ||
	    parse_builtin(db, builtin_text ? builtin_text : "", builtin_text ? builtin_len : 0) < 0) {
		moddb_free(db);
		return NULL;
	}
	return db;
}

void moddb_free(struct moddb *db)
{
	if (!db)
		return;
	free(db->dep_text);
	free(db->alias_text);
	free(db->mods);
	free(db->dep_paths);
	free(db->aliases);
	free(db->builtin);
	free(db);
}

static bool builtin_norm(const struct moddb *db, const char *norm)
{
	return db->nbuiltin &&
	       bsearch(norm, db->builtin, db->nbuiltin, sizeof(*db->builtin), cmp_name);
}

bool moddb_is_builtin(const struct moddb *db, const char *name)
{
	char norm[MODNAME_MAX];

	return db && name && normalise_name(name, norm) && builtin_norm(db, norm);
}

static const struct mod *find_mod(const struct moddb *db, const char *norm)
{
	if (!db->nmods)
		return NULL;
	return bsearch(norm, db->mods, db->nmods, sizeof(*db->mods), cmp_key_mod);
}

/* State of one resolve: the output list and a mark per module. */
enum { UNSEEN = 0, ACTIVE, DONE };
struct walk {
	const struct moddb *db;
	unsigned char *mark;             /* per db->mods entry */
	struct frame { size_t mod, next; } *stack;
	const char **paths;
	size_t max, n;
};

static int emit(struct walk *w, const char *path)
{
	if (w->n >= w->max)
		return -E2BIG;
	w->paths[w->n++] = path;
	return 0;
}

/* A dependency with no line of its own: load it as it is, once. */
static int emit_leaf(struct walk *w, const char *path)
{
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->paths[i], path) == 0)
			return 0;
	return emit(w, path);
}

/* Depth-first, dependencies before the module; iterative so a long chain
 * cannot overflow the (PID 1) stack. Dependencies are visited from the end
 * of the list, as depmod writes them in reverse load order. */
static int walk_from(struct walk *w, size_t root)
{
	const struct mod *mods = w->db->mods;
	size_t top = 0;
	int r;

	if (w->mark[root] == DONE)
		return 0;
	w->stack[top++] = (struct frame){ root, 0 };
	w->mark[root] = ACTIVE;
	while (top) {
		struct frame *f = &w->stack[top - 1];
		const struct mod *m = &mods[f->mod];
		if (f->next == m->ndeps) {
			w->mark[f->mod] = DONE;
			top--;
			if ((r = emit(w, m->path)) < 0)
				return r;
			continue;
		}
		const char *dep = w->db->dep_paths[m->dep_first + m->ndeps - 1 - f->next++];
		char name[MODNAME_MAX];
		moddb_name_from_path(dep, name);
		if (builtin_norm(w->db, name))
			continue;
		const struct mod *d = find_mod(w->db, name);
		if (!d) {
			if ((r = emit_leaf(w, dep)) < 0)
				return r;
			continue;
		}
		size_t di = (size_t)(d - mods);
		if (w->mark[di] == ACTIVE)
			return -ELOOP;
		if (w->mark[di] == UNSEEN) {
			w->mark[di] = ACTIVE;
			w->stack[top++] = (struct frame){ di, 0 };  /* depth <= nmods */
		}
	}
	return 0;
}

/* Every module an alias pattern matches; 0 if at least one, else -ENOENT. */
static int walk_aliases(struct walk *w, const char *query)
{
	size_t qn = strlen(query);
	char *norm = copy_text(query, qn);
	bool found = false;
	int r = 0;

	if (!norm)
		return -ENOMEM;
	normalise_alias(norm);
	for (size_t i = 0; i < w->db->naliases && r == 0; i++) {
		const struct alias *a = &w->db->aliases[i];
		if (fnmatch(a->pattern, norm, 0) != 0)
			continue;
		if (builtin_norm(w->db, a->module)) {
			found = true;
			continue;
		}
		const struct mod *m = find_mod(w->db, a->module);
		if (!m)
			continue;
		found = true;
		r = walk_from(w, (size_t)(m - w->db->mods));
	}
	free(norm);
	if (r < 0)
		return r;
	return found ? 0 : -ENOENT;
}

int moddb_resolve(const struct moddb *db, const char *name_or_alias,
		  const char **paths, size_t max, size_t *n)
{
	struct walk w = { .db = db, .paths = paths, .max = max };
	char norm[MODNAME_MAX];
	int r = -ENOMEM;

	*n = 0;
	if (!db || !name_or_alias || !*name_or_alias)
		return -ENOENT;
	bool is_name = normalise_name(name_or_alias, norm);
	if (is_name && builtin_norm(db, norm))
		return 0;
	const struct mod *m = is_name ? find_mod(db, norm) : NULL;
	w.mark = calloc(db->nmods + 1, 1);
	w.stack = calloc(db->nmods + 1, sizeof(*w.stack));
	if (w.mark && w.stack)
		r = m ? walk_from(&w, (size_t)(m - db->mods)) : walk_aliases(&w, name_or_alias);
	*n = w.n;
	free(w.mark);
	free(w.stack);
	return r;
}
