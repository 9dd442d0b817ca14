/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "unitname.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int put(char *out, size_t outlen, size_t *n, const char *s)
{
	size_t l = strlen(s);
	if (*n + l >= outlen)
		return -ENAMETOOLONG;
	memcpy(out + *n, s, l + 1);
	*n += l;
	return 0;
}

int unit_name_from_path(const char *path, const char *suffix, char *out, size_t outlen)
{
	size_t n = 0;
	int r;

	if (path[0] != '/')
		return -EINVAL;
	while (*path == '/')
		path++;
	if (!*path || !outlen)
		return -EINVAL;
	out[0] = 0;
	for (const char *p = path; *p; p++) {
		char one[8];
		unsigned char ch = (unsigned char)*p;
		if (ch == '/') {
			while (p[1] == '/')
				p++;
			if (!p[1])
				break;          /* a trailing slash */
			snprintf(one, sizeof(one), "-");
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			   ch == ':' || ch == '_' || (ch == '.' && p != path)) {
			snprintf(one, sizeof(one), "%c", ch);
		} else {
			snprintf(one, sizeof(one), "\\x%02x", ch);
		}
		if ((r = put(out, outlen, &n, one)) < 0)
			return r;
	}
	if ((r = put(out, outlen, &n, ".")) < 0 || (r = put(out, outlen, &n, suffix)) < 0)
		return r;
	return 0;
}
