/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces: the command. Lists (and with --scrub removes) the
 * dom0 files that record the activity of qubes that no longer exist —
 * console, qrexec, guid, qubesdb and libxl logs, LVM metadata archives —
 * and counts their journal lines, which it never touches. qubesd says
 * which qubes exist. The parts: trace_names.c (pure), trace_scan.c (the
 * disk scans), trace_journal.c, trace_record.c, trace_scrub.c. */
#define _GNU_SOURCE
#include "trace_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qvm.h"

/* --------------------------------------------------------------- output */

static int cmp_file(const void *a, const void *b)
{
	const struct tfile *x = a, *y = b;
	if (x->lvm != y->lvm)
		return x->lvm - y->lvm;
	int r = strcmp(x->qube, y->qube);
	return r ? r : strcmp(x->path, y->path);
}

static int cmp_target(const void *a, const void *b)
{
	const struct target *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qvm-ephemeral traces [--scrub] [--root DIR] VM... | --all-disposables\n"
		"       qvm-ephemeral traces --auto-scrub on|off\n"
		"\n"
		"Lists the dom0 files that record what qubes that no longer exist did, outside\n"
		"their disks: /var/log/xen/console/guest-NAME[-dm].log, /var/log/qubes/\n"
		"{qrexec,guid,qubesdb}.NAME.log, /var/log/libvirt/libxl/NAME.log (each with its\n"
		"rotated copies), LVM metadata archives in /etc/lvm/archive naming vm-NAME-*\n"
		"volumes; and counts the journal lines naming them (journalctl).\n"
		"\n"
		"  --all-disposables  every gone disposable: names dispN, and named disposables\n"
		"                     this command saw before (" RECORD_PATH ")\n"
		"  --scrub            remove those files (unlink): never an existing qube's, never\n"
		"                     an LVM archive that also names an existing qube's volumes,\n"
		"                     never the journal (shared, append-only, binary: see\n"
		"                     journalctl --vacuum-time and Storage=volatile)\n"
		"  --auto-scrub on|off  the watch service (qvm-ephemeral-watch) scrubs a\n"
		"                     disposable's traces when qubesd deletes it (dom0 feature\n"
		"                     " SCRUB_FEATURE ")\n"
		"  --root DIR         prefix every dom0 path with DIR (tests)\n"
		"\nexit codes: 0 listed (and removed), 1 a named qube exists, qubesd could not be\n"
		"asked, or a removal failed, 2 usage\n");
}

static void print_size(long long n)
{
	if (n < 10240)
		printf("%lld B", n);
	else if (n < 10 * 1048576LL)
		printf("%lld KiB", n / 1024);
	else
		printf("%lld MiB", n / 1048576);
}

static void print_list(const struct scan *s)
{
	for (size_t t = 0; t < s->nt; t++) {
		const struct target *tg = &s->t[t];
		printf("%s (gone%s)\n", tg->name, tg->disposable ? " disposable" : "");
		for (size_t i = 0; i < s->nf; i++) {
			if (s->f[i].lvm || strcmp(s->f[i].qube, tg->name) != 0)
				continue;
			printf("  %s (", s->f[i].path);
			print_size(s->f[i].size);
			printf(")\n");
		}
		if (s->journal_ok)
			printf("  journal: %lu line%s\n", tg->journal, tg->journal == 1 ? "" : "s");
	}
	bool head = false;
	for (size_t i = 0; i < s->nf; i++) {
		if (!s->f[i].lvm)
			continue;
		if (!head)
			printf("LVM metadata archives\n");
		head = true;
		printf("  %s: %s", s->f[i].path, s->f[i].gone);
		if (s->f[i].existing[0])
			printf("; also existing %s: kept", s->f[i].existing);
		printf("\n");
	}
	if (!s->journal_ok && s->journal_err[0])
		printf("journal: not counted (%s)\n", s->journal_err);
}

static void print_notes(const struct scan *s, bool scrubbed)
{
	unsigned long lines = 0;
	bool kept = false;
	for (size_t t = 0; t < s->nt; t++)
		lines += s->t[t].journal;
	for (size_t i = 0; i < s->nf; i++)
		kept |= s->f[i].lvm && s->f[i].existing[0];
	if (s->quiet)
		return;
	if (lines)
		printf("note: journal lines are not removed: journal files are shared by every service,\n"
		       "  append-only and binary (each entry is hashed into the next), so lines cannot be\n"
		       "  cut out. `journalctl --vacuum-time=…` / `--vacuum-size=…` removes whole archived\n"
		       "  files only (never the active one), with everything else in them; Storage=volatile\n"
		       "  in journald.conf keeps the journal in RAM only.\n");
	if (kept)
		printf("note: an LVM archive holds the whole volume group's metadata; one that also names\n"
		       "  existing qubes' volumes is kept (it may be needed to recover them). lvm.conf's\n"
		       "  backup/retain_days and retain_min bound how long archives stay.\n");
	if (scrubbed)
		printf("note: files were unlinked, not overwritten: on an SSD (wear levelling) or a\n"
		       "  copy-on-write or journaling file system an overwrite does not reach the old\n"
		       "  blocks; what is left is protected by dom0's disk encryption and freed by TRIM.\n");
}


static int traces_run(struct scan *s, char *const *names, size_t nnames);


int trace_scrub_gone(const char *name)
{
	struct scan s = { .root = TEST_ENV("QVM_EPHEMERAL_DOM0_ROOT"), .scrub = true, .quiet = true };
	char *names[] = { (char *)name };
	if (!trace_valid_name(name))
		return EXIT_USAGE;
	if (!s.root)
		s.root = "";
	return traces_run(&s, names, 1);
}

int cmd_traces(int argc, char **argv)
{
	struct scan s = { .root = TEST_ENV("QVM_EPHEMERAL_DOM0_ROOT") };
	int rc = EXIT_OK, i;
	char **names = calloc((size_t)argc, sizeof(*names));
	size_t nnames = 0;
	if (!names)
		return EXIT_FAIL;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			free(names);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--auto-scrub") && argc == 3 &&
			   (!strcmp(argv[2], "on") || !strcmp(argv[2], "off"))) {
			free(names);
			return trace_auto_scrub_set(argv[2]);
		} else if (!strcmp(argv[i], "--auto-scrub")) {
			fprintf(stderr, "qvm-ephemeral: traces: --auto-scrub takes on or off, and no other argument\n");
			free(names);
			return EXIT_USAGE;
		} else if (!strcmp(argv[i], "--all-disposables"))
			s.all = true;
		else if (!strcmp(argv[i], "--scrub"))
			s.scrub = true;
		else if (!strcmp(argv[i], "--root") && i + 1 < argc)
			s.root = argv[++i];
		else if (argv[i][0] == '-') {
			fprintf(stderr, "qvm-ephemeral: traces: unknown option %s\n", argv[i]);
			usage(stderr);
			free(names);
			return EXIT_USAGE;
		} else if (!trace_valid_name(argv[i])) {
			fprintf(stderr, "qvm-ephemeral: traces: %s is not a qube name\n", argv[i]);
			free(names);
			return EXIT_USAGE;
		} else
			names[nnames++] = argv[i];
	}
	if (!s.root)
		s.root = "";
	if (s.all == (nnames > 0)) {
		usage(stderr);
		free(names);
		return EXIT_USAGE;
	}
	s.quiet = qvm_quiet;
	rc = traces_run(&s, names, nnames);
	free(names);
	return rc;
}

/* traces for the parsed command line (or one gone disposable: watch) */
static int traces_run(struct scan *sp, char *const *names, size_t nnames)
{
	struct scan s = *sp;
	int rc = EXIT_OK;
	if (qubes_list(&s.qubes) < 0) {
		fprintf(stderr, "qvm-ephemeral: cannot tell which qubes exist: nothing listed\n");
		return EXIT_FAIL;
	}
	if (trace_record_load(&s) < 0)
		goto oom;
	for (size_t n = 0; n < nnames; n++) {
		const struct qube *q = qubes_find(&s.qubes, names[n]);
		if (q) {
			fprintf(stderr, "qvm-ephemeral: %s exists (%s, %s): its logs are its own while it exists\n",
				q->name, q->klass, q->state);
			rc = EXIT_FAIL;
		} else if (scan_target_index(&s, names[n]) < 0 &&
			   scan_target_add(&s, names[n], trace_is_disp_name(names[n]) || scan_recorded(&s, names[n])) < 0)
			goto oom;
	}
	if (s.all || s.nt) {
		if (scan_logs(&s) < 0 || scan_lvm(&s) < 0 || scan_journal(&s) < 0)
			goto oom;
	}
	if (s.nt)
		qsort(s.t, s.nt, sizeof(*s.t), cmp_target);
	if (s.nf)
		qsort(s.f, s.nf, sizeof(*s.f), cmp_file);
	if (!s.nt && s.all && !s.quiet)
		printf("no traces of gone disposables\n");
	print_list(&s);
	if (s.scrub && s.nt) {
		int r = trace_scrub_files(&s);
		if (r != EXIT_OK)
			rc = r;
	}
	trace_record_save(&s, s.scrub);
	print_notes(&s, s.scrub && s.nf);
	goto out;
oom:
	fprintf(stderr, "qvm-ephemeral: traces: out of memory\n");
	rc = EXIT_FAIL;
out:
	for (size_t f = 0; f < s.nf; f++)
		free(s.f[f].path);
	for (size_t r = 0; r < s.nrec; r++)
		free(s.rec[r]);
	free(s.f);
	free(s.t);
	free(s.rec);
	qubes_free(&s.qubes);
	return rc;
}
