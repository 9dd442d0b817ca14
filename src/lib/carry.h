/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel modules a kernel variant carries in our appended archive: the
 * storage stack's, with their dependencies, taken from that kernel's own
 * modules. At boot ephemeral-init loads them from RAM while the disks
 * appear, so the modules disk is off the critical path. Pure: texts in,
 * lists out (the callers read and write the files). */
#pragma once
#include <stddef.h>

#include "appender.h"
#include "moddep.h"

/* where the carried modules and their modules.dep are, in the initramfs:
 * under usr/lib, a real folder in every initramfs. Not under lib/: on a
 * merged-/usr initramfs lib is a symlink, and a later archive's folder
 * entry "lib" makes the kernel's unpacker replace it with an empty folder,
 * taking /lib/modules away. */
#define CARRIED_MODULES_REL "usr/lib/qubes-ephemeral/modules"
#define CARRIED_MODULES_DIR "/" CARRIED_MODULES_REL
#define CARRY_MAX 64

/* The module files to carry, as modules.dep names them (relative paths,
 * into db), dependencies first, each once. Wanted modules that are built in
 * or absent are left out (absent: *missing counts them; the init then looks
 * on the modules disk). 0, or -E2BIG / -ENOMEM / -ELOOP. */
int carry_list(const struct moddb *db, const char *paths[CARRY_MAX], size_t *n, size_t *missing);

/* The carried folder's modules.dep: the lines of dep_text (a whole
 * modules.dep) whose module is one of paths. *out is malloc'ed. */
int carry_depfile(const char *dep_text, size_t dep_len, const char *const *paths, size_t n,
		  char **out, size_t *out_len);

/* The carried files for our archive: the modules (CARRIED_MODULES_REL/PATH,
 * 0644) and their modules.dep; the buffers are the set's. */
struct carry_set {
	struct append_file f[CARRY_MAX + 2];    /* + modules.dep, + one for the caller */
	char *bufs[2 * CARRY_MAX + 1];
	size_t n, nbufs, missing;
	char failed[256];                       /* the file that could not be read */
};
/* Reads REL (relative to the kernel's modules folder: "modules.dep",
 * "kernel/...ko") into *data (malloc'd); a negative errno when it cannot. */
typedef int (*carry_read_fn)(void *arg, const char *rel, char **data, size_t *len);
/* Fills s from the kernel's modules folder as read reads it (modules.dep
 * must be there, modules.builtin may). 0 or a negative errno, with
 * s->failed naming the file when a read failed; s is emptied on error. */
int carry_collect(carry_read_fn read, void *arg, struct carry_set *s);
void carry_set_free(struct carry_set *s);
