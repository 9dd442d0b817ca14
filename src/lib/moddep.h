/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel module lookup from modules.dep / modules.alias / modules.builtin,
 * the text files depmod writes in /lib/modules/KVER.
 *
 * Parsing is pure (text in, structures out) so it can be tested and fuzzed;
 * loading lives in ephemeral-init's modules.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* A module name is normalised: '-' becomes '_' (as the kernel does). */
#define MODNAME_MAX 64

struct moddb; /* opaque */

/* Parses the three texts (each may be NULL = empty). Lines that do not parse
 * are skipped. Returns NULL only when out of memory. */
struct moddb *moddb_parse(const char *dep_text, size_t dep_len,
			  const char *alias_text, size_t alias_len,
			  const char *builtin_text, size_t builtin_len);
void moddb_free(struct moddb *db);

/* Is the module (by name, '-' or '_' alike; not by alias) built into the
 * kernel? false for a NULL db. */
bool moddb_is_builtin(const struct moddb *db, const char *name);

/* Resolves `name_or_alias` (a module name such as "dm-crypt", or an alias such
 * as "crypto-xts" or a modalias such as "virtio:d00000002v00001AF4", matched
 * with fnmatch against the alias patterns) into the list of module file paths
 * (relative to the modules folder, as written in modules.dep) to load, in load
 * order: dependencies first, each once, the module itself last. Modules that
 * are built in are left out (a built-in match yields an empty list, returns 0).
 * paths must hold max entries; on return *n is the count (on an error, of
 * the paths filled so far). Returns 0, -ENOENT if nothing matches (or db is
 * NULL), -ELOOP on a dependency cycle, -E2BIG if more than max, -ENOMEM.
 * An alias matching several modules resolves all of them, in the order of
 * modules.alias. Alias patterns and the query are compared with '-' read as
 * '_' outside [...] sets, as kmod does. A dependency without a line of its
 * own is loaded as it is. modules.softdep is not read. The paths point into
 * db and live as long as it does. */
int moddb_resolve(const struct moddb *db, const char *name_or_alias,
		  const char **paths, size_t max, size_t *n);

/* Module name of a path in modules.dep, normalised: "kernel/drivers/md/dm-crypt.ko.xz"
 * -> "dm_crypt". out must hold MODNAME_MAX bytes. */
void moddb_name_from_path(const char *path, char *out);
