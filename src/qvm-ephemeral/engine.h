/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The steps enable, disable, apply and watch share: judge a qube, make it
 * ephemeral (writing only what differs), restore it from its record. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <stdio.h>

#include "qube.h"

#define KERNELS_DIR_DEFAULT "/var/lib/qubes/vm-kernels"

/* Kernel folder: the linux-kernel pool's dir_path from qubesd (asked once),
 * or the Qubes default when qubesd cannot say (printed); in a TEST_HOOKS
 * build $QUBES_VM_KERNELS_DIR first. */
const char *kernels_dir(void);

/* 0 when q can be made ephemeral; 1 with a reason when it cannot (class,
 * state, kernel). q must have its properties and volumes loaded. */
int qube_refusal(const struct qube *q, char *why, size_t n);

/* Name of the variant q should boot (from its record, else its kernel),
 * making sure it exists (kernel.c's kernel_variant_ensure in dom0).
 * Prints one line and returns negative errno on failure. */
int variant_for(const struct qube *q, const struct record *rec, char *variant, size_t n);

/* The base kernel q should now boot the variant of, or "" when its current
 * kernel is a present variant that is up to date (a record saying the kernel
 * was at its default follows a newer default: GetDefault). Makes nothing. */
int kernel_base_wanted(const struct qube *q, const struct record *rec, char *base, size_t n);

/* Record of q's current settings, as enable saves it. */
void record_from_qube(const struct qube *q, bool dom0_crypt, struct record *rec);

/* Settings of q now, for verdict_eval(). */
void observe(const struct qube *q, struct observed *o);

/* --- all-or-nothing writes ---
 * Every write of enable, disable and apply goes through these; each one
 * that qubesd accepted is remembered with its inverse, and undo_run() puts
 * them back in reverse order when a later one is refused, so the qube is
 * exactly as before the run. */
struct undo_step {
	char method[48], arg[48];
	bool has_payload;
	char payload[4 * PROP_MAX];
};
struct undo {
	struct undo_step v[8];
	size_t n;
};
int write_vol(struct qube *q, struct undo *u, const char *vol, const char *what, bool val);
int write_prop(struct qube *q, struct undo *u, const char *prop, const char *val);
int reset_prop(struct qube *q, struct undo *u, const char *prop);
/* old: the feature's value now, NULL when it is not set */
int write_feature(struct qube *q, struct undo *u, const char *name, const char *val, const char *old);
int remove_feature(struct qube *q, struct undo *u, const char *name, const char *old);
/* Reverts u and says so in one line (or how to recover when a revert is
 * refused too). Returns 0 when q is as before. */
int undo_run(struct qube *q, struct undo *u);

/* What qubesd would refuse of making q ephemeral, checked before the first
 * write (kernelopts + the flag over 512 characters; --dom0-crypt on a
 * volatile that cannot be ephemeral; a missing volume). 0, or 1 with why. */
int ephemeral_refusal(const struct qube *q, bool dom0_crypt, char *why, size_t n);

/* Sets what differs from the ephemeral settings promised by rec. Every
 * change is printed with -v; *changed counts them. Returns 0 or negative
 * errno (one line printed); the writes done are in u. */
int make_ephemeral(struct qube *q, const struct record *rec, int *changed, struct undo *u);

/* enable for one loaded, already checked qube: saves the record first (or
 * extends it for --dom0-crypt), then make_ephemeral(); all or nothing. */
int enable_one(struct qube *q, bool dom0_crypt);

/* The --all-disposables policy stored on dom0 (on = false when unset). */
int policy_load(struct policy *p);

/* `apply` over every qube: fixes drift of recorded qubes and, under the
 * --all-disposables policy, enables disposable templates and named
 * disposables not yet enabled. Returns 0 when everything is ephemeral,
 * 1 when something is left (printed), negative errno on a failed call. */
int apply_all(void);

/* apply for one qube by name (watch: a qube shut down or appeared). */
int apply_one(const char *name, const struct policy *p);

/* Subcommand options every command takes: -v, -q, -h (prints usage to
 * stdout and sets *exit_now). Returns 1 when a was one of them. */
int qvm_common_opt(const char *a, void (*usage)(FILE *), int *exit_now);
