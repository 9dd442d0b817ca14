/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral traces, the pure part: qube names in dom0 file names, LVM
 * metadata text and journal lines (unit tested, no I/O). */
#define _GNU_SOURCE
#include "traces.h"

#include <string.h>

#include "qube.h"   /* NAME_MAX_Q */

bool trace_name_char(char c)
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
		if (!trace_name_char(name[i]))
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
	return trace_name_char(c) || c == '+';
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
		if (p > line && trace_name_char(p[-1]) && p[-1] != '.')
			continue;
		if (after == '.' && !trace_name_char(p[n + 1]))
			return true;
		if (!trace_name_char(after))
			return true;
	}
	return false;
}
