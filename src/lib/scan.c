/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "scan.h"

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')
		s++;
	return s;
}

static int digits(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	*p = s, *v = x;
	return 0;
}

int scan_u64(const char **p, uint64_t *v)
{
	const char *s = skip_space(*p);
	int r = digits(&s, v);
	if (r == 0)
		*p = s;
	return r;
}

int scan_u64_pair(const char **p, char sep, uint64_t *a, uint64_t *b)
{
	const char *s = skip_space(*p);
	uint64_t x, y;
	int r = digits(&s, &x);
	if (r < 0)
		return r;
	if (*s++ != sep)
		return -EINVAL;
	if ((r = digits(&s, &y)) < 0)
		return r;
	*p = s, *a = x, *b = y;
	return 0;
}

int scan_devnum(const char **p, unsigned *maj, unsigned *min)
{
	const char *s = *p;
	uint64_t a, b;
	int r = scan_u64_pair(&s, ':', &a, &b);
	if (r < 0)
		return r;
	if (a > UINT_MAX || b > UINT_MAX)
		return -ERANGE;
	*p = s, *maj = (unsigned)a, *min = (unsigned)b;
	return 0;
}

int scan_word(const char **p, char *buf, size_t size)
{
	const char *s = skip_space(*p), *e = s;
	while (*e && skip_space(e) == e)
		e++;
	size_t n = (size_t)(e - s);
	if (n == 0)
		return -EINVAL;
	if (buf) {
		if (n >= size)
			return -ENAMETOOLONG;
		memcpy(buf, s, n);
		buf[n] = '\0';
	}
	*p = e;
	return 0;
}
