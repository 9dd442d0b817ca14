/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces: counts the journal lines that name each target,
 * through a journalctl child (read only; the journal is never changed). */
#define _GNU_SOURCE
#include "trace_scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qvm.h"
#include "spawn.h"

/* journalctl --grep with a pattern for the wanted names; each output line
 * is counted for every target it names. Only read, never changed. */
int scan_journal(struct scan *s)
{
	const char *jc = TEST_ENV("QVM_EPHEMERAL_JOURNALCTL");
	char *pat = NULL, *grep = NULL, *rootopt = NULL;
	size_t plen = 0;
	FILE *pf = open_memstream(&pat, &plen);
	if (!pf)
		return -ENOMEM;
	bool first = true;
	if (s->all) {
		fputs("disp[0-9]+", pf);
		first = false;
	}
	for (size_t i = 0; i < (s->all ? s->nrec : s->nt); i++) {
		const char *n = s->all ? s->rec[i] : s->t[i].name;
		if (s->all && qubes_find(&s->qubes, n))
			continue;
		fputs(first ? "" : "|", pf);
		first = false;
		for (; *n; n++)
			fprintf(pf, *n == '.' ? "\\%c" : "%c", *n);
	}
	fclose(pf);
	if (first) {
		free(pat);
		s->journal_ok = true;
		return 0;
	}
	if (asprintf(&grep, "--grep=(?<![A-Za-z0-9_-])(%s)(?![A-Za-z0-9_-])", pat) < 0)
		grep = NULL;
	free(pat);
	if (s->root[0] && asprintf(&rootopt, "--root=%s", s->root) < 0)
		rootopt = NULL;
	if (!grep || (s->root[0] && !rootopt)) {
		free(grep);
		free(rootopt);
		return -ENOMEM;
	}
	char *argv[] = { (char *)(jc && *jc ? jc : "journalctl"), "-q", "--no-pager", "-o", "cat", grep,
			 rootopt, NULL };
	struct spawn_opts o = { .in = SPAWN_NULL, .out = SPAWN_PIPE, .err = SPAWN_NULL, .cwdfd = -1 };
	struct child c;
	int r = spawn_start(argv, &o, &c);
	free(grep);
	free(rootopt);
	if (r < 0)
		return r;
	FILE *in = fdopen(c.out, "r");
	if (in)
		c.out = -1; /* fclose closes it */
	char *line = NULL;
	size_t cap = 0;
	while (in && getline(&line, &cap, in) >= 0) {
		if (s->all) /* gone disposables seen only in the journal */
			for (const char *p = strstr(line, "disp"); p; p = strstr(p + 1, "disp")) {
				char name[NAME_MAX_Q];
				size_t n = 4;
				if (p > line && trace_name_char(p[-1]) && p[-1] != '.')
					continue;
				while (p[n] >= '0' && p[n] <= '9' && n < sizeof(name) - 1)
					n++;
				memcpy(name, p, n);
				name[n] = '\0';
				if (trace_is_disp_name(name) && !trace_name_char(p[n] == '.' ? p[n + 1] : p[n]))
					(void)scan_wanted(s, name);
			}
		for (size_t i = 0; i < s->nt; i++)
			if (trace_line_names(line, s->t[i].name))
				s->t[i].journal++;
	}
	free(line);
	if (in)
		fclose(in);
	int st = spawn_wait(&c);
	/* 1 = nothing matched (or no journal under --root) */
	if (st == 0 || st == 1) {
		s->journal_ok = true;
		return 0;
	}
	char how[96];
	snprintf(s->journal_err, sizeof(s->journal_err), "%s %s", argv[0],
		 st == 127 ? "not found" : spawn_status_text(st, how, sizeof(how)));
	return 0;
}
