/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral verify VM: runs the guest's own status tool (left in the
 * throw-away root by ephemeral-init) through qrexec and judges each path.
 *
 * The Admin API cannot run commands in a qube; dom0 does it with
 * `qrexec-client -d VM root:CMD` (what qvm-run -u root uses), a management
 * qube with `qrexec-client-vm VM qubes.VMRootShell` (needs a policy allowing
 * it) and the command on stdin. */
#define _GNU_SOURCE
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "qubesd.h"
#include "spawn.h"
#include "qvm.h"

#define GUEST_STATUS "/run/qubes-ephemeral/ephemeral-status"

/* The text after "KEY:" on the first line that starts with it, or NULL. */
static const char *line_of(const char *out, const char *key, char *buf, size_t n)
{
	size_t kl = strlen(key);
	for (const char *p = out; *p;) {
		size_t len = strcspn(p, "\n");
		if (len > kl && !strncmp(p, key, kl) && p[kl] == ':') {
			const char *v = p + kl + 1;
			while (*v == ' ')
				v++;
			snprintf(buf, n, "%.*s", (int)(len - (v - p)), v);
			return buf;
		}
		p += len + (p[len] == '\n');
	}
	return NULL;
}

static void set(struct verify_path *vp, bool pass, const char *reason)
{
	vp->pass = pass;
	snprintf(vp->reason, sizeof(vp->reason), "%s", reason);
}

void verify_judge(const char *out, int guest_rc, struct verify_result *v)
{
	char mode[256], crypt[256], key[256], origins[256], verdict[256];
	memset(v, 0, sizeof(*v));
	const char *m = line_of(out, "mode", mode, sizeof(mode));
	const char *c = line_of(out, "crypt", crypt, sizeof(crypt));
	const char *k = line_of(out, "key", key, sizeof(key));
	const char *o = line_of(out, "origins", origins, sizeof(origins));
	const char *vd = line_of(out, "verdict", verdict, sizeof(verdict));
	snprintf(v->verdict, sizeof(v->verdict), "%s", vd ? vd : "(no verdict line: is ephemeral-status there?)");
	v->guest_ok = guest_rc == 0;

	const char *common = NULL;
	if (!c || !k || !m)
		common = "ephemeral-status printed no mode/crypt/key line (not booted by ephemeral-init, or booted "
			 "without " KOPTS_FLAG ": then the original init ran and left no status tool)";
	else if (strncmp(m, "ephemeral", 9))
		common = "not booted in ephemeral mode (kernelopts lacks " KOPTS_FLAG "?)";
	else if (!strncmp(c, "no ", 3) || strstr(c, "NOT"))
		common = "the volatile disk is not under dm-crypt";
	else if (strstr(k, "KEY MATERIAL"))
		common = "the dm-crypt table shows the key";
	else if (strstr(k, "STILL IN A KEYRING"))
		common = "the key is still in a keyring";

	struct { struct verify_path *vp; const char *label; } paths[] = {
		{ &v->root, "root" }, { &v->private, "private" },
	};
	for (size_t i = 0; i < 2; i++) {
		char want[32], why[256];
		snprintf(want, sizeof(want), "%s read-only", paths[i].label);
		if (common)
			set(paths[i].vp, false, common);
		else if (!o)
			set(paths[i].vp, false, "no origins line");
		else if (!strstr(o, want)) {
			snprintf(why, sizeof(why), "the %s origin disk is writable in the guest", paths[i].label);
			set(paths[i].vp, false, why);
		} else {
			snprintf(why, sizeof(why), "writes go to a thin device on dm-crypt (%.80s); origin read-only",
				 c);
			set(paths[i].vp, true, why);
		}
	}

	/* swap: every active swap must be on our encrypted device (the guest
	 * proves it from its dm tables and says so in its verdict; older guests
	 * marked a foreign swap "NOT ours") */
	bool any = false, foreign = vd && strstr(vd, "NOT ephemeral") && strstr(vd, "swap"), none = false;
	for (const char *p = out; *p;) {
		size_t len = strcspn(p, "\n");
		if (!strncmp(p, "swap:", 5)) {
			any = true;
			if (memmem(p, len, "NOT ours", 8))
				foreign = true;
			if (memmem(p, len, "none active", 11))
				none = true;
		}
		p += len + (p[len] == '\n');
	}
	if (!any)
		set(&v->swap, false, "no swap line");
	else if (foreign)
		set(&v->swap, false, "a swap device outside the encrypted volatile disk is active");
	else if (none)
		set(&v->swap, true, "no swap active");
	else if (common && strstr(common, "crypt"))
		set(&v->swap, false, common);
	else
		set(&v->swap, true, "swap is a slice of the encrypted volatile disk");

	/* memory handed back to Xen must be wiped (scrub_pages = 1) */
	char mem[256];
	const char *mm = line_of(out, "memory", mem, sizeof(mem));
	if (!mm)
		set(&v->memory, false, "ephemeral-status printed no memory line (a kernel variant from before "
		    "the scrubbing check: run 'qvm-ephemeral kernel sync')");
	else if (strstr(mm, "OFF"))
		set(&v->memory, false, "Xen balloon scrubbing is off: memory the qube hands back to Xen is not wiped");
	else if (strstr(mm, "absent"))
		set(&v->memory, true, "no Xen balloon driver in the qube: nothing is handed back to scrub");
	else if (strstr(mm, "scrub_pages = 1")) {
		char why[256];
		snprintf(why, sizeof(why), "%.200s", mm);
		set(&v->memory, true, why);
	} else
		set(&v->memory, false, "the memory line does not say scrubbing is on");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: qvm-ephemeral verify VM\n"
		   "\n"
		   "Runs " GUEST_STATUS " inside the running qube as root through qrexec\n"
		   "and prints PASS or FAIL for root, private, swap and memory (Xen balloon\n"
		   "scrubbing) with the reason.\n"
		   "\nexit codes: 0 every path PASS, 1 a FAIL or the check could not run, 2 usage\n");
}

/* Runs the guest tool; returns its exit code (>= 0) with its output in
 * *out, or negative errno. */
static int run_in_guest(const char *vm, char **out)
{
	bool dom0 = !qubesd_via_qrexec();
	char target[512];
	snprintf(target, sizeof(target), "root:%s", GUEST_STATUS);
	char *in_dom0[] = { "qrexec-client", "-d", (char *)vm, target, NULL };
	char *in_mgmt[] = { "qrexec-client-vm", (char *)vm, "qubes.VMRootShell", NULL };
	struct spawn_opts o = { .in = SPAWN_NULL, .out = SPAWN_PIPE, .err = SPAWN_KEEP, .cwdfd = -1 };
	return spawn_run(dom0 ? in_dom0 : in_mgmt, &o, dom0 ? NULL : GUEST_STATUS "; exit $?\n", 1u << 20, out);
}

int cmd_verify(int argc, char **argv)
{
	const char *vm = NULL;
	int exit_now = -1;
	for (int i = 1; i < argc; i++) {
		if (qvm_common_opt(argv[i], usage, &exit_now)) {
			if (exit_now >= 0)
				return exit_now;
		} else if (argv[i][0] == '-' || vm) {
			fprintf(stderr, "qvm-ephemeral verify: takes one qube name; see --help\n");
			return EXIT_USAGE;
		} else
			vm = argv[i];
	}
	if (!vm) {
		usage(stderr);
		return EXIT_USAGE;
	}
	struct qube_list l;
	if (qubes_list(&l) < 0)
		return EXIT_FAIL;
	struct qube *q = qubes_find(&l, vm);
	if (!q || strcmp(q->state, "Running")) {
		fprintf(stderr, "qvm-ephemeral: %s: %s\n", vm, !q ? "no such qube" : "not running (verify checks a running qube from inside)");
		qubes_free(&l);
		return EXIT_FAIL;
	}
	qubes_free(&l);

	char *out = NULL;
	int rc = run_in_guest(vm, &out);
	if (rc < 0 || rc >= 126 || !out || !strstr(out, "verdict:")) {
		fprintf(stderr, "qvm-ephemeral: %s: could not run %s in the qube (exit %d)%s\n", vm, GUEST_STATUS, rc,
			rc == 127 ? ": not found; the qube did not boot through ephemeral-init" : "");
		free(out);
		return EXIT_FAIL;
	}
	struct verify_result v;
	verify_judge(out, rc, &v);
	if (qvm_verbose)
		fputs(out, stdout);
	free(out);
	const struct { const char *n; struct verify_path *p; } rows[] = {
		{ "root", &v.root }, { "private", &v.private }, { "swap", &v.swap }, { "memory", &v.memory },
	};
	bool all = v.guest_ok;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		printf("%-8s %s  %s\n", rows[i].n, rows[i].p->pass ? "PASS" : "FAIL", rows[i].p->reason);
		all = all && rows[i].p->pass;
	}
	printf("guest    %s\n", v.verdict);
	return all ? EXIT_OK : EXIT_FAIL;
}
