/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cmdline.h"
#include "layout.h"
#include "scan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef TEST_HOOKS
#define TEST_HOOKS 0
#endif
#define PREFIX "qubes.ephemeral"
/* Longer than any value we accept; longer words are cut and then refused. */
#define WORD_MAX 512

static const char known_list[] =
	"qubes.ephemeral=0|1, qubes.ephemeral.swap=SIZE, "
	"qubes.ephemeral.disks=ROOT,PRIVATE,VOLATILE,MODULES, "
	"qubes.ephemeral.timeout=SECONDS, qubes.ephemeral.watchdog=SECONDS, "
	"qubes.ephemeral.crypt_flags=WORD[,WORD...]";

static const char *const fail_names[] = {
	[FAIL_NONE] = "none",
	[FAIL_READONLY] = "readonly",
	[FAIL_KEY] = "key",
	[FAIL_CRYPT] = "crypt",
	[FAIL_POOL] = "pool",
	[FAIL_THIN] = "thin",
	[FAIL_SWAPON] = "swapon",
	[FAIL_MOUNT] = "mount",
	[FAIL_SWITCH_ROOT] = "switch_root",
};

const char *fail_step_name(enum fail_step s)
{
	if ((unsigned)s >= sizeof(fail_names) / sizeof(fail_names[0]))
		return "?";
	return fail_names[s];
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		/* the quoted word may hold a newline (inside quotes): keep one line */
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return -EINVAL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Copies the next word at *p into buf with its double quotes removed and
 * moves *p past it; *len is the unquoted length, which may exceed bufsz - 1
 * (then buf holds only the start). Returns false at the end of the text. */
static bool next_word(const char **p, char *buf, size_t bufsz, size_t *len)
{
	const char *s = *p;
	bool quoted = false;
	size_t n = 0;

	while (is_space(*s))
		s++;
	if (!*s)
		return false;
	for (; *s && (quoted || !is_space(*s)); s++) {
		if (*s == '"') {
			quoted = !quoted;
			continue;
		}
		if (n + 1 < bufsz)
			buf[n] = *s;
		n++;
	}
	buf[n + 1 < bufsz ? n : bufsz - 1] = '\0';
	*p = s;
	*len = n;
	return true;
}

int parse_size(const char *s, uint64_t *bytes)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	/* digits first (scan_u64 alone would skip leading white space) */
	if (*p < '0' || *p > '9' || scan_u64(&p, &v) < 0)
		return -EINVAL;
	switch (*p) {
	case '\0': break;
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	case 'T': case 't': shift = 40; break;
	default: return -EINVAL;
	}
	if (*p && p[1])
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*bytes = v << shift;
	return 0;
}

static int parse_bool(const char *s, bool *b)
{
	if (strcmp(s, "0") == 0)
		*b = false;
	else if (strcmp(s, "1") == 0)
		*b = true;
	else
		return -EINVAL;
	return 0;
}

static int parse_swap(const char *s, uint64_t *bytes)
{
	uint64_t v;

	if (parse_size(s, &v) < 0)
		return -EINVAL;
	if (v == 0) {
		*bytes = 0;
		return 0;
	}
	if (v < 64 * 1024)
		return -ERANGE;  /* a separate hint: the number itself was fine */
	if (v > UINT64_MAX - 4095)
		return -EINVAL;
	v = (v + 4095) & ~UINT64_C(4095);
	*bytes = v;
	return 0;
}

static int parse_timeout(const char *s, unsigned *t)
{
	unsigned v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > 3600)
			return -EINVAL;
	}
	if (v < 1)
		return -EINVAL;
	*t = v;
	return 0;
}

/* Comma-separated words, each at most once; "none" alone clears. All or
 * nothing: *flags is only changed when the whole value is good. */
static int parse_crypt_flags(const char *s, unsigned *flags)
{
	static const struct { const char *word; unsigned flag; } words[] = {
		{ "no_read_workqueue", CRYPT_NO_READ_WORKQUEUE },
		{ "no_write_workqueue", CRYPT_NO_WRITE_WORKQUEUE },
		{ "same_cpu_crypt", CRYPT_SAME_CPU_CRYPT },
		{ "submit_from_crypt_cpus", CRYPT_SUBMIT_FROM_CRYPT_CPUS },
		{ "sector512", CRYPT_SECTOR_512 },
	};
	unsigned v = 0;

	if (strcmp(s, "none") == 0) {
		*flags = 0;
		return 0;
	}
	for (;;) {
		size_t n = strcspn(s, ","), i;
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i].word) == n && memcmp(s, words[i].word, n) == 0)
				break;
		if (i == sizeof(words) / sizeof(words[0]) || (v & words[i].flag))
			return -EINVAL;
		v |= words[i].flag;
		if (!s[n])
			break;
		s += n + 1;
	}
	*flags = v;
	return 0;
}

static bool disk_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Takes one name up to the next ',' (or the end) into out; moves *s past it. */
static int take_disk(const char **s, char out[CMDLINE_DISK_NAME_MAX])
{
	size_t n = 0;
	const char *p = *s;

	for (; *p && *p != ','; p++) {
		if (!disk_char_ok(*p) || n + 1 >= CMDLINE_DISK_NAME_MAX)
			return -EINVAL;
		out[n++] = *p;
	}
	if (n == 0)
		return -EINVAL;
	out[n] = '\0';
	*s = p;
	return 0;
}

/* All four or nothing: o is only changed when the whole value is good. */
static int parse_disks(const char *s, struct options *o)
{
	char d[4][CMDLINE_DISK_NAME_MAX];

	for (int i = 0; i < 4; i++) {
		if (i > 0 && *s++ != ',')
			return -EINVAL;
		if (take_disk(&s, d[i]) < 0)
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	memcpy(o->disk_root, d[0], sizeof(d[0]));
	memcpy(o->disk_private, d[1], sizeof(d[1]));
	memcpy(o->disk_volatile, d[2], sizeof(d[2]));
	memcpy(o->disk_modules, d[3], sizeof(d[3]));
	return 0;
}

static int parse_watchdog(const char *s, unsigned *out)
{
	unsigned v;
	if (parse_timeout(s, &v) < 0 || v < 5)
		return -EINVAL;
	*out = v;
	return 0;
}

#if TEST_HOOKS
static int parse_hang(const char *s, char *out, size_t outlen)
{
	static const char *const steps[] = { "disks", "origins", "modules", "crypt", "swap", "pool", "thin", "mount" };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (strcmp(s, steps[i]) == 0) {
			snprintf(out, outlen, "%s", s);
			return 0;
		}
	return -EINVAL;
}

static int parse_fail(const char *s, enum fail_step *f)
{
	for (unsigned i = FAIL_NONE + 1; i < sizeof(fail_names) / sizeof(fail_names[0]); i++)
		if (strcmp(s, fail_names[i]) == 0) {
			*f = (enum fail_step)i;
			return 0;
		}
	return -EINVAL;
}
#endif

/* A qubes.ephemeral* word; `word` is cut at WORD_MAX, so `len` tells if it was. */
static int apply_ours(const char *word, size_t len, struct options *o, char *err, size_t errlen)
{
	const char *eq = strchr(word, '=');
	size_t nl = eq ? (size_t)(eq - word) : len;
	const char *v = eq ? eq + 1 : "";
	const char *hint = NULL;
	bool cut = len >= WORD_MAX;
	int r = -EINVAL;

#define IS(name) (eq && nl == sizeof(name) - 1 && memcmp(word, name, nl) == 0)
	if (IS(PREFIX)) {
		hint = "use 0 (off) or 1 (on)";
		r = cut ? -EINVAL : parse_bool(v, &o->ephemeral);
	} else if (IS(PREFIX ".swap")) {
		hint = "SIZE is a number with an optional K, M, G or T suffix, e.g. 1G or 0";
		r = cut ? -EINVAL : parse_swap(v, &o->swap_bytes);
		if (r == -ERANGE)
			hint = "swap must be 0 (none) or at least 64K";
	} else if (IS(PREFIX ".disks")) {
		hint = "give four names under /dev separated by commas, e.g. xvda,xvdb,xvdc,xvdd "
		       "(letters, digits, _ and - only, at most 31 characters each)";
		r = cut ? -EINVAL : parse_disks(v, o);
	} else if (IS(PREFIX ".timeout")) {
		hint = "SECONDS is a whole number from 1 to 3600";
		r = cut ? -EINVAL : parse_timeout(v, &o->timeout_s);
	} else if (IS(PREFIX ".crypt_flags")) {
		hint = "use none, or words from no_read_workqueue, no_write_workqueue, same_cpu_crypt, "
		       "submit_from_crypt_cpus, sector512 separated by commas, each once";
		r = cut ? -EINVAL : parse_crypt_flags(v, &o->crypt_flags);
	} else if (IS(PREFIX ".watchdog")) {
		hint = "SECONDS is a whole number from 5 to 3600";
		r = cut ? -EINVAL : parse_watchdog(v, &o->watchdog_s);
#if TEST_HOOKS
	} else if (IS(PREFIX ".test.plain")) {
		hint = "use 0 or 1";
		o->test_any = true;
		r = cut ? -EINVAL : parse_bool(v, &o->test_plain);
	} else if (IS(PREFIX ".test.keyhash")) {
		hint = "use 0 or 1";
		o->test_any = true;
		r = cut ? -EINVAL : parse_bool(v, &o->test_keyhash);
	} else if (IS(PREFIX ".test.hang")) {
		hint = "use one of the steps: disks, origins, modules, crypt, swap, pool, thin, mount";
		o->test_any = true;
		r = cut ? -EINVAL : parse_hang(v, o->test_hang, sizeof(o->test_hang));
	} else if (IS(PREFIX ".test.fail")) {
		hint = "use one of readonly, key, crypt, pool, thin, swapon, mount, switch_root";
		o->test_any = true;
		r = cut ? -EINVAL : parse_fail(v, &o->test_fail);
#else
	} else if (nl > sizeof(PREFIX ".test.") - 1 && memcmp(word, PREFIX ".test.", sizeof(PREFIX ".test.") - 1) == 0) {
		/* the shipped build has no test paths at all: refuse, never ignore */
		return fail(err, errlen, "\"%.*s\" is accepted only by the test build of ephemeral-init; "
			    "remove it from the kernel options", (int)nl, word);
#endif
	} else {
		return fail(err, errlen, "unknown option \"%s%s\"; known: %s",
			    word, cut ? "..." : "", known_list);
	}
#undef IS
	if (r < 0)
		return fail(err, errlen, "bad value in \"%s%s\": %s", word, cut ? "..." : "", hint);
	return 0;
}

/* name=value into a fixed field; too long is an error rather than a cut path. */
static int set_field(char *field, size_t size, const char *word, size_t len,
		     size_t namelen, char *err, size_t errlen)
{
	size_t vl = len - namelen;

	if (vl >= size)
		return fail(err, errlen, "%.*s value too long (at most %zu characters)",
			    (int)namelen, word, size - 1);
	memcpy(field, word + namelen, vl + 1);
	return 0;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int apply_word(const char *word, size_t len, struct options *o, char *err, size_t errlen)
{
	if (starts_with(word, PREFIX))
		return apply_ours(word, len, o, err, errlen);
	if (strcmp(word, "ro") == 0)
		o->root_ro = true;
	else if (strcmp(word, "rw") == 0)
		o->root_ro = false;
	else if (strcmp(word, "init=") == 0)
		return fail(err, errlen, "init= needs the path of a program, e.g. init=/sbin/init");
	else if (starts_with(word, "init="))
		return set_field(o->init, sizeof(o->init), word, len, 5, err, errlen);
	else if (starts_with(word, "rootfstype="))
		return set_field(o->rootfstype, sizeof(o->rootfstype), word, len, 11, err, errlen);
	else if (starts_with(word, "rootflags="))
		return set_field(o->rootflags, sizeof(o->rootflags), word, len, 10, err, errlen);
	return 0;
}

static void set_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->swap_bytes = CMDLINE_DEFAULT_SWAP;
	snprintf(o->disk_root, sizeof(o->disk_root), "xvda");
	snprintf(o->disk_private, sizeof(o->disk_private), "xvdb");
	snprintf(o->disk_volatile, sizeof(o->disk_volatile), "xvdc");
	snprintf(o->disk_modules, sizeof(o->disk_modules), "xvdd");
	o->timeout_s = CMDLINE_DEFAULT_TIMEOUT_S;
	o->watchdog_s = CMDLINE_DEFAULT_WATCHDOG_S;
	o->root_ro = true;
	snprintf(o->init, sizeof(o->init), "/sbin/init");
	o->test_fail = FAIL_NONE;
}

int cmdline_parse(const char *cmdline, struct options *o, char *err, size_t errlen)
{
	char word[WORD_MAX];
	const char *p = cmdline ? cmdline : "";
	size_t len;
	int r;

	set_defaults(o);
	if (err && errlen)
		err[0] = '\0';
	while (next_word(&p, word, sizeof(word), &len)) {
		/* as the kernel: what follows "--" is for init's argv, not options */
		if (strcmp(word, "--") == 0)
			break;
		if ((r = apply_word(word, len, o, err, errlen)) < 0)
			return r;
	}
	return 0;
}
