/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What `enable` changed on a qube, saved in the qube feature RECORD_FEATURE
 * so that `disable` restores exactly that; plus the pure rules that judge a
 * qube's settings (verdict) and edit kernelopts.
 *
 * Record text (one line of printable ASCII, as qubesd requires of feature
 * values), space-separated key=value, values percent-encoded:
 *   v1 root.rw=1 private.rw=1 volatile.ephemeral=- kernel=default:6.1.0
 *      kernelopts=set:nopat%20foo dom0-crypt=0
 * `default:X` = the property was at its default (value X then): restore with
 * Reset. `set:X` = explicitly X: restore with Set. volatile.ephemeral `-` =
 * not touched by enable (no --dom0-crypt). Unknown keys are an error (a newer
 * tool wrote it): better refuse than restore half. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define RECORD_FEATURE "qubes-ephemeral.saved"
/* dom0 feature holding the --all-disposables policy: "dom0-crypt=0|1 exclude=a,b" */
#define POLICY_FEATURE "qubes-ephemeral.all-disposables"
/* dom0 feature "1": the watch service scrubs a disposable's dom0 traces
 * when qubesd deletes it (qvm-ephemeral traces --auto-scrub on|off) */
#define SCRUB_FEATURE "qubes-ephemeral.scrub-traces"
#define KOPTS_FLAG "qubes.ephemeral=1"
#define KOPTS_MAX 512   /* qubesd refuses longer kernelopts */
#define VARIANT_SUFFIX "-ephemeral"
#define PROP_MAX 1024

struct saved_prop {
	bool was_default;
	char value[PROP_MAX];
};

struct record {
	int root_rw;            /* previous rw of root: 0 / 1 */
	int private_rw;
	int volatile_ephemeral; /* previous value 0 / 1, or -1: not touched */
	struct saved_prop kernel, kernelopts;
	bool dom0_crypt;        /* enable was asked for --dom0-crypt */
};

/* Returns the length written, or -ENOSPC. */
int record_format(const struct record *r, char *buf, size_t size);
/* Returns 0, or -EINVAL with a reason in why. */
int record_parse(const char *s, struct record *r, char *why, size_t whylen);

/* kernelopts edits: token-exact, spaces normalised to one. Return 0 or -ENOSPC. */
bool kopts_has_flag(const char *opts);
int kopts_add_flag(const char *opts, char *out, size_t size);
int kopts_remove_flag(const char *opts, char *out, size_t size);

/* Kernel variant names: "VER" -> "VER-ephemeral" (VARIANT_SUFFIX); -EINVAL
 * for names that cannot be a kernel folder (empty, '/', leading '.', a
 * newline, a variant already), -ENAMETOOLONG. */
int kernel_variant_name(const char *ver, char *out, size_t n);
/* true for "X-ephemeral" with X non-empty; then base = X (when not NULL). */
bool kernel_variant_base(const char *name, char *base, size_t n);

/* --all-disposables policy text. */
struct policy {
	bool on;
	bool dom0_crypt;
	char exclude[PROP_MAX]; /* comma-separated names */
};
int policy_format(const struct policy *p, char *buf, size_t size);
/* -EINVAL on unreadable text, -ENOSPC when the exclude list does not fit. */
int policy_parse(const char *s, struct policy *p);
/* Adds name to the exclude list (once). -EINVAL for a name with a comma or
 * space, -ENOSPC when the list would not fit (never cut). */
int policy_add_exclude(struct policy *p, const char *name);
bool policy_excludes(const struct policy *p, const char *name);

/* The settings that make a qube ephemeral, as seen now. */
struct observed {
	bool root_rw, private_rw, volatile_ephemeral;
	bool kernel_variant;    /* kernel names a -ephemeral variant */
	bool kernel_missing;    /* ... that is not in the linux-kernel pool */
	bool flag;              /* kernelopts has qubes.ephemeral=1 */
};

enum verdict { VERDICT_EPHEMERAL, VERDICT_PARTIAL, VERDICT_DRIFT, VERDICT_OFF };

/* Judges o against what the record promises (rec NULL = no record). Writes
 * the missing settings, comma-separated, into why ("" when none). */
enum verdict verdict_eval(const struct observed *o, const struct record *rec, char *why, size_t whylen);
const char *verdict_name(enum verdict v);
