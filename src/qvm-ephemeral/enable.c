/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral enable | disable | apply */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "qubesd.h"
#include "qvm.h"

/* A qube in scope of enable/disable and why it is there. */
struct target {
	struct qube *q;
	const char *via;   /* NULL = named on the command line, else the template */
	bool refused;
	char why[320];
};

struct targets {
	struct target v[1024];
	size_t n;
	bool overflow;
};

static void add_target(struct targets *t, struct qube *q, const char *via)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].q == q)
			return;
	if (t->n == sizeof(t->v) / sizeof(t->v[0])) {
		t->overflow = true;
		return;
	}
	t->v[t->n++] = (struct target){ .q = q, .via = via };
}

static bool excluded(char **ex, size_t nex, const char *name)
{
	for (size_t i = 0; i < nex; i++)
		if (!strcmp(ex[i], name))
			return true;
	return false;
}

/* Adds the disposables (DispVM, template = tpl) found in l. */
static int add_disposables_of(struct targets *t, struct qube_list *l, struct qube *tpl)
{
	for (size_t i = 0; i < l->n; i++) {
		struct qube *d = &l->v[i];
		if (strcmp(d->klass, "DispVM"))
			continue;
		int r = qube_load_props(d);
		if (r < 0)
			return r;
		if (!strcmp(d->template.value, tpl->name))
			add_target(t, d, tpl->name);
	}
	return 0;
}

static void print_refused(const struct targets *t)
{
	bool any = false;
	for (size_t i = 0; i < t->n; i++) {
		const struct target *x = &t->v[i];
		if (!x->refused)
			continue;
		if (!any)
			fprintf(stderr, "qvm-ephemeral: refused (nothing changed for these):\n");
		any = true;
		fprintf(stderr, "  %s%s%s%s: %s\n", x->q->name, x->via ? " (disposable of " : "",
			x->via ? x->via : "", x->via ? ")" : "", x->why);
	}
}

static void usage_enable(FILE *f)
{
	fprintf(f, "usage: qvm-ephemeral enable [--dom0-crypt] [--all-disposables] [--exclude VM]... [--force] [VM...]\n"
		   "\n"
		   "Makes each qube fully ephemeral: root and private read-only in dom0, kernel = the\n"
		   "ephemeral variant of its kernel, kernelopts += " KOPTS_FLAG ". The previous settings are\n"
		   "saved in the qube feature " RECORD_FEATURE " for `disable`. A disposable template\n"
		   "brings its named disposables along.\n"
		   "\n"
		   "  --dom0-crypt        also volatile ephemeral=True (dom0 encrypts volatile too)\n"
		   "  --all-disposables   every disposable template and named disposable, now and (with\n"
		   "                      `qvm-ephemeral watch`) those made later\n"
		   "  --exclude VM        leave VM out (repeatable)\n"
		   "  --force             also a StandaloneVM: dom0 tells its agent it is persistent\n"
		   "                      (/qubes-vm-persistence = full), so updates installed in it\n"
		   "                      vanish at shutdown while it reports them installed\n"
		   "\nexit codes: 0 all done, 1 something refused or failed (printed), 2 usage\n");
}

static void note_preloaded(struct qube *tpl)
{
	struct qubesd_error err;
	char *out;
	if (qubesd_call_err("admin.vm.feature.Get", tpl->name, "preload-dispvm", NULL, &out, &err) < 0)
		return;
	if (out[0] && !qvm_quiet)
		printf("%s: preloaded disposables (%s) were made with the old settings; qubesd replaces outdated "
		       "preloaded disposables after a property change (R4.3); to refresh them now: "
		       "qvm-features %s preload-dispvm-max 0, then set it back\n", tpl->name, out, tpl->name);
	free(out);
}

/* Adds the qubes named on the command line (less the excluded ones).
 * EXIT_FAIL when one does not exist (printed), else EXIT_OK. */
static int add_named(struct targets *t, struct qube_list *l, char **names, size_t n, char **ex, size_t nex)
{
	int rc = EXIT_OK;
	for (size_t i = 0; i < n; i++) {
		struct qube *q = qubes_find(l, names[i]);
		if (!q) {
			fprintf(stderr, "qvm-ephemeral: no such qube: %s\n", names[i]);
			rc = EXIT_FAIL;
		} else if (!excluded(ex, nex, q->name))
			add_target(t, q, NULL);
	}
	return rc;
}

/* A disposable template brings its disposables along. Negative errno when
 * a call failed. */
static int add_disposables_of_templates(struct targets *t, struct qube_list *l)
{
	for (size_t i = 0, n = t->n; i < n; i++) {
		struct qube *q = t->v[i].q;
		int r;
		if (strcmp(q->klass, "AppVM"))
			continue;
		if ((r = qube_load_props(q)) < 0)
			return r;
		if (qube_is_disposable_template(q) && (r = add_disposables_of(t, l, q)) < 0)
			return r;
	}
	return 0;
}

static int enable_targets(char **names, size_t nnames, char **ex, size_t nex, const struct policy *policy,
			  bool dom0_crypt, bool force);

/* Parses enable's command line; EXIT_OK to go on, else the exit code.
 * names and ex have room for argc entries each. */
static int parse_enable_args(int argc, char **argv, bool *dom0_crypt, bool *all, bool *force, char **names,
			     size_t *nnames, char **ex, size_t *nex, struct policy *p)
{
	int exit_now = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (qvm_common_opt(a, usage_enable, &exit_now)) {
			if (exit_now >= 0)
				return exit_now;
		} else if (!strcmp(a, "--dom0-crypt"))
			*dom0_crypt = true;
		else if (!strcmp(a, "--all-disposables"))
			*all = true;
		else if (!strcmp(a, "--force"))
			*force = true;
		else if (!strcmp(a, "--exclude") || !strncmp(a, "--exclude=", 10)) {
			char *v = a[9] == '=' ? argv[i] + 10 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v || !*v) {
				fprintf(stderr, "qvm-ephemeral enable: --exclude needs a qube name\n");
				return EXIT_USAGE;
			}
			int r = policy_add_exclude(p, v);
			if (r == -EINVAL) {
				fprintf(stderr, "qvm-ephemeral enable: --exclude %s: not a qube name (comma or space)\n", v);
				return EXIT_USAGE;
			}
			if (r == -ENOSPC) {
				fprintf(stderr, "qvm-ephemeral enable: the --exclude list is longer than the policy can hold "
					"(%zu characters); nothing changed. Exclude fewer qubes, or enable the disposables "
					"by name instead of --all-disposables\n", sizeof(p->exclude) - 1);
				return EXIT_USAGE;
			}
			ex[(*nex)++] = v;
		} else if (a[0] == '-') {
			fprintf(stderr, "qvm-ephemeral enable: unknown option %s; see --help\n", a);
			return EXIT_USAGE;
		} else
			names[(*nnames)++] = argv[i];
	}
	if (!*nnames && !*all) {
		usage_enable(stderr);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int cmd_enable(int argc, char **argv)
{
	bool dom0_crypt = false, all = false, force = false;
	size_t nex = 0, nnames = 0;
	struct policy p = { .on = true };
	char **ex = calloc(argc, sizeof(char *)), **names = calloc(argc, sizeof(char *));
	int rc;
	if (!ex || !names) {
		fprintf(stderr, "qvm-ephemeral: out of memory\n");
		rc = EXIT_FAIL;
	} else
		rc = parse_enable_args(argc, argv, &dom0_crypt, &all, &force, names, &nnames, ex, &nex, &p);
	if (rc == EXIT_OK) {
		p.dom0_crypt = dom0_crypt;
		rc = enable_targets(names, nnames, ex, nex, all ? &p : NULL, dom0_crypt, force);
	}
	free(ex);
	free(names);
	return rc;
}

/* enable of the parsed command line; policy NULL without --all-disposables */
static int enable_targets(char **names, size_t nnames, char **ex, size_t nex, const struct policy *policy,
			  bool dom0_crypt, bool force)
{
	bool all = policy != NULL;

	struct qube_list l;
	static struct targets t;
	int r, rc = EXIT_OK;
	t.n = 0;
	if (qubes_list(&l) < 0)
		return EXIT_FAIL;
	rc = add_named(&t, &l, names, nnames, ex, nex);
	if (all) {
		for (size_t i = 0; i < l.n; i++) {
			struct qube *q = &l.v[i];
			if (strcmp(q->klass, "AppVM") && strcmp(q->klass, "DispVM"))
				continue;
			if (qube_load_props(q) < 0)
				goto fail;
			if (qube_is_disposable_template(q) || qube_is_named_disposable(q))
				add_target(&t, q, NULL);
		}
	}
	if (add_disposables_of_templates(&t, &l) < 0)
		goto fail;
	if (t.overflow) {
		fprintf(stderr, "qvm-ephemeral: too many qubes in one call\n");
		goto fail;
	}

	/* check everything first; refuse what cannot work */
	size_t skipped_running = 0;
	for (size_t i = 0; i < t.n; i++) {
		struct target *x = &t.v[i];
		if (excluded(ex, nex, x->q->name)) {
			x->q = NULL;
			continue;
		}
		if (qube_load(x->q) < 0)
			goto fail;
		/* running unnamed disposables end at shutdown; new ones get the settings */
		if (x->via && !qube_is_named_disposable(x->q) && !qube_is_halted(x->q)) {
			if (qvm_verbose)
				printf("%s: running disposable of %s: left as is, it is removed at shutdown\n",
				       x->q->name, x->via);
			x->q = NULL;
			skipped_running++;
			continue;
		}
		x->refused = qube_refusal(x->q, x->why, sizeof(x->why)) != 0 ||
			     ephemeral_refusal(x->q, dom0_crypt || (x->q->has_record && x->q->rec.dom0_crypt), x->why,
					       sizeof(x->why)) != 0;
		if (!x->refused && !force && !x->q->has_record && !strcmp(x->q->klass, "StandaloneVM")) {
			x->refused = true;
			snprintf(x->why, sizeof(x->why), "StandaloneVM: dom0 tells its agent it keeps its root "
				 "(/qubes-vm-persistence = full), so updates installed in it would vanish at shutdown "
				 "while it reports them installed; --force enables it anyway");
		}
		if (!x->refused && x->q->has_record && x->q->record_bad) {
			x->refused = true;
			snprintf(x->why, sizeof(x->why), "record unreadable (%s); see disable --force", x->q->record_err);
		}
		if (x->refused)
			rc = EXIT_FAIL;
	}
	print_refused(&t);
	if (all) {
		char text[PROP_MAX + 64];
		if (policy_format(policy, text, sizeof(text)) < 0 ||
		    qubesd_call("admin.vm.feature.Set", "dom0", POLICY_FEATURE, text, NULL) < 0)
			goto fail;
	}
	for (size_t i = 0; i < t.n; i++) {
		struct target *x = &t.v[i];
		if (!x->q || x->refused)
			continue;
		bool had = x->q->has_record;
		r = enable_one(x->q, dom0_crypt);
		if (r < 0) {
			rc = EXIT_FAIL;
			continue;
		}
		if (!qvm_quiet)
			printf("%s: ephemeral (kernel %s, root and private read-only%s)%s\n", x->q->name,
			       x->q->kernel.value, dom0_crypt ? ", volatile ephemeral in dom0" : "",
			       had ? "; was already enabled, kept its saved settings" : "");
		if (!qvm_quiet && !strcmp(x->q->virt_mode.value, "hvm"))
			printf("%s: HVM: relies on its stubdomain booting the kernel and initramfs of the variant's "
			       "modules.img, and on ephemeral-init making root and private read-only itself; "
			       "that boot path is not tested under real Xen (see qvm-ephemeral(1))\n", x->q->name);
		if (qube_is_disposable_template(x->q))
			note_preloaded(x->q);
	}
	if (skipped_running && !qvm_quiet)
		printf("%zu running disposable(s) left as they are: they are removed at shutdown; new ones get the settings\n",
		       skipped_running);
	qubes_free(&l);
	return rc;
fail:
	qubes_free(&l);
	return EXIT_FAIL;
}

/* --- disable --- */

static void usage_disable(FILE *f)
{
	fprintf(f, "usage: qvm-ephemeral disable [--force] [--all-disposables] VM...\n"
		   "\n"
		   "Restores exactly the settings `enable` saved (properties at their default are reset,\n"
		   "not set), then removes the saved record. A disposable template brings its disposables\n"
		   "that have a record along.\n"
		   "\n"
		   "  --force             also a qube without a (readable) record: root/private rw=True,\n"
		   "                      kernel = the variant's base, " KOPTS_FLAG " removed\n"
		   "  --all-disposables   also end the --all-disposables policy\n"
		   "\nexit codes: 0 all done, 1 something refused or failed (printed), 2 usage\n");
}

static int restore_prop(struct qube *q, struct undo *u, const char *prop, const struct qprop *cur,
			const struct saved_prop *s)
{
	if (s->was_default)
		return cur->is_default ? 0 : reset_prop(q, u, prop);
	if (!cur->is_default && !strcmp(cur->value, s->value))
		return 0;
	return write_prop(q, u, prop, s->value);
}

static int restore_vol(struct qube *q, struct undo *u, const char *vol, const char *what, bool cur, int want)
{
	if (want < 0 || cur == (bool)want)
		return 0;
	return write_vol(q, u, vol, what, want);
}

/* What qubesd would refuse of the restore, before the first write. */
static int disable_refusal(struct qube *q, bool exact, char *why, size_t n)
{
	char base[PROP_MAX];
	const char *kernel = NULL;
	if (exact && !q->rec.kernel.was_default)
		kernel = q->rec.kernel.value;
	else if (!exact && kernel_variant_base(q->kernel.value, base, sizeof(base)))
		kernel = base;
	if (kernel && kernel[0] && strcmp(kernel, q->kernel.value) && !kernel_pool_has(kernel))
		return snprintf(why, n, "the kernel to restore, %.64s, is not installed (not in the linux-kernel pool); "
				"install it, or set another kernel with qvm-prefs first", kernel), 1;
	if (exact && strlen(q->rec.kernelopts.value) > KOPTS_MAX)
		return snprintf(why, n, "the saved kernelopts are over %d characters; qubesd would refuse them", KOPTS_MAX), 1;
	return 0;
}

static int disable_writes(struct qube *q, struct undo *u, bool force)
{
	int r;
	if (q->has_record && !q->record_bad) {
		const struct record *s = &q->rec;
		if ((r = restore_vol(q, u, "root", "rw", q->root.rw, s->root_rw)) < 0 ||
		    (r = restore_vol(q, u, "private", "rw", q->private.rw, s->private_rw)) < 0 ||
		    (r = restore_vol(q, u, "volatile", "ephemeral", q->volatile_.ephemeral, s->volatile_ephemeral)) < 0 ||
		    (r = restore_prop(q, u, "kernel", &q->kernel, &s->kernel)) < 0 ||
		    (r = restore_prop(q, u, "kernelopts", &q->kernelopts, &s->kernelopts)) < 0)
			return r;
	} else if (force) {
		char opts[PROP_MAX];
		if ((r = restore_vol(q, u, "root", "rw", q->root.rw, 1)) < 0 ||
		    (r = restore_vol(q, u, "private", "rw", q->private.rw, 1)) < 0)
			return r;
		char base[PROP_MAX];
		if (kernel_variant_base(q->kernel.value, base, sizeof(base))) {
			if ((r = write_prop(q, u, "kernel", base)) < 0)
				return r;
		}
		if (kopts_has_flag(q->kernelopts.value)) {
			kopts_remove_flag(q->kernelopts.value, opts, sizeof(opts));
			if ((r = opts[0] ? write_prop(q, u, "kernelopts", opts) : reset_prop(q, u, "kernelopts")) < 0)
				return r;
		}
	}
	if (q->has_record)
		return remove_feature(q, u, RECORD_FEATURE, q->record_text);
	return 0;
}

/* disable of one checked qube, all or nothing */
static int disable_one(struct qube *q, bool force)
{
	struct undo u = { .n = 0 };
	char why[320];
	if (disable_refusal(q, q->has_record && !q->record_bad, why, sizeof(why))) {
		fprintf(stderr, "qvm-ephemeral: %s: %s\n", q->name, why);
		return -EINVAL;
	}
	int r = disable_writes(q, &u, force);
	if (r < 0)
		undo_run(q, &u);
	return r;
}

static int disable_targets(char **names, size_t nnames, bool force, bool all);

int cmd_disable(int argc, char **argv)
{
	bool force = false, all = false;
	size_t nnames = 0;
	int exit_now = -1;
	char **names = calloc(argc, sizeof(char *));
	if (!names) {
		fprintf(stderr, "qvm-ephemeral: out of memory\n");
		return EXIT_FAIL;
	}

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (qvm_common_opt(a, usage_disable, &exit_now)) {
			if (exit_now >= 0)
				return free(names), exit_now;
		} else if (!strcmp(a, "--force"))
			force = true;
		else if (!strcmp(a, "--all-disposables"))
			all = true;
		else if (a[0] == '-') {
			fprintf(stderr, "qvm-ephemeral disable: unknown option %s; see --help\n", a);
			return free(names), EXIT_USAGE;
		} else
			names[nnames++] = argv[i];
	}
	if (!nnames && !all) {
		usage_disable(stderr);
		return free(names), EXIT_USAGE;
	}
	int rc = disable_targets(names, nnames, force, all);
	free(names);
	return rc;
}

static int disable_targets(char **names, size_t nnames, bool force, bool all)
{
	struct qube_list l;
	static struct targets t;
	int rc = EXIT_OK;
	t.n = 0;
	if (qubes_list(&l) < 0)
		return EXIT_FAIL;
	if (all) {
		struct qubesd_error err;
		int r = qubesd_call_err("admin.vm.feature.Remove", "dom0", POLICY_FEATURE, NULL, NULL, &err);
		if (r < 0 && !(r == -EREMOTEIO && !strcmp(err.type, "QubesFeatureNotFoundError"))) {
			fprintf(stderr, "qvm-ephemeral: dom0: admin.vm.feature.Remove+%s: %s: %s\n", POLICY_FEATURE,
				err.type, err.msg);
			rc = EXIT_FAIL;
		} else if (!qvm_quiet)
			printf("--all-disposables policy ended\n");
	}
	if (add_named(&t, &l, names, nnames, NULL, 0) != EXIT_OK)
		rc = EXIT_FAIL;
	if (add_disposables_of_templates(&t, &l) < 0)
		goto fail;
	for (size_t i = 0; i < t.n; i++) {
		struct target *x = &t.v[i];
		if (qube_load(x->q) < 0)
			goto fail;
		if (x->via && !x->q->has_record) {
			x->q = NULL; /* a disposable never enabled: nothing to restore */
			continue;
		}
		if (x->via && !qube_is_named_disposable(x->q) && !qube_is_halted(x->q)) {
			x->q = NULL; /* running unnamed disposable: removed at shutdown */
			continue;
		}
		if (!strcmp(x->q->klass, "AdminVM"))
			x->refused = true, snprintf(x->why, sizeof(x->why), "dom0 is never changed");
		else if (!qube_is_halted(x->q))
			x->refused = true, snprintf(x->why, sizeof(x->why), "%s: shut it down first (volume rw can "
						    "only change while halted)", x->q->state);
		else if (!x->q->has_record && !force)
			x->refused = true, snprintf(x->why, sizeof(x->why), "no saved settings (feature %s): it was "
						    "not enabled by qvm-ephemeral; --force resets the ephemeral settings",
						    RECORD_FEATURE);
		else if (x->q->record_bad && !force)
			x->refused = true, snprintf(x->why, sizeof(x->why), "saved settings unreadable (%s); --force "
						    "resets the ephemeral settings", x->q->record_err);
		if (x->refused)
			rc = EXIT_FAIL;
	}
	print_refused(&t);
	for (size_t i = 0; i < t.n; i++) {
		struct target *x = &t.v[i];
		if (!x->q || x->refused)
			continue;
		bool exact = x->q->has_record && !x->q->record_bad;
		if (disable_one(x->q, force) < 0) {
			rc = EXIT_FAIL;
			continue;
		}
		if (!qvm_quiet)
			printf("%s: %s\n", x->q->name, exact ? "restored the saved settings" : "ephemeral settings reset (--force)");
	}
	qubes_free(&l);
	return rc;
fail:
	qubes_free(&l);
	return EXIT_FAIL;
}

/* --- apply --- */

static void usage_apply(FILE *f)
{
	fprintf(f, "usage: qvm-ephemeral apply\n\n"
		   "Re-applies the ephemeral settings of every qube that has a record (fixes drift such as\n"
		   "rw reverted by a qubesd restart) and, under the --all-disposables policy, enables\n"
		   "disposable templates and named disposables made since.\n"
		   "\nexit codes: 0 everything ephemeral, 1 something left or failed (printed), 2 usage\n");
}

int cmd_apply(int argc, char **argv)
{
	int exit_now = -1;
	for (int i = 1; i < argc; i++) {
		if (qvm_common_opt(argv[i], usage_apply, &exit_now)) {
			if (exit_now >= 0)
				return exit_now;
			continue;
		}
		fprintf(stderr, "qvm-ephemeral apply: unexpected argument %s\n", argv[i]);
		return EXIT_USAGE;
	}
	return apply_all() == 0 ? EXIT_OK : EXIT_FAIL;
}
