/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Judge, make ephemeral, apply (see engine.h). */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qubesd.h"
#include "qvm.h"

#include "kernel.h"

/* -v / -q (qvm_common_opt and main) */
int qvm_verbose, qvm_quiet;

const char *kernels_dir(void)
{
	static char dir[4096];
	if (dir[0])
		return dir;
	const char *d = TEST_ENV("QUBES_VM_KERNELS_DIR");
	if (d && *d)
		return d;
	/* qubesd's linux-kernel pool says where the kernels are */
	if (kernel_pool_dir(dir, sizeof(dir)) < 0) {
		snprintf(dir, sizeof(dir), "%s", KERNELS_DIR_DEFAULT);
		fprintf(stderr, "qvm-ephemeral: using the default kernel folder %s\n", dir);
	}
	return dir;
}

static bool has_class(const struct qube *q, const char *k)
{
	return !strcmp(q->klass, k);
}

int qube_refusal(const struct qube *q, char *why, size_t n)
{
	if (has_class(q, "AdminVM"))
		return snprintf(why, n, "dom0 (AdminVM) is not a qube that can be made ephemeral"), 1;
	if (has_class(q, "TemplateVM"))
		return snprintf(why, n, "TemplateVM: its root must keep installed software; enable the qubes based on it"), 1;
	if (!has_class(q, "AppVM") && !has_class(q, "DispVM") && !has_class(q, "StandaloneVM"))
		return snprintf(why, n, "class %s is not supported", q->klass), 1;
	if (!qube_is_halted(q))
		return snprintf(why, n, "%s: shut it down first (qvm-shutdown --wait %s)",
				q->state[0] ? q->state : "not halted", q->name), 1;
	if (!q->root.present || !q->private.present || !q->volatile_.present)
		return snprintf(why, n, "has no root, private or volatile volume"), 1;
	if (!q->kernel.value[0]) {
		bool hvm = !strcmp(q->virt_mode.value, "hvm");
		return snprintf(why, n, "%s boots its own kernel (kernel property is empty): use the in-VM kernel hook "
			        "(see qvm-ephemeral(1), IN-VM KERNELS) or set a dom0 kernel",
				hvm ? "HVM" : "qube"), 1;
	}
	return 0;
}

void record_from_qube(const struct qube *q, bool dom0_crypt, struct record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->root_rw = q->root.rw;
	rec->private_rw = q->private.rw;
	rec->volatile_ephemeral = dom0_crypt ? q->volatile_.ephemeral : -1;
	rec->kernel.was_default = q->kernel.is_default;
	snprintf(rec->kernel.value, sizeof(rec->kernel.value), "%s", q->kernel.value);
	rec->kernelopts.was_default = q->kernelopts.is_default;
	snprintf(rec->kernelopts.value, sizeof(rec->kernelopts.value), "%s", q->kernelopts.value);
	rec->dom0_crypt = dom0_crypt;
}

void observe(const struct qube *q, struct observed *o)
{
	memset(o, 0, sizeof(*o));
	o->root_rw = q->root.present ? q->root.rw : true;
	o->private_rw = q->private.present ? q->private.rw : true;
	o->volatile_ephemeral = q->volatile_.present && q->volatile_.ephemeral;
	o->kernel_variant = kernel_variant_base(q->kernel.value, NULL, 0);
	o->kernel_missing = o->kernel_variant && !kernel_pool_has(q->kernel.value);
	o->flag = kopts_has_flag(q->kernelopts.value);
}

/* --- kernel variants --- */

static char ensured[8][PROP_MAX];
static size_t nensured;

static int ensure_variant(const char *base, char *variant, size_t n)
{
	char want[PROP_MAX];

	if (kernel_variant_name(base, want, sizeof(want)) < 0) {
		fprintf(stderr, "qvm-ephemeral: invalid kernel name %s\n", base);
		return -EINVAL;
	}
	for (size_t i = 0; i < nensured; i++)
		if (!strcmp(ensured[i], want))
			return snprintf(variant, n, "%s", want) < 0 ? -EINVAL : 0;
	if (qubesd_via_qrexec()) {
		if (!kernel_pool_has(want)) {
			fprintf(stderr, "qvm-ephemeral: kernel variant %s is not in dom0's linux-kernel pool; "
				"run `qvm-ephemeral kernel add %s` in dom0\n", want,
				base);
			return -ENOENT;
		}
	} else {
		int r = kernel_variant_ensure(kernels_dir(), base, want, sizeof(want));
		if (r < 0) {
			fprintf(stderr, "qvm-ephemeral: cannot make the kernel variant of %s in %s\n", base, kernels_dir());
			return r;
		}
		kernel_pool_forget();
	}
	if (nensured < sizeof(ensured) / sizeof(ensured[0]))
		snprintf(ensured[nensured++], PROP_MAX, "%s", want);
	return snprintf(variant, n, "%s", want) < 0 ? -EINVAL : 0;
}

/* What the kernel property would be after Reset ("type=str VALUE"). */
static int default_kernel_of(const struct qube *q, char *out, size_t n)
{
	char *reply;
	int r = qubesd_call("admin.vm.property.GetDefault", q->name, "kernel", NULL, &reply);
	if (r < 0)
		return r;
	const char *v = strchr(reply, ' ');
	snprintf(out, n, "%s", v ? v + 1 : "");
	free(reply);
	return 0;
}

/* The base kernel q should follow, or "" to keep its current variant. */
int kernel_base_wanted(const struct qube *q, const struct record *rec, char *base, size_t n)
{
	const char *cur = q->kernel.value;
	bool usable = kernel_variant_base(cur, NULL, 0) && kernel_pool_has(cur);
	base[0] = 0;
	if (rec && rec->kernel.was_default && usable) {
		/* follows the default: a newer default kernel makes this variant stale */
		char def[PROP_MAX], v[PROP_MAX];
		int r = default_kernel_of(q, def, sizeof(def));
		if (r < 0)
			return r;
		if (def[0] && !kernel_variant_base(def, v, sizeof(v)))
			snprintf(v, sizeof(v), "%s", def);
		/* v: the default's base kernel */
		char want[PROP_MAX];
		if (v[0] && kernel_variant_name(v, want, sizeof(want)) == 0 && strcmp(want, cur))
			snprintf(base, n, "%s", v);
		return 0;
	}
	if (usable)
		return 0;
	/* not a variant, or a variant that is gone: follow the kernel named now
	 * (a variant's base) */
	const char *named = cur[0] ? cur : rec ? rec->kernel.value : "";
	if (!kernel_variant_base(named, base, n))
		snprintf(base, n, "%s", named);
	return 0;
}

int variant_for(const struct qube *q, const struct record *rec, char *variant, size_t n)
{
	char base[PROP_MAX];
	int r = kernel_base_wanted(q, rec, base, sizeof(base));
	if (r < 0)
		return r;
	if (!base[0])
		return snprintf(variant, n, "%s", q->kernel.value) < 0 ? -EINVAL : 0;
	return ensure_variant(base, variant, n);
}

/* --- all-or-nothing writes --- */

static int push_undo(struct undo *u, const char *method, const char *arg, const char *payload)
{
	if (u->n == sizeof(u->v) / sizeof(u->v[0]))
		return -ENOSPC;
	struct undo_step *st = &u->v[u->n++];
	snprintf(st->method, sizeof(st->method), "%s", method);
	snprintf(st->arg, sizeof(st->arg), "%s", arg);
	st->has_payload = payload != NULL;
	snprintf(st->payload, sizeof(st->payload), "%s", payload ? payload : "");
	return 0;
}

static int write_then_note(struct qube *q, struct undo *u, const char *method, const char *arg, const char *val,
			   const char *undo_method, const char *undo_payload)
{
	int r = qubesd_call(method, q->name, arg, val, NULL);
	if (r == 0 && push_undo(u, undo_method, arg, undo_payload) < 0) {
		fprintf(stderr, "qvm-ephemeral: %s: too many changes to undo in one run\n", q->name);
		return -ENOSPC;
	}
	return r;
}

int write_vol(struct qube *q, struct undo *u, const char *vol, const char *what, bool val)
{
	char method[64];
	snprintf(method, sizeof(method), "admin.vm.volume.Set.%s", what);
	return write_then_note(q, u, method, vol, val ? "True" : "False", method, val ? "False" : "True");
}

static const struct qprop *prop_of(const struct qube *q, const char *prop)
{
	return !strcmp(prop, "kernel") ? &q->kernel : !strcmp(prop, "kernelopts") ? &q->kernelopts : NULL;
}

int write_prop(struct qube *q, struct undo *u, const char *prop, const char *val)
{
	const struct qprop *old = prop_of(q, prop);
	return write_then_note(q, u, "admin.vm.property.Set", prop, val,
			       old->is_default ? "admin.vm.property.Reset" : "admin.vm.property.Set",
			       old->is_default ? NULL : old->value);
}

int reset_prop(struct qube *q, struct undo *u, const char *prop)
{
	const struct qprop *old = prop_of(q, prop);
	return write_then_note(q, u, "admin.vm.property.Reset", prop, NULL, "admin.vm.property.Set", old->value);
}

int write_feature(struct qube *q, struct undo *u, const char *name, const char *val, const char *old)
{
	return write_then_note(q, u, "admin.vm.feature.Set", name, val,
			       old ? "admin.vm.feature.Set" : "admin.vm.feature.Remove", old);
}

int remove_feature(struct qube *q, struct undo *u, const char *name, const char *old)
{
	return write_then_note(q, u, "admin.vm.feature.Remove", name, NULL, "admin.vm.feature.Set", old);
}

int undo_run(struct qube *q, struct undo *u)
{
	size_t n = u->n, failed = 0;
	while (u->n > 0) {
		const struct undo_step *st = &u->v[--u->n];
		if (qubesd_call(st->method, q->name, st->arg, st->has_payload ? st->payload : NULL, NULL) < 0)
			failed++;
	}
	if (failed) {
		fprintf(stderr, "qvm-ephemeral: %s: %zu of the %zu change(s) of this run could not be undone (above); "
			"`qvm-ephemeral disable --force %s` resets the ephemeral settings\n", q->name, failed, n, q->name);
		return -EREMOTEIO;
	}
	fprintf(stderr, "qvm-ephemeral: %s: nothing changed: %s\n", q->name,
		n ? "the changes of this run were undone, the qube is as before" : "no write had been made yet");
	return 0;
}

int ephemeral_refusal(const struct qube *q, bool dom0_crypt, char *why, size_t n)
{
	char opts[PROP_MAX];
	if (!q->root.present || !q->private.present || !q->volatile_.present)
		return snprintf(why, n, "has no root, private or volatile volume"), 1;
	if (!kopts_has_flag(q->kernelopts.value)) {
		if (kopts_add_flag(q->kernelopts.value, opts, sizeof(opts)) < 0 || strlen(opts) > KOPTS_MAX)
			return snprintf(why, n, "its kernelopts plus \" " KOPTS_FLAG "\" would be over %d characters, "
				        "more than qubesd accepts (Kernelopts value too long (512 chars max)); "
				        "shorten its kernelopts (qvm-prefs %s kernelopts)", KOPTS_MAX, q->name), 1;
	}
	if (dom0_crypt && !q->volatile_.ephemeral &&
	    (q->volatile_.snap_on_start || q->volatile_.save_on_stop || !q->volatile_.rw))
		return snprintf(why, n, "--dom0-crypt: its volatile volume cannot be ephemeral (snap_on_start, "
				"save_on_stop or read-only)"), 1;
	return 0;
}

int make_ephemeral(struct qube *q, const struct record *rec, int *changed, struct undo *u)
{
	char variant[PROP_MAX], opts[PROP_MAX], why[320];
	int r;

	*changed = 0;
	if ((q->root.rw || q->private.rw) && !qube_is_halted(q)) {
		fprintf(stderr, "qvm-ephemeral: %s: root or private is writable but the qube is %s; "
			"shut it down and run `qvm-ephemeral apply`\n", q->name, q->state);
		return -EBUSY;
	}
	/* everything qubesd checks, before the first write */
	if (ephemeral_refusal(q, rec && rec->dom0_crypt, why, sizeof(why))) {
		fprintf(stderr, "qvm-ephemeral: %s: %s\n", q->name, why);
		return -EINVAL;
	}
	if ((r = variant_for(q, rec, variant, sizeof(variant))) < 0)
		return r;
	if (strcmp(q->kernel.value, variant) && !kernel_pool_has(variant)) {
		fprintf(stderr, "qvm-ephemeral: %s: kernel variant %s is not in dom0's linux-kernel pool\n", q->name, variant);
		return -ENOENT;
	}
	if (!kopts_has_flag(q->kernelopts.value) && kopts_add_flag(q->kernelopts.value, opts, sizeof(opts)) < 0)
		return -ENOSPC; /* ephemeral_refusal said so */
	if (q->root.rw) {
		if ((r = write_vol(q, u, "root", "rw", false)) < 0)
			return r;
		q->root.rw = false, ++*changed;
	}
	if (q->private.rw) {
		if ((r = write_vol(q, u, "private", "rw", false)) < 0)
			return r;
		q->private.rw = false, ++*changed;
	}
	if (rec && rec->dom0_crypt && !q->volatile_.ephemeral) {
		if ((r = write_vol(q, u, "volatile", "ephemeral", true)) < 0)
			return r;
		q->volatile_.ephemeral = true, ++*changed;
	}
	if (strcmp(q->kernel.value, variant)) {
		if ((r = write_prop(q, u, "kernel", variant)) < 0)
			return r;
		snprintf(q->kernel.value, sizeof(q->kernel.value), "%s", variant);
		q->kernel.is_default = false, ++*changed;
	}
	if (!kopts_has_flag(q->kernelopts.value)) {
		if ((r = write_prop(q, u, "kernelopts", opts)) < 0)
			return r;
		snprintf(q->kernelopts.value, sizeof(q->kernelopts.value), "%s", opts);
		q->kernelopts.is_default = false, ++*changed;
	}
	return 0;
}

/* make_ephemeral, undone when any write is refused; q as before then */
static int make_ephemeral_all(struct qube *q, const struct record *rec, int *changed, struct undo *u,
			      const struct qube *before)
{
	int r = make_ephemeral(q, rec, changed, u);
	if (r < 0 && undo_run(q, u) == 0)
		*q = *before;
	return r;
}

int enable_one(struct qube *q, bool dom0_crypt)
{
	int r, changed;
	char variant[PROP_MAX], text[4 * PROP_MAX], why[320];
	struct undo u = { .n = 0 };
	static struct qube before;

	if (q->has_record && q->record_bad) {
		fprintf(stderr, "qvm-ephemeral: %s: its record (feature %s) cannot be read: %s; "
			"see `qvm-ephemeral disable --force`\n", q->name, RECORD_FEATURE, q->record_err);
		return -EINVAL;
	}
	/* everything that can be checked, before the first write */
	if (ephemeral_refusal(q, dom0_crypt || (q->has_record && q->rec.dom0_crypt), why, sizeof(why))) {
		fprintf(stderr, "qvm-ephemeral: %s: %s\n", q->name, why);
		return -EINVAL;
	}
	if ((r = variant_for(q, q->has_record ? &q->rec : NULL, variant, sizeof(variant))) < 0)
		return r;
	before = *q;
	struct record rec = q->rec;
	if (!q->has_record)
		record_from_qube(q, dom0_crypt, &rec);
	else if (dom0_crypt && !q->rec.dom0_crypt) {
		rec.dom0_crypt = true;
		rec.volatile_ephemeral = q->volatile_.ephemeral;
	}
	if (!q->has_record || memcmp(&rec, &q->rec, sizeof(rec))) {
		if (record_format(&rec, text, sizeof(text)) < 0) {
			fprintf(stderr, "qvm-ephemeral: %s: settings too long to record\n", q->name);
			return -ENOSPC;
		}
		if ((r = write_feature(q, &u, RECORD_FEATURE, text, q->has_record ? q->record_text : NULL)) < 0) {
			undo_run(q, &u);
			return r;
		}
		q->rec = rec;
		q->has_record = true;
	}
	return make_ephemeral_all(q, &q->rec, &changed, &u, &before);
}

int policy_load(struct policy *p)
{
	struct qubesd_error err;
	char *out;
	memset(p, 0, sizeof(*p));
	int r = qubesd_call_err("admin.vm.feature.Get", "dom0", POLICY_FEATURE, NULL, &out, &err);
	if (r == -EREMOTEIO && !strcmp(err.type, "QubesFeatureNotFoundError"))
		return 0;
	if (r < 0) {
		fprintf(stderr, "qvm-ephemeral: dom0: admin.vm.feature.Get+%s: %s: %s\n", POLICY_FEATURE, err.type, err.msg);
		return r;
	}
	r = policy_parse(out, p);
	free(out);
	if (r < 0)
		fprintf(stderr, "qvm-ephemeral: dom0: feature %s is not readable; ignored\n", POLICY_FEATURE);
	return 0;
}

/* apply for one listed qube. 0 = ephemeral (or not ours), 1 = left as is
 * (printed), <0 = a call failed. */
static int apply_q(struct qube *q, const struct policy *p)
{
	char why[256];
	int r, changed;

	if (has_class(q, "AdminVM"))
		return 0;
	if ((r = qube_load_record(q)) < 0)
		return r;
	if (q->has_record) {
		if (q->record_bad) {
			fprintf(stderr, "qvm-ephemeral: %s: record unreadable (%s); left as is\n", q->name, q->record_err);
			return 1;
		}
		if ((r = qube_load_props(q)) < 0 || (r = qube_load_vols(q)) < 0)
			return r;
		struct observed o;
		observe(q, &o);
		enum verdict v = verdict_eval(&o, &q->rec, why, sizeof(why));
		char base[PROP_MAX];
		if (v == VERDICT_EPHEMERAL) {
			/* still check for a newer default kernel */
			if ((r = kernel_base_wanted(q, &q->rec, base, sizeof(base))) < 0)
				return r;
			if (!base[0])
				return 0;
			snprintf(why, sizeof(why), "kernel variant stale");
		}
		if ((o.root_rw || o.private_rw) && !qube_is_halted(q)) {
			printf("%s: drift (%s) while %s: fixed at its next shutdown by `qvm-ephemeral watch`, "
			       "or shut it down and run apply\n", q->name, why, q->state);
			return 1;
		}
		struct undo u = { .n = 0 };
		static struct qube before;
		before = *q;
		if ((r = make_ephemeral_all(q, &q->rec, &changed, &u, &before)) < 0)
			return r;
		if (!qvm_quiet)
			printf("%s: fixed (%s)\n", q->name, why);
		return 0;
	}
	if (!p->on || policy_excludes(p, q->name) || (!has_class(q, "AppVM") && !has_class(q, "DispVM")))
		return 0;
	if ((r = qube_load_props(q)) < 0)
		return r;
	if (!qube_is_disposable_template(q) && !qube_is_named_disposable(q))
		return 0;
	if ((r = qube_load_vols(q)) < 0)
		return r;
	if (qube_refusal(q, why, sizeof(why)) || ephemeral_refusal(q, p->dom0_crypt, why, sizeof(why))) {
		printf("%s: not enabled by the --all-disposables policy: %s\n", q->name, why);
		return 1;
	}
	if ((r = enable_one(q, p->dom0_crypt)) < 0)
		return r;
	if (!qvm_quiet)
		printf("%s: enabled (--all-disposables policy)\n", q->name);
	return 0;
}

int apply_all(void)
{
	struct policy p;
	struct qube_list l;
	int r, left = 0, failed = 0;

	if ((r = policy_load(&p)) < 0 || (r = qubes_list(&l)) < 0)
		return r;
	for (size_t i = 0; i < l.n; i++) {
		r = apply_q(&l.v[i], &p);
		if (r < 0)
			failed++;
		else if (r > 0)
			left++;
	}
	qubes_free(&l);
	if (failed)
		return -EREMOTEIO;
	return left ? 1 : 0;
}

int apply_one(const char *name, const struct policy *p)
{
	struct qube_list l;
	struct qubesd_error err;
	char *out;
	int r = qubesd_call_err("admin.vm.List", name, NULL, NULL, &out, &err);
	if (r == -EREMOTEIO && !strcmp(err.type, "QubesVMNotFoundError"))
		return 0; /* already gone (a disposable) */
	if (r < 0) {
		fprintf(stderr, "qvm-ephemeral: %s: admin.vm.List: %s: %s\n", name, err.type, err.msg);
		return r;
	}
	r = parse_vm_list(out, &l);
	free(out);
	if (r < 0)
		return r;
	struct qube *q = qubes_find(&l, name);
	r = q ? apply_q(q, p) : 0;
	qubes_free(&l);
	return r;
}

/* Parses the common -v/-q/-h; returns 1 when the option was one of them. */
int qvm_common_opt(const char *a, void (*usage)(FILE *), int *exit_now)
{
	if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
		return qvm_verbose = 1, 1;
	if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
		return qvm_quiet = 1, 1;
	if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
		usage(stdout);
		*exit_now = EXIT_OK;
		return 1;
	}
	return 0;
}

