#include "fstab.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define COMMENT_PREFIX "# qubes-ephemeral: "

struct outbuf {
	char *p;
	size_t len, cap;
};

static int put(struct outbuf *b, const void *data, size_t n)
{
	if (n > SIZE_MAX - 1 - b->len)
		return -ENOMEM;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';  /* handy for callers; not counted */
	return 0;
}

/* '\r' counts as a separator so a CRLF line's last field compares clean. */
static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

struct field {
	size_t start, len;
};

/* Finds field number `want` (0-based) of line[0..n); false if the line has fewer. */
static bool find_field(const char *line, size_t n, unsigned want, struct field *f)
{
	size_t i = 0;

	for (unsigned k = 0;; k++) {
		while (i < n && is_sep(line[i]))
			i++;
		if (i == n)
			return false;
		size_t s = i;
		while (i < n && !is_sep(line[i]))
			i++;
		if (k == want) {
			f->start = s;
			f->len = i - s;
			return true;
		}
	}
}

static bool field_is(const char *line, const struct field *f, const char *s)
{
	return s && *s && f->len == strlen(s) && memcmp(line + f->start, s, f->len) == 0;
}

/* Writes one line (without its '\n') rewritten or not; returns 1 if changed. */
static int rewrite_line(struct outbuf *b, const char *line, size_t n,
			const struct fstab_rewrite *rw)
{
	struct field dev, type;
	const char *repl = NULL;
	int r;

	if (!find_field(line, n, 0, &dev) || line[dev.start] == '#')
		return put(b, line, n);
	if (rw->private_new && field_is(line, &dev, rw->private_old)) {
		repl = rw->private_new;
	} else if (field_is(line, &dev, rw->swap_old) && find_field(line, n, 2, &type) &&
		   field_is(line, &type, "swap")) {
		if (!rw->swap_new) {
			if ((r = put(b, COMMENT_PREFIX, strlen(COMMENT_PREFIX))) < 0 ||
			    (r = put(b, line, n)) < 0)
				return r;
			return 1;
		}
		repl = rw->swap_new;
	}
	if (!repl)
		return put(b, line, n);
	if ((r = put(b, line, dev.start)) < 0 || (r = put(b, repl, strlen(repl))) < 0 ||
	    (r = put(b, line + dev.start + dev.len, n - dev.start - dev.len)) < 0)
		return r;
	return 1;
}

int fstab_rewrite(const char *in, size_t len, const struct fstab_rewrite *rw,
		  char **out, size_t *outlen)
{
	struct outbuf b = { 0 };
	int changed = 0, r = 0;
	size_t pos = 0;

	if ((r = put(&b, "", 0)) < 0)  /* an empty input still gets a buffer */
		return r;
	while (pos < len) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (in + pos)) : len - pos;
		if ((r = rewrite_line(&b, in + pos, n, rw)) < 0)
			break;
		if (r > 0 && changed < INT_MAX)
			changed++;
		if (nl && (r = put(&b, "\n", 1)) < 0)
			break;
		pos += n + (nl ? 1 : 0);
	}
	if (r < 0) {
		free(b.p);
		return r;
	}
	*out = b.p;
	*outlen = b.len;
	return changed;
}
