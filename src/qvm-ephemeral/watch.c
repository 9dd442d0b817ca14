/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral watch: keeps the policy across qubesd restarts and new
 * disposables. Applies at every (re)connection to qubesd — a restart of
 * qubesd is what reverts rw=False on R4.2 — and then follows admin.Events. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "qubesd.h"
#include "qvm.h"
#include "traces.h"

static volatile sig_atomic_t stop;

/* --auto-scrub: scrub a disposable's dom0 traces when qubesd deletes it.
 * Named disposables are known only while they exist, so their names are
 * kept from the listing at connection and from domain-add events. */
static struct {
	bool on;
	char **disp;
	size_t n;
} scrub;

static void scrub_forget(size_t i)
{
	free(scrub.disp[i]);
	scrub.disp[i] = scrub.disp[--scrub.n];
}

static bool scrub_known(const char *name, size_t *at)
{
	for (size_t i = 0; i < scrub.n; i++)
		if (!strcmp(scrub.disp[i], name)) {
			if (at)
				*at = i;
			return true;
		}
	return false;
}

/* Adds every existing DispVM not yet known (all of them at connection). */
static void scrub_learn(void)
{
	struct qube_list l;
	if (qubes_list(&l) < 0)
		return;
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(l.v[i].klass, "DispVM") || scrub_known(l.v[i].name, NULL))
			continue;
		char **nv = realloc(scrub.disp, (scrub.n + 1) * sizeof(*nv));
		char *nm = strdup(l.v[i].name);
		if (!nv || !nm) {
			free(nm);
			if (nv)
				scrub.disp = nv;
			break;
		}
		scrub.disp = nv;
		scrub.disp[scrub.n++] = nm;
	}
	qubes_free(&l);
}

static void scrub_load(bool announce)
{
	int r = trace_auto_scrub_get();
	bool was = scrub.on;
	scrub.on = r > 0;
	if (scrub.on)
		scrub_learn();
	if (announce || was != scrub.on)
		printf("automatic scrub of disposables' dom0 traces is %s\n", scrub.on ? "on" : "off");
}

static void scrub_deleted(const char *vm)
{
	size_t at;
	bool known = scrub_known(vm, &at);
	if (known)
		scrub_forget(at);
	if (!scrub.on || !(known || trace_is_disp_name(vm)))
		return;
	printf("disposable %s deleted: scrubbing its dom0 traces\n", vm);
	fflush(stdout);
	if (trace_scrub_gone(vm) != EXIT_OK)
		printf("scrub of %s incomplete (above); `qvm-ephemeral traces --all-disposables --scrub` retries\n", vm);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: qvm-ephemeral watch [--retry SECONDS]\n"
		   "\n"
		   "Long-running dom0 service (qvm-ephemeral-watch.service). At start and at every\n"
		   "reconnection to qubesd it runs `apply`; then it follows admin.Events: a qube that\n"
		   "shuts down is re-checked, and under the --all-disposables policy new disposable\n"
		   "templates and named disposables are enabled. With `traces --auto-scrub on` it\n"
		   "removes a disposable's dom0 traces when qubesd deletes it. --retry: wait between reconnection\n"
		   "attempts (default 2 s). Stops on SIGTERM/SIGINT.\n"
		   "\nexit codes: 0 stopped by a signal, 2 usage\n");
}

static void pause_for(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
	while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void handle(const struct qubesd_event *ev, struct policy *p)
{
	const char *name = ev->name;
	if (!strcmp(name, "connection-established")) {
		printf("connected to qubesd; applying\n");
		policy_load(p);
		int r = apply_all();
		printf("apply: %s\n", r == 0 ? "every recorded qube is ephemeral" : r > 0 ? "some qubes left as is (above)"
										  : "a call failed (above)");
		scrub_load(true);
	} else if (!strcmp(name, "domain-add")) {
		const char *vm = qubesd_event_kw(ev, "vm");
		if (vm && p->on)
			apply_one(vm, p);
		if (vm && scrub.on)
			scrub_learn();
	} else if (!strcmp(name, "domain-delete")) {
		const char *vm = qubesd_event_kw(ev, "vm");
		if (vm)
			scrub_deleted(vm);
	} else if (!strcmp(name, "property-set:template_for_dispvms") && p->on) {
		const char *nv = qubesd_event_kw(ev, "newvalue");
		if (nv && !strcmp(nv, "True") && ev->subject[0])
			apply_one(ev->subject, p);
	} else if (!strcmp(name, "domain-shutdown") && ev->subject[0]) {
		apply_one(ev->subject, p);
	} else if (!strncmp(name, "domain-feature-", 15) && strstr(name, ":" POLICY_FEATURE) &&
		   !strcmp(ev->subject, "dom0")) {
		policy_load(p);
		printf("--all-disposables policy is now %s\n", p->on ? "on" : "off");
	} else if (!strncmp(name, "domain-feature-", 15) && strstr(name, ":" SCRUB_FEATURE) &&
		   !strcmp(ev->subject, "dom0")) {
		scrub_load(false);
	}
	fflush(stdout);
}

int cmd_watch(int argc, char **argv)
{
	double retry = 2;
	int exit_now = -1;
	for (int i = 1; i < argc; i++) {
		if (qvm_common_opt(argv[i], usage, &exit_now)) {
			if (exit_now >= 0)
				return exit_now;
		} else if (!strcmp(argv[i], "--retry") && i + 1 < argc) {
			char *end;
			retry = strtod(argv[++i], &end);
			if (*end || retry < 0 || retry > 3600) {
				fprintf(stderr, "qvm-ephemeral watch: --retry takes seconds (0..3600)\n");
				return EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "qvm-ephemeral watch: unexpected argument %s; see --help\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	struct policy p;
	bool said_down = false;
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	if (!buf)
		return EXIT_FAIL;
	while (!stop) {
		struct qubesd_error err;
		pid_t child;
		int fd = qubesd_events_open(&child, &err);
		if (fd < 0) {
			if (!said_down)
				printf("qubesd not reachable (%s); retrying every %g s\n", err.msg, retry);
			said_down = true;
			pause_for(retry);
			continue;
		}
		said_down = false;
		memset(&p, 0, sizeof(p));
		size_t len = 0;
		bool broken = false;
		while (!stop && !broken) {
			if (len == cap) {
				char *nb = cap < (16u << 20) ? realloc(buf, cap * 2) : NULL;
				if (!nb) {
					printf("event too large; reconnecting\n");
					break;
				}
				buf = nb, cap *= 2;
			}
			ssize_t n = read(fd, buf + len, cap - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += n;
			size_t off = 0;
			for (;;) {
				struct qubesd_event ev;
				ssize_t used = qubesd_parse_event(buf + off, len - off, &ev, &err);
				if (used < 0) {
					printf("unexpected data from qubesd (%s: %s); reconnecting\n", err.type, err.msg);
					broken = true;
					break;
				}
				if (used == 0)
					break;
				handle(&ev, &p);
				off += used;
			}
			memmove(buf, buf + off, len - off);
			len -= off;
		}
		qubesd_events_close(fd, child);
		if (!stop) {
			printf("connection to qubesd lost; reconnecting\n");
			pause_for(retry);
		}
	}
	free(buf);
	while (scrub.n)
		scrub_forget(0);
	free(scrub.disp);
	printf("stopped\n");
	return EXIT_OK;
}
