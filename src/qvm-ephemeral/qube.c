/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading qubes through the Admin API (see qube.h). */
#include "qube.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qubesd.h"
#include "qvm.h"

/* --- pure parsers --- */

int parse_pybool(const char *s)
{
	if (!strcmp(s, "True"))
		return 1;
	if (!strcmp(s, "False"))
		return 0;
	return -EINVAL;
}

int parse_vm_list(const char *text, struct qube_list *l)
{
	size_t cap = 0;
	l->v = NULL;
	l->n = 0;
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		char line[512];
		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), p);
		p += len + (p[len] == '\n');
		if (!line[0])
			continue;
		if (l->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct qube *nv = realloc(l->v, cap * sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			l->v = nv;
		}
		struct qube *q = &l->v[l->n];
		memset(q, 0, sizeof(*q));
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		if (!tok || strlen(tok) >= sizeof(q->name))
			return -EPROTO;
		strcpy(q->name, tok);
		while ((tok = strtok_r(NULL, " ", &save))) {
			if (!strncmp(tok, "class=", 6))
				snprintf(q->klass, sizeof(q->klass), "%s", tok + 6);
			else if (!strncmp(tok, "state=", 6))
				snprintf(q->state, sizeof(q->state), "%s", tok + 6);
		}
		if (!q->klass[0] || !q->state[0])
			return -EPROTO;
		l->n++;
	}
	return 0;
}

/* Parses "default=X type=T VALUE" at s; value ends at end (exclusive). */
static int parse_prop_span(const char *s, const char *end, struct qprop *p)
{
	int d;
	if (strncmp(s, "default=", 8))
		return -EPROTO;
	s += 8;
	size_t l = strcspn(s, " ");
	if (s + l > end)
		return -EPROTO;
	char b[8];
	snprintf(b, sizeof(b), "%.*s", (int)(l < 7 ? l : 7), s);
	if ((d = parse_pybool(b)) < 0)
		return -EPROTO;
	s += l;
	if (strncmp(s, " type=", 6))
		return -EPROTO;
	s += 6;
	s += strcspn(s, " ");
	if (s > end)
		return -EPROTO;
	if (s < end && *s == ' ')
		s++;
	size_t vl = end - s;
	if (vl >= sizeof(p->value))
		return -ENOSPC;
	memcpy(p->value, s, vl);
	p->value[vl] = 0;
	p->is_default = d;
	p->present = true;
	return 0;
}

int parse_property(const char *text, struct qprop *p)
{
	return parse_prop_span(text, text + strlen(text), p);
}

static struct qprop *prop_slot(struct qube *q, const char *name, size_t len)
{
	static const struct { const char *n; size_t off; } known[] = {
		{ "kernel", offsetof(struct qube, kernel) },
		{ "kernelopts", offsetof(struct qube, kernelopts) },
		{ "virt_mode", offsetof(struct qube, virt_mode) },
		{ "template", offsetof(struct qube, template) },
		{ "template_for_dispvms", offsetof(struct qube, template_for_dispvms) },
		{ "auto_cleanup", offsetof(struct qube, auto_cleanup) },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].n) == len && !strncmp(known[i].n, name, len))
			return (struct qprop *)((char *)q + known[i].off);
	return NULL;
}

int parse_getall(const char *text, struct qube *q)
{
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		const char *line = p, *end = p + len;
		p = end + (*end == '\n');
		size_t nl = strcspn(line, " ");
		if (nl >= len)
			continue;
		struct qprop *slot = prop_slot(q, line, nl);
		if (!slot)
			continue;
		/* unescape \\ and \n into a bounded copy, then parse */
		char buf[PROP_MAX + 64];
		size_t n = 0;
		for (const char *s = line + nl + 1; s < end; s++) {
			char c = *s;
			if (c == '\\' && s + 1 < end)
				c = *++s == 'n' ? '\n' : *s;
			if (n + 1 >= sizeof(buf))
				return -ENOSPC;
			buf[n++] = c;
		}
		buf[n] = 0;
		int r = parse_prop_span(buf, buf + n, slot);
		if (r < 0)
			return r;
	}
	return 0;
}

int parse_volume_info(const char *text, struct qvol *v)
{
	unsigned seen = 0;
	memset(v, 0, sizeof(*v));
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		char line[256];
		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), p);
		p += len + (p[len] == '\n');
		char *val = strchr(line, '=');
		if (!val)
			continue;
		*val++ = 0;
		struct { const char *k; bool *dst; unsigned bit; } keys[] = {
			{ "rw", &v->rw, 1 }, { "ephemeral", &v->ephemeral, 2 },
			{ "snap_on_start", &v->snap_on_start, 4 }, { "save_on_stop", &v->save_on_stop, 8 },
		};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strcmp(line, keys[i].k))
				continue;
			int b = parse_pybool(val);
			if (b < 0)
				return -EPROTO;
			*keys[i].dst = b;
			seen |= keys[i].bit;
		}
	}
	/* ephemeral is missing on R4.1; treat as False */
	if ((seen & 13) != 13)
		return -EPROTO;
	v->present = true;
	return 0;
}

int parse_pool_dir(const char *info, char *dir, size_t n)
{
	for (const char *p = info; *p;) {
		size_t len = strcspn(p, "\n");
		if (len > 9 && !strncmp(p, "dir_path=", 9)) {
			if (p[9] != '/' || len - 9 >= n)
				return -EPROTO;
			memcpy(dir, p + 9, len - 9);
			dir[len - 9] = 0;
			return 0;
		}
		p += len + (p[len] == '\n');
	}
	return -ENOENT;
}

/* --- calls --- */

int qubes_list(struct qube_list *l)
{
	return qubes_list_dest("dom0", l);
}

int qubes_list_dest(const char *dest, struct qube_list *l)
{
	char *out;
	int r = qubesd_call("admin.vm.List", dest, NULL, NULL, &out);
	if (r < 0)
		return r;
	r = parse_vm_list(out, l);
	free(out);
	if (r < 0)
		fprintf(stderr, "qvm-ephemeral: dom0: admin.vm.List: unexpected reply format\n");
	return r;
}

void qubes_free(struct qube_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

struct qube *qubes_find(const struct qube_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return &l->v[i];
	return NULL;
}

static int load_props_one_by_one(struct qube *q)
{
	static const char *names[] = { "kernel", "kernelopts", "virt_mode", "template",
				       "template_for_dispvms", "auto_cleanup" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct qubesd_error err;
		char *out;
		int r = qubesd_call_err("admin.vm.property.Get", q->name, names[i], NULL, &out, &err);
		if (r == -EREMOTEIO && !strcmp(err.type, "QubesNoSuchPropertyError"))
			continue;
		if (r < 0) {
			fprintf(stderr, "qvm-ephemeral: %s: admin.vm.property.Get+%s: %s: %s\n", q->name, names[i],
				err.type, err.msg);
			return r;
		}
		r = parse_property(out, prop_slot(q, names[i], strlen(names[i])));
		free(out);
		if (r < 0) {
			fprintf(stderr, "qvm-ephemeral: %s: admin.vm.property.Get+%s: unexpected reply format\n",
				q->name, names[i]);
			return r;
		}
	}
	return 0;
}

int qube_load_props(struct qube *q)
{
	struct qubesd_error err;
	char *out;
	if (q->props_loaded)
		return 0;
	int r = qubesd_call_err("admin.vm.property.GetAll", q->name, NULL, NULL, &out, &err);
	if (r == 0) {
		r = parse_getall(out, q);
		free(out);
		if (r < 0)
			snprintf(err.msg, sizeof(err.msg), "%s", "unexpected reply format");
	}
	if (r < 0) {
		/* GetAll fails as a whole when any property does (e.g. one whose
		 * default raises, or a policy allowing only Get): ask for ours one
		 * by one; their errors are the ones that matter */
		if (qvm_verbose)
			fprintf(stderr, "qvm-ephemeral: %s: admin.vm.property.GetAll: %s; asking property by property\n",
				q->name, err.msg);
		struct qprop *slots[] = { &q->kernel, &q->kernelopts, &q->virt_mode, &q->template,
					  &q->template_for_dispvms, &q->auto_cleanup };
		for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
			memset(slots[i], 0, sizeof(*slots[i]));
		r = load_props_one_by_one(q);
	}
	if (r == 0)
		q->props_loaded = true;
	return r;
}

static int load_vol(struct qube *q, const char *vol, struct qvol *v)
{
	struct qubesd_error err;
	char *out;
	int r = qubesd_call_err("admin.vm.volume.Info", q->name, vol, NULL, &out, &err);
	if (r < 0) {
		/* a qube without this volume (e.g. dom0): not an error here */
		if (r == -EREMOTEIO && (!strcmp(err.type, "PermissionDenied") || !strcmp(err.type, "ProtocolError"))) {
			v->present = false;
			return 0;
		}
		fprintf(stderr, "qvm-ephemeral: %s: admin.vm.volume.Info+%s: %s: %s\n", q->name, vol, err.type, err.msg);
		return r;
	}
	r = parse_volume_info(out, v);
	free(out);
	if (r < 0)
		fprintf(stderr, "qvm-ephemeral: %s: admin.vm.volume.Info+%s: unexpected reply format\n", q->name, vol);
	return r;
}

int qube_load_vols(struct qube *q)
{
	int r;
	if (q->vols_loaded)
		return 0;
	if (!strcmp(q->klass, "AdminVM")) {
		/* dom0 has no such volumes; qubesd closes the connection without
		 * a reply when asked (PermissionDenied), so do not ask */
		q->root.present = q->private.present = q->volatile_.present = false;
		q->vols_loaded = true;
		return 0;
	}
	if ((r = load_vol(q, "root", &q->root)) < 0 || (r = load_vol(q, "private", &q->private)) < 0 ||
	    (r = load_vol(q, "volatile", &q->volatile_)) < 0)
		return r;
	q->vols_loaded = true;
	return 0;
}

int qube_load_record(struct qube *q)
{
	struct qubesd_error err;
	char *out;
	if (q->record_loaded)
		return 0;
	int r = qubesd_call_err("admin.vm.feature.Get", q->name, RECORD_FEATURE, NULL, &out, &err);
	if (r == -EREMOTEIO && !strcmp(err.type, "QubesFeatureNotFoundError")) {
		q->has_record = false;
		q->record_loaded = true;
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "qvm-ephemeral: %s: admin.vm.feature.Get+%s: %s: %s\n", q->name, RECORD_FEATURE, err.type,
			err.msg);
		return r;
	}
	q->has_record = true;
	snprintf(q->record_text, sizeof(q->record_text), "%s", out);
	q->record_bad = record_parse(out, &q->rec, q->record_err, sizeof(q->record_err)) < 0;
	free(out);
	q->record_loaded = true;
	return 0;
}

int qube_load(struct qube *q)
{
	int r;
	if ((r = qube_load_props(q)) < 0 || (r = qube_load_vols(q)) < 0 || (r = qube_load_record(q)) < 0)
		return r;
	return 0;
}

bool qube_is_halted(const struct qube *q)
{
	return !strcmp(q->state, "Halted");
}

bool qube_is_disposable_template(const struct qube *q)
{
	return !strcmp(q->klass, "AppVM") && q->template_for_dispvms.present &&
	       !strcmp(q->template_for_dispvms.value, "True");
}

bool qube_is_named_disposable(const struct qube *q)
{
	return !strcmp(q->klass, "DispVM") && !(q->auto_cleanup.present && !strcmp(q->auto_cleanup.value, "True"));
}

/* --- kernel pool --- */

int kernel_pool_dir(char *dir, size_t n)
{
	struct qubesd_error err;
	char *out;
	int r = qubesd_call_err("admin.pool.Info", "dom0", KERNEL_POOL, NULL, &out, &err);
	if (r < 0) {
		fprintf(stderr, "qvm-ephemeral: dom0: admin.pool.Info+%s: %s: %s\n", KERNEL_POOL, err.type, err.msg);
		return r;
	}
	r = parse_pool_dir(out, dir, n);
	free(out);
	if (r < 0)
		fprintf(stderr, "qvm-ephemeral: dom0: admin.pool.Info+%s: %s\n", KERNEL_POOL,
			r == -ENOENT ? "no dir_path in the reply (not a linux-kernel pool?)" : "unexpected dir_path");
	return r;
}

static char *pool_list;
static bool pool_failed;

void kernel_pool_forget(void)
{
	free(pool_list);
	pool_list = NULL;
	pool_failed = false;
}

bool kernel_pool_has(const char *name)
{
	/* when the pool cannot be listed (error printed once) nothing is
	 * claimed missing */
	if (pool_failed)
		return true;
	if (!pool_list && qubesd_call("admin.pool.volume.List", "dom0", KERNEL_POOL, NULL, &pool_list) < 0) {
		pool_failed = true;
		return true;
	}
	size_t l = strlen(name);
	for (const char *p = pool_list; *p;) {
		size_t len = strcspn(p, "\n");
		if (len == l && !strncmp(p, name, l))
			return true;
		p += len + (p[len] == '\n');
	}
	return false;
}

void qubes_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int qubes_using_kernel(const char *kernel, char ***names, size_t *n)
{
	struct qube_list l;
	int r = qubes_list(&l);
	*names = NULL;
	*n = 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n && r >= 0; i++) {
		struct qubesd_error err;
		char *out;
		struct qprop p;
		if (!strcmp(l.v[i].klass, "AdminVM"))
			continue;
		r = qubesd_call_err("admin.vm.property.Get", l.v[i].name, "kernel", NULL, &out, &err);
		if (r == -EREMOTEIO && !strcmp(err.type, "QubesNoSuchPropertyError")) {
			r = 0;
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "qvm-ephemeral: %s: admin.vm.property.Get+kernel: %s: %s\n", l.v[i].name, err.type,
				err.msg);
			break;
		}
		r = parse_property(out, &p);
		free(out);
		if (r < 0) {
			/* unknown is not "unused": the caller must keep what it asked about */
			fprintf(stderr, "qvm-ephemeral: %s: admin.vm.property.Get+kernel: unexpected reply format\n",
				l.v[i].name);
			r = -EPROTO;
			break;
		}
		if (strcmp(p.value, kernel))
			continue;
		char **nn = realloc(*names, (*n + 1) * sizeof(*nn));
		if (!nn || !(nn[*n] = strdup(l.v[i].name))) {
			if (nn)
				*names = nn;
			r = -ENOMEM;
			break;
		}
		*names = nn;
		(*n)++;
	}
	qubes_free(&l);
	if (r < 0) {
		qubes_names_free(*names, *n);
		*names = NULL;
		*n = 0;
	}
	return r < 0 ? r : 0;
}
