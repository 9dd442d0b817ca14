/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces: the names of named disposables, kept in dom0
 * (RECORD_PATH) so that their traces are found after qubesd forgot them. */
#define _GNU_SOURCE
#include "trace_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>


int trace_record_load(struct scan *s)
{
	char *path = scan_path(s, RECORD_PATH);
	if (!path)
		return -ENOMEM;
	FILE *f = fopen(path, "re");
	free(path);
	if (!f)
		return 0;
	char line[128];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!trace_valid_name(line) || scan_recorded(s, line))
			continue;
		char **nr = realloc(s->rec, (s->nrec + 1) * sizeof(*nr));
		if (!nr || !(nr[s->nrec] = strdup(line))) {
			if (nr)
				s->rec = nr;
			fclose(f);
			return -ENOMEM;
		}
		s->rec = nr;
		s->nrec++;
	}
	fclose(f);
	return 0;
}

/* Keeps the names of named disposables (dispN are known by their name) so
 * that their traces are found after they are removed; names whose traces
 * were scrubbed are dropped. Best effort: a failure is only reported. */
void trace_record_save(struct scan *s, bool scrubbed)
{
	char *path = scan_path(s, RECORD_PATH), *tmp = NULL;
	if (!path)
		return;
	size_t len = 0;
	char *text = NULL;
	FILE *m = open_memstream(&text, &len);
	if (!m) {
		free(path);
		return;
	}
	for (size_t i = 0; i < s->qubes.n; i++)
		if (!strcmp(s->qubes.v[i].klass, "DispVM") && !trace_is_disp_name(s->qubes.v[i].name))
			fprintf(m, "%s\n", s->qubes.v[i].name);
	for (size_t i = 0; i < s->nrec; i++) {
		ssize_t t = scan_target_index(s, s->rec[i]);
		if (qubes_find(&s->qubes, s->rec[i]) || (scrubbed && t >= 0 && !s->t[t].back))
			continue;
		fprintf(m, "%s\n", s->rec[i]);
	}
	fclose(m);
	char *old = NULL;
	int dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		old = scan_read_text(dfd, path, 1u << 20);
		close(dfd);
	}
	if (!(old ? !strcmp(old, text) : !len)) {
		char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash) {
			*slash = '\0';
			(void)mkdir(dir, 0755);
		}
		free(dir);
		FILE *f = NULL;
		if (asprintf(&tmp, "%s.tmp", path) < 0)
			tmp = NULL;
		if (!tmp || !(f = fopen(tmp, "we")) || fputs(text, f) < 0 || fflush(f) || fsync(fileno(f)) ||
		    fclose(f) || (f = NULL, rename(tmp, path) < 0)) {
			fprintf(stderr, "qvm-ephemeral: %s: %s (names of named disposables not kept)\n", path,
				strerror(errno));
			if (f)
				fclose(f);
			if (tmp)
				unlink(tmp);
		}
	}
	free(old);
	free(text);
	free(tmp);
	free(path);
}
