/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces, the pure part (trace_names.c): qube names in dom0
 * file names, LVM metadata text and journal lines. Unit tested. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* A character of a qube name: letters, digits, '_', '.', '-'. */
bool trace_name_char(char c);

/* Qubes' rule for a qube name (qubes/vm/__init__.py validate_name): a
 * letter, then letters, digits, '_', '.', '-'; at most 31 characters; never
 * "none"/"default" nor ending in "-dm" (the stubdomain's suffix). */
bool trace_valid_name(const char *name);

/* "disp" followed by digits only: the names qubesd gives unnamed disposables. */
bool trace_is_disp_name(const char *name);

/* A log rotation suffix after ".log": "", ".1", ".2.gz", "-20240101",
 * "-20240101.xz", ".old", ... */
bool trace_rotation_suffix(const char *s);

/* When fname is PREFIX NAME ".log" ROTATION (e.g. "qrexec.disp12.log.1"),
 * copies NAME into name and returns true. *dm is set when NAME ended in
 * "-dm" (guest-NAME-dm.log: the stubdomain's console of an HVM), which is
 * then removed from name. */
bool trace_log_name(const char *fname, const char *prefix, char *name, size_t size, bool *dm);

/* The qube a Qubes LVM volume belongs to: "vm-NAME-VOL[-snap|-import|-tmp|
 * -NNN-back]" with VOL root, private or volatile. Returns true and copies
 * NAME. */
bool trace_lvm_volume_qube(const char *lv, char *name, size_t size);

/* Calls fn(name, ctx) for every qube (with repeats) whose volumes are named
 * in an LVM metadata text (/etc/lvm/archive/VG_NNNNN-*.vg). */
void trace_lvm_qubes(const char *text, void (*fn)(const char *name, void *ctx), void *ctx);

/* true when line names the qube: name not preceded by a letter, digit, '_'
 * or '-' ("vm.disp7:" is qubesd's logger for disp7) and not followed by
 * another character of a name (a '.' that ends a sentence is a boundary). */
bool trace_line_names(const char *line, const char *name);
