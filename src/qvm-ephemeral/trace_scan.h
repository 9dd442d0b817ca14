/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces, between its files: one scan (what was asked, what
 * was found) and the steps that fill and act on it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "qube.h"
#include "traces.h"

#define RECORD_PATH "/var/lib/qubes-ephemeral/disposables"   /* trace_record.c */
#define LVM_ARCHIVE_DIR "/etc/lvm/archive"
#define LVM_ARCHIVE_MAX (64u << 20)

struct target {
	char name[NAME_MAX_Q];
	bool disposable;        /* dispN, or recorded as a named disposable */
	unsigned long journal;  /* journal lines naming it */
	bool back;              /* exists again when --scrub re-asked qubesd */
};

struct tfile {
	char *path;             /* as on this machine (with --root) */
	char qube[NAME_MAX_Q];  /* log: its qube */
	bool lvm;
	char gone[256];         /* lvm: the wanted gone qubes it names */
	char existing[256];     /* lvm: existing qubes it names (then it is kept) */
	long long size;
};

struct scan {
	const char *root;
	bool all, scrub, quiet;
	struct qube_list qubes;
	char **rec;             /* recorded named disposables */
	size_t nrec;
	struct target *t;
	size_t nt;
	struct tfile *f;
	size_t nf;
	bool journal_ok;
	char journal_err[128];
};

/* trace_names.c: a character of a qube name */
bool trace_name_char(char c);

/* trace_scan.c */
char *scan_path(const struct scan *s, const char *path);     /* root + path, malloc'd */
bool scan_recorded(const struct scan *s, const char *name);  /* a recorded named disposable */
ssize_t scan_target_index(const struct scan *s, const char *name);
ssize_t scan_target_add(struct scan *s, const char *name, bool disposable);
/* Index of the target a found name belongs to; -1 when the name is not
 * wanted (an existing qube, or not a disposable under --all-disposables). */
ssize_t scan_wanted(struct scan *s, const char *name);
int scan_file_add(struct scan *s, const char *path, const struct stat *st, struct tfile **out);
/* A regular file under dfd (never through a symlink), or NULL. */
char *scan_read_text(int dfd, const char *name, size_t max);
int scan_logs(struct scan *s);      /* the log folders; -ENOMEM */
int scan_lvm(struct scan *s);       /* LVM metadata archives; -ENOMEM */

/* trace_journal.c: journal lines per target (s->journal_ok / journal_err) */
int scan_journal(struct scan *s);

/* trace_record.c */
int trace_record_load(struct scan *s);
void trace_record_save(struct scan *s, bool scrubbed);

/* trace_scrub.c: unlinks the found files of targets that are still gone;
 * an exit code. */
int trace_scrub_files(struct scan *s);
/* --auto-scrub on|off: an exit code */
int trace_auto_scrub_set(const char *v);
