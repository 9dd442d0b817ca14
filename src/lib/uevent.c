/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "uevent.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

static bool key_is(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(key, name, klen) == 0;
}

/* Copies the value into field, or empties the field when it does not fit. */
static bool set_text(char *field, size_t size, const char *v, size_t vlen)
{
	if (vlen >= size || memchr(v, '\0', vlen)) {
		field[0] = '\0';
		return false;
	}
	memcpy(field, v, vlen);
	field[vlen] = '\0';
	return true;
}

/* Decimal digits only, as the kernel prints them with %u / %d. */
static bool set_number(int *field, const char *v, size_t vlen)
{
	unsigned long x = 0;

	*field = -1;
	if (vlen == 0)
		return false;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (unsigned long)(v[i] - '0');
		if (x > INT_MAX)
			return false;
	}
	*field = (int)x;
	return true;
}

/* One KEY=VALUE line (without its '\n'). False when a known key's value
 * was refused. */
static bool parse_line(const char *line, size_t n, struct uevent *out)
{
	const char *eq = memchr(line, '=', n);
	if (!eq)
		return true;
	size_t klen = (size_t)(eq - line), vlen = n - klen - 1;
	const char *v = eq + 1;

	if (key_is(line, klen, "DEVTYPE"))
		return set_text(out->devtype, sizeof(out->devtype), v, vlen);
	if (key_is(line, klen, "DEVNAME"))
		return set_text(out->devname, sizeof(out->devname), v, vlen);
	if (key_is(line, klen, "PARTNAME"))
		return set_text(out->partname, sizeof(out->partname), v, vlen);
	if (key_is(line, klen, "PARTN"))
		return set_number(&out->partn, v, vlen);
	if (key_is(line, klen, "MAJOR"))
		return set_number(&out->major, v, vlen);
	if (key_is(line, klen, "MINOR"))
		return set_number(&out->minor, v, vlen);
	return true;
}

int uevent_parse(const char *text, size_t len, struct uevent *out)
{
	if (!out || (!text && len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->partn = out->major = out->minor = -1;
	if (len == 0)
		return 0;  /* text may be NULL: no pointer arithmetic on it */

	/* Each refusal is remembered: a later valid line of the same key
	 * fills the field again, but the text still was not clean. */
	int r = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if (!parse_line(p, (size_t)(eol - p), out))
			r = -EBADMSG;
		p = nl ? nl + 1 : end;
	}
	return r;
}
