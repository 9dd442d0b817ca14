/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral status: one line per qube with a verdict. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "qubesd.h"
#include "qvm.h"

struct row {
	const struct qube *q;
	const char *kernel_state; /* variant | stale | missing | plain | none */
	bool recorded;
	enum verdict v;
	char why[256];
};

static void usage(FILE *f)
{
	fprintf(f, "usage: qvm-ephemeral status [--format table|json] [VM...]\n"
		   "\n"
		   "One line per qube (all but dom0 when none is named): class, state, virt_mode,\n"
		   "root/private rw, volatile ephemeral, kernel (variant / stale / missing / plain / none),\n"
		   "kernelopts flag, verdict:\n"
		   "  ephemeral         every setting in place\n"
		   "  partial: WHAT     some settings, not all, and no saved record\n"
		   "  drift: WHAT       enabled (record saved) but WHAT was reverted; `apply` fixes it\n"
		   "  off               none of it\n"
		   "\nexit codes: 0 listed (no drift), 1 a qube drifted or a call failed, 2 usage\n");
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *rw(const struct qvol *v)
{
	return !v->present ? "-" : v->rw ? "rw" : "ro";
}

static int judge(struct qube *q, struct row *row)
{
	struct observed o;
	int r;
	row->q = q;
	if ((r = qube_load(q)) < 0)
		return r;
	observe(q, &o);
	row->recorded = q->has_record && !q->record_bad;
	row->v = verdict_eval(&o, row->recorded ? &q->rec : NULL, row->why, sizeof(row->why));
	if (!q->kernel.value[0])
		row->kernel_state = "none";
	else if (!o.kernel_variant)
		row->kernel_state = "plain";
	else if (o.kernel_missing)
		row->kernel_state = "missing";
	else {
		row->kernel_state = "variant";
		if (row->recorded && q->rec.kernel.was_default) {
			char base[PROP_MAX];
			if ((r = kernel_base_wanted(q, &q->rec, base, sizeof(base))) < 0)
				return r;
			if (base[0])
				row->kernel_state = "stale";
		}
	}
	if (q->has_record && q->record_bad) {
		row->v = VERDICT_DRIFT;
		snprintf(row->why, sizeof(row->why), "record unreadable: %s", q->record_err);
	}
	return 0;
}

static bool listed(const struct row *rows, size_t n, const struct qube *q)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].q == q)
			return true;
	return false;
}

static void verdict_text(const struct row *r, char *buf, size_t n)
{
	if (r->why[0] && r->v != VERDICT_OFF)
		snprintf(buf, n, "%s: %s", verdict_name(r->v), r->why);
	else
		snprintf(buf, n, "%s", verdict_name(r->v));
}

static void print_table(const struct row *rows, size_t n)
{
	const char *hdr[] = { "NAME", "CLASS", "STATE", "VIRT", "ROOT", "PRIVATE", "VOLATILE", "KERNEL", "FLAG", "VERDICT" };
	size_t w[10];
	for (size_t c = 0; c < 10; c++)
		w[c] = strlen(hdr[c]);
	w[6] = strlen("ephemeral");
	for (size_t i = 0; i < n; i++) {
		const struct qube *q = rows[i].q;
		size_t l[] = { strlen(q->name), strlen(q->klass), strlen(q->state), strlen(q->virt_mode.value) };
		for (size_t c = 0; c < 4; c++)
			if (l[c] > w[c])
				w[c] = l[c];
		if (strlen(rows[i].kernel_state) > w[7])
			w[7] = strlen(rows[i].kernel_state);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], hdr[0], (int)w[1], hdr[1],
	       (int)w[2], hdr[2], (int)w[3], hdr[3], (int)w[4], hdr[4], (int)w[5], hdr[5], (int)w[6], hdr[6],
	       (int)w[7], hdr[7], (int)w[8], hdr[8], hdr[9]);
	for (size_t i = 0; i < n; i++) {
		const struct qube *q = rows[i].q;
		char vt[320];
		verdict_text(&rows[i], vt, sizeof(vt));
		printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], q->name, (int)w[1],
		       q->klass, (int)w[2], q->state, (int)w[3], q->virt_mode.value[0] ? q->virt_mode.value : "-",
		       (int)w[4], rw(&q->root), (int)w[5], rw(&q->private), (int)w[6],
		       q->volatile_.present ? (q->volatile_.ephemeral ? "ephemeral" : "plain") : "-", (int)w[7],
		       rows[i].kernel_state, (int)w[8], kopts_has_flag(q->kernelopts.value) ? "yes" : "no", vt);
	}
}

static void print_json(const struct row *rows, size_t n)
{
	printf("[");
	for (size_t i = 0; i < n; i++) {
		const struct qube *q = rows[i].q;
		printf("%s\n  {\"name\": ", i ? "," : "");
		json_str(q->name);
		printf(", \"class\": ");
		json_str(q->klass);
		printf(", \"state\": ");
		json_str(q->state);
		printf(", \"virt_mode\": ");
		json_str(q->virt_mode.value);
		printf(", \"root_rw\": %s, \"private_rw\": %s, \"volatile_ephemeral\": %s, \"kernel\": ",
		       q->root.rw ? "true" : "false", q->private.rw ? "true" : "false",
		       q->volatile_.ephemeral ? "true" : "false");
		json_str(q->kernel.value);
		printf(", \"kernel_state\": \"%s\", \"kernelopts_flag\": %s, \"recorded\": %s, \"verdict\": \"%s\", \"reasons\": [",
		       rows[i].kernel_state, kopts_has_flag(q->kernelopts.value) ? "true" : "false",
		       rows[i].recorded ? "true" : "false", verdict_name(rows[i].v));
		if (rows[i].v != VERDICT_OFF && rows[i].why[0]) {
			char buf[256], *save = NULL;
			snprintf(buf, sizeof(buf), "%s", rows[i].why);
			int k = 0;
			for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				while (*t == ' ')
					t++;
				printf("%s", k++ ? ", " : "");
				json_str(t);
			}
		}
		printf("]}");
	}
	printf("\n]\n");
}

int cmd_status(int argc, char **argv)
{
	bool json = false;
	int exit_now = -1;
	char **names = calloc(argc, sizeof(char *));
	size_t nnames = 0;
	if (!names)
		return EXIT_FAIL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (qvm_common_opt(a, usage, &exit_now)) {
			if (exit_now >= 0)
				return free(names), exit_now;
		} else if (!strcmp(a, "--format") || !strncmp(a, "--format=", 9)) {
			const char *f = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : "");
			if (!strcmp(f, "json"))
				json = true;
			else if (strcmp(f, "table")) {
				fprintf(stderr, "qvm-ephemeral status: --format is table or json\n");
				return free(names), EXIT_USAGE;
			}
		} else if (a[0] == '-') {
			fprintf(stderr, "qvm-ephemeral status: unknown option %s; see --help\n", a);
			return free(names), EXIT_USAGE;
		} else
			names[nnames++] = argv[i];
	}

	struct qube_list l;
	int rc = EXIT_OK;
	if (qubes_list(&l) < 0)
		return free(names), EXIT_FAIL;
	struct row *rows = calloc(l.n + 1, sizeof(*rows));
	size_t n = 0;
	if (!rows)
		goto out;
	if (nnames) {
		for (size_t i = 0; i < nnames; i++) {
			struct qube *q = qubes_find(&l, names[i]);
			if (!q) {
				fprintf(stderr, "qvm-ephemeral: no such qube: %s\n", names[i]);
				rc = EXIT_FAIL;
			} else if (listed(rows, n, q))
				continue; /* named twice: one row (rows has room for each qube once) */
			else if (judge(q, &rows[n]) < 0)
				rc = EXIT_FAIL;
			else
				n++;
		}
	} else {
		for (size_t i = 0; i < l.n; i++) {
			if (!strcmp(l.v[i].klass, "AdminVM"))
				continue;
			if (judge(&l.v[i], &rows[n]) < 0)
				rc = EXIT_FAIL;
			else
				n++;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (rows[i].v == VERDICT_DRIFT)
			rc = EXIT_FAIL;
	if (qubesd_nfailed)
		rc = EXIT_FAIL;
	if (json)
		print_json(rows, n);
	else
		print_table(rows, n);
	if (qvm_verbose)
		fprintf(stderr, "qvm-ephemeral: %lu Admin API calls\n", qubesd_ncalls);
out:
	free(rows);
	free(names);
	qubes_free(&l);
	return rc;
}
