/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces: removing what a scan found (--scrub), and the
 * --auto-scrub setting the watch service follows. */
#define _GNU_SOURCE
#include "trace_scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qubesd.h"
#include "qvm.h"
#include "record.h"

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


int trace_auto_scrub_get(void)
{
	struct qubesd_error err;
	char *out = NULL;
	int r = qubesd_call_err("admin.vm.feature.Get", "dom0", SCRUB_FEATURE, NULL, &out, &err);
	if (r == -EREMOTEIO && !strcmp(err.type, "QubesFeatureNotFoundError"))
		return 0;
	if (r < 0) {
		fprintf(stderr, "qvm-ephemeral: dom0: admin.vm.feature.Get+%s: %s: %s\n", SCRUB_FEATURE, err.type,
			err.msg);
		return r;
	}
	/* Qubes features are strings; "" and "0" are off as in qvm-features */
	r = out[0] && strcmp(out, "0") != 0;
	free(out);
	return r;
}

int trace_auto_scrub_set(const char *v)
{
	struct qubesd_error err;
	int r;
	if (!strcmp(v, "on")) {
		r = qubesd_call_err("admin.vm.feature.Set", "dom0", SCRUB_FEATURE, "1", NULL, &err);
	} else {
		r = qubesd_call_err("admin.vm.feature.Remove", "dom0", SCRUB_FEATURE, NULL, NULL, &err);
		if (r == -EREMOTEIO && !strcmp(err.type, "QubesFeatureNotFoundError"))
			r = 0;
	}
	if (r < 0) {
		fprintf(stderr, "qvm-ephemeral: dom0: cannot set feature %s: %s: %s\n", SCRUB_FEATURE, err.type,
			err.msg);
		return EXIT_FAIL;
	}
	if (!qvm_quiet)
		printf("automatic scrub %s: %s\n", v,
		       !strcmp(v, "on") ? "qvm-ephemeral-watch removes a disposable's dom0 traces when qubesd "
					  "deletes it (the service must be running)"
					: "traces stay until `qvm-ephemeral traces --scrub`");
	return EXIT_OK;
}
