/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces: lists (and with --scrub removes) the dom0 files that
 * record the activity of qubes that no longer exist — console, qrexec, guid,
 * qubesdb and libxl logs, LVM metadata archives — and counts their journal
 * lines, which it never touches. qubesd says which qubes exist. */
#define _GNU_SOURCE
#include "traces.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "qube.h"
#include "qubesd.h"
#include "qvm.h"
#include "spawn.h"

#define RECORD_PATH "/var/lib/qubes-ephemeral/disposables"
#define LVM_ARCHIVE_DIR "/etc/lvm/archive"
#define LVM_ARCHIVE_MAX (64u << 20)

/* ---------------------------------------------------------------- pure */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '-';
}

bool trace_valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 31 || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(name[i]))
			return false;
	if (!strcmp(name, "none") || !strcmp(name, "default"))
		return false;
	return !(n >= 3 && !strcmp(name + n - 3, "-dm"));
}

bool trace_is_disp_name(const char *name)
{
	if (strncmp(name, "disp", 4) != 0 || !name[4])
		return false;
	for (const char *p = name + 4; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return strlen(name) <= 31;
}

bool trace_rotation_suffix(const char *s)
{
	static const char *const ext[] = { "", ".gz", ".xz", ".zst", ".bz2", ".old" };
	while ((s[0] == '.' || s[0] == '-') && s[1] >= '0' && s[1] <= '9') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (!strcmp(s, ext[i]))
			return true;
	return false;
}

bool trace_log_name(const char *fname, const char *prefix, char *name, size_t size, bool *dm)
{
	size_t pl = strlen(prefix);
	if (strncmp(fname, prefix, pl) != 0)
		return false;
	const char *start = fname + pl;
	/* leftmost ".log" whose rest is a rotation suffix: "a.log.log" is a.log */
	for (const char *p = strstr(start, ".log"); p; p = strstr(p + 1, ".log")) {
		if (!trace_rotation_suffix(p + 4))
			continue;
		size_t n = (size_t)(p - start);
		if (n == 0 || n >= size)
			return false;
		memcpy(name, start, n);
		name[n] = '\0';
		*dm = n > 3 && !strcmp(name + n - 3, "-dm");
		if (*dm)
			name[n - 3] = '\0';
		return trace_valid_name(name);
	}
	return false;
}

bool trace_lvm_volume_qube(const char *lv, char *name, size_t size)
{
	static const char *const vols[] = { "-root", "-private", "-volatile" };
	if (strncmp(lv, "vm-", 3) != 0)
		return false;
	const char *body = lv + 3;
	/* the rightmost VOL whose rest is a known Qubes suffix */
	for (const char *p = body + strlen(body); p > body; p--) {
		for (size_t i = 0; i < sizeof(vols) / sizeof(vols[0]); i++) {
			size_t vl = strlen(vols[i]);
			if (strncmp(p, vols[i], vl) != 0)
				continue;
			const char *rest = p + vl;
			bool ok = !*rest || !strcmp(rest, "-snap") || !strcmp(rest, "-import") || !strcmp(rest, "-tmp");
			if (!ok && rest[0] == '-' && rest[1] >= '0' && rest[1] <= '9') {
				const char *d = rest + 1;
				while (*d >= '0' && *d <= '9')
					d++;
				ok = !strcmp(d, "-back");
			}
			size_t n = (size_t)(p - body);
			if (!ok || n == 0 || n >= size)
				continue;
			memcpy(name, body, n);
			name[n] = '\0';
			if (trace_valid_name(name))
				return true;
		}
	}
	return false;
}

static bool lv_char(char c)
{
	return name_char(c) || c == '+';
}

void trace_lvm_qubes(const char *text, void (*fn)(const char *name, void *ctx), void *ctx)
{
	for (const char *p = strstr(text, "vm-"); p; p = strstr(p + 1, "vm-")) {
		if (p > text && lv_char(p[-1]))
			continue;
		size_t n = 0;
		while (lv_char(p[n]))
			n++;
		char lv[160], name[NAME_MAX_Q];
		if (n >= sizeof(lv))
			continue;
		memcpy(lv, p, n);
		lv[n] = '\0';
		if (trace_lvm_volume_qube(lv, name, sizeof(name)))
			fn(name, ctx);
	}
}

bool trace_line_names(const char *line, const char *name)
{
	size_t n = strlen(name);
	if (!n)
		return false;
	for (const char *p = strstr(line, name); p; p = strstr(p + 1, name)) {
		char after = p[n];
		/* "vm.disp7:" (qubesd's logger) names disp7; "x-disp7" does not */
		if (p > line && name_char(p[-1]) && p[-1] != '.')
			continue;
		if (after == '.' && !name_char(p[n + 1]))
			return true;
		if (!name_char(after))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------- the scan */

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

static char *dom0_path(const struct scan *s, const char *path)
{
	char *p;
	if (asprintf(&p, "%s%s", s->root, path) < 0)
		return NULL;
	return p;
}

static bool recorded(const struct scan *s, const char *name)
{
	for (size_t i = 0; i < s->nrec; i++)
		if (!strcmp(s->rec[i], name))
			return true;
	return false;
}

static ssize_t target_index(const struct scan *s, const char *name)
{
	for (size_t i = 0; i < s->nt; i++)
		if (!strcmp(s->t[i].name, name))
			return (ssize_t)i;
	return -1;
}

static ssize_t target_add(struct scan *s, const char *name, bool disposable)
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
static ssize_t wanted(struct scan *s, const char *name)
{
	ssize_t i = target_index(s, name);
	if (i >= 0 || !s->all)
		return i;
	if (qubes_find(&s->qubes, name))
		return -1;
	if (!trace_is_disp_name(name) && !recorded(s, name))
		return -1;
	return target_add(s, name, true);
}

static int file_add(struct scan *s, const char *path, const struct stat *st, struct tfile **out)
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

static int scan_logs(struct scan *s)
{
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		char *dir = dom0_path(s, logs[i].dir);
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
			ssize_t t = wanted(s, name);
			if (t == -ENOMEM) {
				closedir(d);
				free(dir);
				return -ENOMEM;
			}
			if (t < 0)
				continue;
			char *path;
			struct tfile *f;
			if (asprintf(&path, "%s/%s", dir, e->d_name) < 0 || file_add(s, path, &st, &f) < 0) {
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
	if (wanted(ln->s, name) >= 0) {
		add_word(ln->gone, sizeof(ln->gone), name);
		ln->any = true;
	}
}

/* A regular file under dfd (never through a symlink), or NULL. */
static char *read_text(int dfd, const char *name, size_t max)
{
	char *buf;
	size_t len;
	return read_file_at(dfd, name, O_NOFOLLOW, max, &buf, &len) < 0 ? NULL : buf;
}

static int scan_lvm(struct scan *s)
{
	char *dir = dom0_path(s, LVM_ARCHIVE_DIR);
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
		char *text = read_text(dirfd(d), e->d_name, LVM_ARCHIVE_MAX);
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
		if (asprintf(&path, "%s/%s", dir, e->d_name) < 0 || file_add(s, path, &st, &f) < 0) {
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

/* journalctl --grep with a pattern for the wanted names; each output line
 * is counted for every target it names. Only read, never changed. */
static int scan_journal(struct scan *s)
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
				if (p > line && name_char(p[-1]) && p[-1] != '.')
					continue;
				while (p[n] >= '0' && p[n] <= '9' && n < sizeof(name) - 1)
					n++;
				memcpy(name, p, n);
				name[n] = '\0';
				if (trace_is_disp_name(name) && !name_char(p[n] == '.' ? p[n + 1] : p[n]))
					(void)wanted(s, name);
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

/* ------------------------------------------------------ recorded names */

static int record_load(struct scan *s)
{
	char *path = dom0_path(s, RECORD_PATH);
	if (!path)
		return -ENOMEM;
	FILE *f = fopen(path, "re");
	free(path);
	if (!f)
		return 0;
	char line[128];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!trace_valid_name(line) || recorded(s, line))
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
static void record_save(struct scan *s, bool scrubbed)
{
	char *path = dom0_path(s, RECORD_PATH), *tmp = NULL;
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
		ssize_t t = target_index(s, s->rec[i]);
		if (qubes_find(&s->qubes, s->rec[i]) || (scrubbed && t >= 0 && !s->t[t].back))
			continue;
		fprintf(m, "%s\n", s->rec[i]);
	}
	fclose(m);
	char *old = NULL;
	int dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		old = read_text(dfd, path, 1u << 20);
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

static int scrub(struct scan *s)
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
		} else if (s->t[target_index(s, f->qube)].back)
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

static int auto_scrub_set(const char *v)
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
			return auto_scrub_set(argv[2]);
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
	if (record_load(&s) < 0)
		goto oom;
	for (size_t n = 0; n < nnames; n++) {
		const struct qube *q = qubes_find(&s.qubes, names[n]);
		if (q) {
			fprintf(stderr, "qvm-ephemeral: %s exists (%s, %s): its logs are its own while it exists\n",
				q->name, q->klass, q->state);
			rc = EXIT_FAIL;
		} else if (target_index(&s, names[n]) < 0 &&
			   target_add(&s, names[n], trace_is_disp_name(names[n]) || recorded(&s, names[n])) < 0)
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
		int r = scrub(&s);
		if (r != EXIT_OK)
			rc = r;
	}
	record_save(&s, s.scrub);
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
