/* Rewriting the new root's /etc/fstab so the template's entries for the
 * private volume and swap name our devices instead of the origin ones. */
#pragma once
#include <stddef.h>

struct fstab_rewrite {
	const char *private_old;  /* e.g. "/dev/xvdb": the device of the /rw entry */
	const char *private_new;  /* e.g. "/dev/mapper/ephemeral-private" */
	const char *swap_old;     /* e.g. "/dev/xvdc1": device of a swap entry */
	const char *swap_new;     /* new swap device, or NULL = comment the entry out */
};

/* Takes fstab text `in` (len bytes, need not end in newline, may hold any
 * bytes) and returns a newly malloc'ed rewritten text in *out (*outlen bytes).
 * Rules: a line whose first field equals private_old gets that field replaced
 * with private_new; a line whose first field equals swap_old and whose third
 * field is "swap" gets swap_new (or is prefixed with "# qubes-ephemeral: "
 * when swap_new is NULL). Every other byte is kept as it was: comments, blank
 * lines, spacing, other entries. Fields are separated by spaces/tabs (and a
 * CR, so CRLF lines match; the CR is kept). Comment lines (first field
 * starting with '#') never match; a NULL or empty *_old matches nothing.
 * The output is NUL-terminated (the NUL not counted in *outlen).
 * Returns the number of lines changed (>= 0) or -ENOMEM. */
int fstab_rewrite(const char *in, size_t len, const struct fstab_rewrite *rw,
		  char **out, size_t *outlen);
