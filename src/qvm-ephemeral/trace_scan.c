/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces: what a scan found (targets, files) and the disk
 * scans: dom0 log folders and LVM metadata archives. */
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

#include "fileio.h"
#include "qvm.h"

char *scan_path(const struct scan *s, const char *path)
{
	char *p;
	if (asprintf(&p, "%s%s", s->root, path) < 0)
		return NULL;
	return p;
}

bool scan_recorded(const struct scan *s, const char *name)
{
	for (size_t i = 0; i < s->nrec; i++)
		if (!strcmp(s->rec[i], name))
			return true;
	return false;
}

ssize_t scan_target_index(const struct scan *s, const char *name)
{
	for (size_t i = 0; i < s->nt; i++)
		if (!strcmp(s->t[i].name, name))
			return (ssize_t)i;
	return -1;
}

ssize_t scan_target_add(struct scan *s, const char *name, bool disposable)
{
	struct target *nt = realloc(s->t, (s->nt + 1) * sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	s->t = nt;
	memset(&s->t[s->nt], 0, sizeof(s->t[0]));
	snprintf(s->t[s->nt].name, sizeof(s->t[0].name), "%s", name);
	s->t[s->nt].disposable = disposable;
	return (ssize_t)s->nt++;
}

/* Index of the target a found name belongs to; -1 when the name is not
 * wanted (an existing qube, or not a disposable under --all-disposables). */
ssize_t scan_wanted(struct scan *s, const char *name)
{
	ssize_t i = scan_target_index(s, name);
	if (i >= 0 || !s->all)
		return i;
	if (qubes_find(&s->qubes, name))
		return -1;
	if (!trace_is_disp_name(name) && !scan_recorded(s, name))
		return -1;
	return scan_target_add(s, name, true);
}

int scan_file_add(struct scan *s, const char *path, const struct stat *st, struct tfile **out)
{
	struct tfile *nf = realloc(s->f, (s->nf + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	s->f = nf;
	struct tfile *f = &s->f[s->nf];
	memset(f, 0, sizeof(*f));
	if (!(f->path = strdup(path)))
		return -ENOMEM;
	f->size = st->st_size;
	s->nf++;
	*out = f;
	return 0;
}


static const struct {
	const char *dir, *prefix;
} logs[] = {
	{ "/var/log/xen/console", "guest-" },      /* whole console; -dm: stubdomain */
	{ "/var/log/qubes", "qrexec." },
	{ "/var/log/qubes", "guid." },
	{ "/var/log/qubes", "qubesdb." },
	{ "/var/log/libvirt/libxl", "" },
};

int scan_logs(struct scan *s)
{
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		char *dir = scan_path(s, logs[i].dir);
		if (!dir)
			return -ENOMEM;
		DIR *d = opendir(dir);
		if (!d) {
			if (errno != ENOENT && qvm_verbose)
				fprintf(stderr, "qvm-ephemeral: %s: %s\n", dir, strerror(errno));
			free(dir);
			continue;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			char name[NAME_MAX_Q];
			bool dm;
			struct stat st;
			if (!trace_log_name(e->d_name, logs[i].prefix, name, sizeof(name), &dm))
				continue;
			if (!logs[i].prefix[0] && !strcmp(name, "libxl-driver"))
				continue;
			/* only regular files: a symlink is not followed, nor removed */
			if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
				continue;
			ssize_t t = scan_wanted(s, name);
			if (t == -ENOMEM) {
				closedir(d);
				free(dir);
				return -ENOMEM;
			}
			if (t < 0)
				continue;
			char *path;
			struct tfile *f;
			if (asprintf(&path, "%s/%s", dir, e->d_name) < 0 || scan_file_add(s, path, &st, &f) < 0) {
				closedir(d);
				free(dir);
				return -ENOMEM;
			}
			free(path);
			snprintf(f->qube, sizeof(f->qube), "%s", s->t[t].name);
		}
		closedir(d);
		free(dir);
	}
	return 0;
}

struct lvm_names {
	struct scan *s;
	char gone[256], existing[256];
	bool any;
};

static void add_word(char *list, size_t size, const char *name)
{
	/* comma list without repeats */
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)); p++)
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || !p[n]))
			return;
	size_t len = strlen(list);
	snprintf(list + len, size - len, "%s%s", len ? ", " : "", name);
}

static void lvm_name(const char *name, void *ctx)
{
	struct lvm_names *ln = ctx;
	if (qubes_find(&ln->s->qubes, name)) {
		add_word(ln->existing, sizeof(ln->existing), name);
		return;
	}
	if (scan_wanted(ln->s, name) >= 0) {
		add_word(ln->gone, sizeof(ln->gone), name);
		ln->any = true;
	}
}

/* A regular file under dfd (never through a symlink), or NULL. */
char *scan_read_text(int dfd, const char *name, size_t max)
{
	char *buf;
	size_t len;
	return read_file_at(dfd, name, O_NOFOLLOW, max, &buf, &len) < 0 ? NULL : buf;
}

int scan_lvm(struct scan *s)
{
	char *dir = scan_path(s, LVM_ARCHIVE_DIR);
	if (!dir)
		return -ENOMEM;
	DIR *d = opendir(dir);
	if (!d) {
		free(dir);
		return 0;
	}
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		struct stat st;
		if (n < 4 || strcmp(e->d_name + n - 3, ".vg") != 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		char *text = scan_read_text(dirfd(d), e->d_name, LVM_ARCHIVE_MAX);
		if (!text) {
			fprintf(stderr, "qvm-ephemeral: %s/%s: cannot read, skipped\n", dir, e->d_name);
			continue;
		}
		struct lvm_names ln = { .s = s };
		trace_lvm_qubes(text, lvm_name, &ln);
		free(text);
		if (!ln.any)
			continue;
		char *path;
		struct tfile *f;
		if (asprintf(&path, "%s/%s", dir, e->d_name) < 0 || scan_file_add(s, path, &st, &f) < 0) {
			r = -ENOMEM;
			break;
		}
		free(path);
		f->lvm = true;
		memcpy(f->gone, ln.gone, sizeof(f->gone));
		memcpy(f->existing, ln.existing, sizeof(f->existing));
	}
	closedir(d);
	free(dir);
	return r;
}
