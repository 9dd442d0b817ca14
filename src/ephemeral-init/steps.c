/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Boot step timings: one line at the end of setup says where /init spent
 * its time ("steps: disks 12, origins 3, ..." in ms), so a slow boot can be
 * explained without a debugger (bench/run.sh reads it too). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "init.h"

long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void step_done(struct ctx *c, const char *name)
{
	long long now = monotonic_ms(), last = c->step_ms ? c->step_ms : c->start_ms;
	size_t n = strlen(c->steps);

	snprintf(c->steps + n, sizeof(c->steps) - n, "%s%s %lld", n ? ", " : "", name, now - last);
	c->step_ms = now;
	watchdog_kick(name);
}

int step_fail(struct ctx *c, int r, const char *fmt, ...)
{
	va_list ap;
	char msg[256];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->why, sizeof(c->why), "%s: %s", msg, strerror(r < 0 ? -r : r));
	return r;
}

int step_refuse(struct ctx *c, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return r < 0 ? r : -EIO;
}
