/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Saved-settings record, kernelopts edits, verdict rules (see record.h). */
#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- percent encoding of values --- */

static int enc(const char *s, char *out, size_t size)
{
	size_t n = 0;
	for (; *s; s++) {
		unsigned char c = *s;
		bool plain = c > 0x20 && c < 0x7f && c != '%';
		if (n + (plain ? 1 : 3) >= size)
			return -ENOSPC;
		if (plain)
			out[n++] = c;
		else
			n += sprintf(out + n, "%%%02X", c);
	}
	out[n] = 0;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int dec(const char *s, char *out, size_t size)
{
	size_t n = 0;
	for (; *s; s++) {
		int c = (unsigned char)*s;
		if (c == '%') {
			int h = hexval(s[1]), l = h < 0 ? -1 : hexval(s[2]);
			if (l < 0)
				return -EINVAL;
			c = h * 16 + l;
			if (c == 0)
				return -EINVAL;
			s += 2;
		}
		if (n + 1 >= size)
			return -ENOSPC;
		out[n++] = c;
	}
	out[n] = 0;
	return 0;
}

static int fmt_prop(const struct saved_prop *p, char *out, size_t size)
{
	char v[3 * PROP_MAX];
	if (enc(p->value, v, sizeof(v)) < 0)
		return -ENOSPC;
	int n = snprintf(out, size, "%s:%s", p->was_default ? "default" : "set", v);
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

static int parse_prop(const char *s, struct saved_prop *p)
{
	const char *v;
	if (!strncmp(s, "default:", 8)) {
		p->was_default = true;
		v = s + 8;
	} else if (!strncmp(s, "set:", 4)) {
		p->was_default = false;
		v = s + 4;
	} else
		return -EINVAL;
	return dec(v, p->value, sizeof(p->value));
}

static int parse_bool01(const char *s, bool allow_dash)
{
	if (!strcmp(s, "1"))
		return 1;
	if (!strcmp(s, "0"))
		return 0;
	if (allow_dash && !strcmp(s, "-"))
		return -1;
	return -2;
}

int record_format(const struct record *r, char *buf, size_t size)
{
	char k[3 * PROP_MAX + 16], ko[3 * PROP_MAX + 16], ve[4];
	if (fmt_prop(&r->kernel, k, sizeof(k)) < 0 || fmt_prop(&r->kernelopts, ko, sizeof(ko)) < 0)
		return -ENOSPC;
	if (r->volatile_ephemeral < 0)
		strcpy(ve, "-");
	else
		snprintf(ve, sizeof(ve), "%d", !!r->volatile_ephemeral);
	int n = snprintf(buf, size, "v1 root.rw=%d private.rw=%d volatile.ephemeral=%s kernel=%s kernelopts=%s dom0-crypt=%d",
			 !!r->root_rw, !!r->private_rw, ve, k, ko, r->dom0_crypt ? 1 : 0);
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), -EINVAL)

int record_parse(const char *s, struct record *r, char *why, size_t whylen)
{
	char *copy = strdup(s), *save = NULL;
	unsigned seen = 0;
	int ret = 0;
	if (!copy)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	char *tok = strtok_r(copy, " ", &save);
	if (!tok || strcmp(tok, "v1") != 0) {
		ret = WHY("record version is not v1 (written by another version of qvm-ephemeral?)");
		goto out;
	}
	while ((tok = strtok_r(NULL, " ", &save))) {
		char *v = strchr(tok, '=');
		int b;
		if (!v) {
			ret = WHY("record field without '=': %.40s", tok);
			goto out;
		}
		*v++ = 0;
		if (!strcmp(tok, "root.rw") && (b = parse_bool01(v, false)) >= 0)
			r->root_rw = b, seen |= 1;
		else if (!strcmp(tok, "private.rw") && (b = parse_bool01(v, false)) >= 0)
			r->private_rw = b, seen |= 2;
		else if (!strcmp(tok, "volatile.ephemeral") && (b = parse_bool01(v, true)) >= -1)
			r->volatile_ephemeral = b, seen |= 4;
		else if (!strcmp(tok, "kernel") && parse_prop(v, &r->kernel) == 0)
			seen |= 8;
		else if (!strcmp(tok, "kernelopts") && parse_prop(v, &r->kernelopts) == 0)
			seen |= 16;
		else if (!strcmp(tok, "dom0-crypt") && (b = parse_bool01(v, false)) >= 0)
			r->dom0_crypt = b, seen |= 32;
		else {
			ret = WHY("record field %.40s has an unknown name or a bad value", tok);
			goto out;
		}
	}
	if (seen != 63)
		ret = WHY("record lacks a field (has mask %#x of 0x3f)", seen);
out:
	free(copy);
	return ret;
}

/* --- kernelopts --- */

bool kopts_has_flag(const char *opts)
{
	size_t fl = strlen(KOPTS_FLAG);
	for (const char *p = opts; (p = strstr(p, KOPTS_FLAG)); p += fl)
		if ((p == opts || p[-1] == ' ') && (p[fl] == 0 || p[fl] == ' '))
			return true;
	return false;
}

/* Copies the tokens of opts except KOPTS_FLAG, one space apart. */
static int copy_without_flag(const char *opts, char *out, size_t size)
{
	size_t n = 0;
	out[0] = 0;
	for (const char *p = opts; *p;) {
		while (*p == ' ')
			p++;
		size_t l = strcspn(p, " ");
		if (!l)
			break;
		if (!(l == strlen(KOPTS_FLAG) && !strncmp(p, KOPTS_FLAG, l))) {
			if (n + (n ? 1 : 0) + l + 1 > size)
				return -ENOSPC;
			if (n)
				out[n++] = ' ';
			memcpy(out + n, p, l);
			n += l;
			out[n] = 0;
		}
		p += l;
	}
	return (int)n;
}

int kopts_add_flag(const char *opts, char *out, size_t size)
{
	int n = copy_without_flag(opts, out, size);
	if (n < 0)
		return n;
	if ((size_t)n + (n ? 1 : 0) + strlen(KOPTS_FLAG) + 1 > size)
		return -ENOSPC;
	sprintf(out + n, "%s%s", n ? " " : "", KOPTS_FLAG);
	return 0;
}

int kopts_remove_flag(const char *opts, char *out, size_t size)
{
	int n = copy_without_flag(opts, out, size);
	return n < 0 ? n : 0;
}

/* --- kernel variant names --- */

int kernel_variant_name(const char *ver, char *out, size_t n)
{
	if (!*ver || strchr(ver, '/') || ver[0] == '.' || strchr(ver, '\n') || kernel_variant_base(ver, NULL, 0))
		return -EINVAL;
	if ((size_t)snprintf(out, n, "%s%s", ver, VARIANT_SUFFIX) >= n)
		return -ENAMETOOLONG;
	return 0;
}

bool kernel_variant_base(const char *name, char *base, size_t n)
{
	size_t l = strlen(name), sl = strlen(VARIANT_SUFFIX);
	if (l <= sl || strcmp(name + l - sl, VARIANT_SUFFIX))
		return false;
	if (base && n)
		snprintf(base, n, "%.*s", (int)(l - sl), name);
	return true;
}

/* --- policy --- */

int policy_format(const struct policy *p, char *buf, size_t size)
{
	int n = snprintf(buf, size, "dom0-crypt=%d exclude=%s", p->dom0_crypt ? 1 : 0, p->exclude);
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

int policy_parse(const char *s, struct policy *p)
{
	memset(p, 0, sizeof(*p));
	const char *dc = strstr(s, "dom0-crypt="), *ex = strstr(s, "exclude=");
	if (!dc || !ex)
		return -EINVAL;
	p->on = true;
	p->dom0_crypt = dc[11] == '1';
	size_t l = strcspn(ex + 8, " ");
	if (l >= sizeof(p->exclude))
		return -ENOSPC; /* a cut list would leave out (or exclude) the wrong qubes */
	memcpy(p->exclude, ex + 8, l);
	p->exclude[l] = 0;
	return 0;
}

int policy_add_exclude(struct policy *p, const char *name)
{
	size_t have = strlen(p->exclude), l = strlen(name);
	if (!l || strpbrk(name, ", \t\n"))
		return -EINVAL;
	if (policy_excludes(p, name))
		return 0;
	if (have + (have ? 1 : 0) + l >= sizeof(p->exclude))
		return -ENOSPC;
	if (have)
		p->exclude[have++] = ',';
	memcpy(p->exclude + have, name, l + 1);
	return 0;
}

bool policy_excludes(const struct policy *p, const char *name)
{
	size_t l = strlen(name);
	for (const char *q = p->exclude; *q;) {
		size_t tl = strcspn(q, ",");
		if (tl == l && !strncmp(q, name, l))
			return true;
		q += tl;
		if (*q == ',')
			q++;
	}
	return false;
}

/* --- verdict --- */

static void add_why(char *why, size_t whylen, const char *what)
{
	size_t n = strlen(why);
	snprintf(why + n, whylen - n, "%s%s", n ? ", " : "", what);
}

enum verdict verdict_eval(const struct observed *o, const struct record *rec, char *why, size_t whylen)
{
	int missing = 0, core = 0;
	why[0] = 0;
	if (o->root_rw)
		add_why(why, whylen, "root rw"), missing++, core++;
	if (o->private_rw)
		add_why(why, whylen, "private rw"), missing++, core++;
	if (!o->kernel_variant)
		add_why(why, whylen, "kernel not a variant"), missing++, core++;
	else if (o->kernel_missing)
		add_why(why, whylen, "kernel variant missing"), missing++;
	if (!o->flag)
		add_why(why, whylen, "no " KOPTS_FLAG), missing++, core++;
	if (rec && rec->dom0_crypt && !o->volatile_ephemeral)
		add_why(why, whylen, "volatile not ephemeral"), missing++;
	if (!missing)
		return VERDICT_EPHEMERAL;
	if (rec)
		return VERDICT_DRIFT;
	return core == 4 ? VERDICT_OFF : VERDICT_PARTIAL;
}

const char *verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_EPHEMERAL: return "ephemeral";
	case VERDICT_PARTIAL: return "partial";
	case VERDICT_DRIFT: return "drift";
	default: return "off";
	}
}
