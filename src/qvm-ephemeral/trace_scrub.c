/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces: removing what a scan found (--scrub). */
#define _GNU_SOURCE
#include "trace_scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qvm.h"

int trace_scrub_files(struct scan *s)
{
	/* a disposable with the same name may have started since the listing */
	struct qube_list now;
	int rc = EXIT_OK;
	if (qubes_list(&now) < 0) {
		fprintf(stderr, "qvm-ephemeral: cannot tell which qubes exist now: nothing removed\n");
		return EXIT_FAIL;
	}
	for (size_t t = 0; t < s->nt; t++)
		if (qubes_find(&now, s->t[t].name)) {
			s->t[t].back = true;
			printf("kept the files of %s: it exists again\n", s->t[t].name);
		}
	for (size_t i = 0; i < s->nf; i++) {
		struct tfile *f = &s->f[i];
		if (f->lvm) {
			bool back = false;
			for (size_t t = 0; t < s->nt; t++)
				back |= s->t[t].back && trace_line_names(f->gone, s->t[t].name);
			if (f->existing[0] || back)
				continue;
		} else if (s->t[scan_target_index(s, f->qube)].back)
			continue;
		if (unlink(f->path) < 0 && errno != ENOENT) {
			fprintf(stderr, "qvm-ephemeral: cannot remove %s: %s\n", f->path, strerror(errno));
			rc = EXIT_FAIL;
			continue;
		}
		printf("removed %s\n", f->path);
	}
	qubes_free(&now);
	return rc;
}
