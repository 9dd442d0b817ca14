/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The setup watchdog. A step that never returns — a module whose init
 * oopsed, a device-mapper call stuck in the kernel — would leave the qube
 * hung before userspace, neither booted nor powered off. A thread sleeps
 * until the current step's deadline and, if no step ended since, stops the
 * boot the usual way (fatal: one line, power off). It cannot be blocked by
 * the stuck step: it is its own thread, and reboot() needs nothing from it.
 * exec of the real init (or the hook's exit) ends the thread. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "init.h"
#include "log.h"

static atomic_llong deadline_ms;            /* 0: disarmed */
static atomic_uintptr_t last_step;          /* name of the step that ended last */
static unsigned bound_s;

static void *watch(void *arg)
{
	(void)arg;
	for (;;) {
		long long now = monotonic_ms(), d = atomic_load(&deadline_ms);
		if (d && now >= d) {
			const char *after = (const char *)atomic_load(&last_step);
			fatal("setup made no progress for %u s after step \"%s\": a module or device "
			      "call hangs (bound: qubes.ephemeral.watchdog, at least qubes.ephemeral.timeout "
			      "+ 30 s)", bound_s, after ? after : "start");
		}
		long long wait = d ? d - now : 1000;
		struct timespec ts = { .tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

int watchdog_start(const struct options *o)
{
	pthread_t t;
	pthread_attr_t a;

	/* a disk may take the whole disk wait: never shorter than that */
	bound_s = o->watchdog_s > o->timeout_s + 30 ? o->watchdog_s : o->timeout_s + 30;
	atomic_store(&deadline_ms, monotonic_ms() + bound_s * 1000LL);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	int r = -pthread_create(&t, &a, watch, NULL);
	pthread_attr_destroy(&a);
	if (r == 0)
		pthread_detach(t);
	return r;
}

void watchdog_kick(const char *step)
{
	if (!atomic_load(&deadline_ms))
		return;
	atomic_store(&last_step, (uintptr_t)step);
	atomic_store(&deadline_ms, monotonic_ms() + bound_s * 1000LL);
}

void watchdog_stop(void)
{
	atomic_store(&deadline_ms, 0);
}

void test_hang(const struct ctx *c, const char *step)
{
#if TEST_HOOKS
	if (strcmp(c->opt.test_hang, step) != 0)
		return;
	log_info("TEST BUILD: hanging at step %s (qubes.ephemeral.test.hang=%s)", step, step);
	for (;;)
		pause();
#else
	(void)c, (void)step;
#endif
}
