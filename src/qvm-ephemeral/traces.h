/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces: dom0 files that record what a disposable did,
 * outside its disks. What the watch service uses (traces.c); the name
 * rules are in trace_names.h. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "trace_names.h"

/* The --auto-scrub setting (SCRUB_FEATURE on dom0): 1 on, 0 off, negative
 * errno when qubesd could not be asked (one line printed). */
int trace_auto_scrub_get(void);

/* Scrubs the dom0 traces of one gone qube, as `traces --scrub NAME` does,
 * without the notes (the watch service's hook). Returns an exit code. */
int trace_scrub_gone(const char *name);
