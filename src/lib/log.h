/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One-line diagnostics, prefixed with the program name. */
#pragma once
#include <errno.h>

/* Set once by main(); printed before every message. */
extern const char *log_prog;

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the message and returns r (a negative errno) so callers can
 * `return log_errno(r, "...")`; "%m" is not used: the errno text is appended. */
int log_errno(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
