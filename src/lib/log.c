/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *log_prog = "qubes-ephemeral";

void log_info(const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", log_prog, buf);
}

int log_errno(int r, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (r < 0)
		fprintf(stderr, "%s: %s: %s\n", log_prog, buf, strerror(-r));
	else
		fprintf(stderr, "%s: %s\n", log_prog, buf);
	return r;
}
