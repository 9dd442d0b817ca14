/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "stackcheck.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "scan.h"

int stack_param_dev(const char *params, unsigned n, dev_t *dev)
{
	const char *p = params;
	for (unsigned i = 0;; i++) {
		p += strspn(p, " \t");
		if (!*p)
			return -EINVAL;
		size_t l = strcspn(p, " \t");
		if (i == n) {
			char f[32];
			unsigned ma, mi;
			const char *q = f;
			if (l >= sizeof(f))
				return -EINVAL;
			memcpy(f, p, l);
			f[l] = 0;
			if (scan_devnum(&q, &ma, &mi) < 0 || *q)
				return -EINVAL;
			*dev = makedev(ma, mi);
			return 0;
		}
		p += l;
	}
}

static const struct stack_dev *by_dev(const struct stack_facts *f, dev_t d)
{
	for (size_t i = 0; i < f->ndevs; i++)
		if (f->devs[i].dev == d)
			return &f->devs[i];
	return NULL;
}

static const struct stack_dev *by_name(const struct stack_facts *f, const char *name)
{
	for (size_t i = 0; i < f->ndevs; i++)
		if (!strcmp(f->devs[i].name, name))
			return &f->devs[i];
	return NULL;
}

/* The crypt device is ours and holds its key only in the kernel: the table
 * names the key as ":LEN:logon:DESC", never as hex bytes. */
static bool crypt_ok(const struct stack_facts *f, const struct stack_dev *d)
{
	char want[160];
	snprintf(want, sizeof(want), ":logon:%s", f->key_desc);
	const char *key = d->params + strcspn(d->params, " ");
	key += strspn(key, " ");
	return !strcmp(d->name, f->crypt_name) && !strcmp(d->type, "crypt") && d->targets == 1 &&
	       key[0] == ':' && strstr(key, want) && strstr(key, want) < key + strcspn(key, " ");
}

/* Does every write to device d end on our crypt device? Follows linear,
 * thin-pool (metadata and data) and thin (its pool) mappings; a thin
 * device's external origin is only read, and the origins' read-only state
 * is judged on its own. Anything else — a plain disk, a snapshot, a second
 * target — is not proven. */
static bool encrypted(const struct stack_facts *f, dev_t d, int depth)
{
	const struct stack_dev *x = by_dev(f, d);
	dev_t a, b;
	if (!x || depth > 8 || x->targets != 1)
		return false;
	if (!strcmp(x->type, "crypt"))
		return crypt_ok(f, x);
	if (!strcmp(x->type, "linear"))
		return stack_param_dev(x->params, 0, &a) == 0 && encrypted(f, a, depth + 1);
	if (!strcmp(x->type, "thin-pool"))
		return stack_param_dev(x->params, 0, &a) == 0 && stack_param_dev(x->params, 1, &b) == 0 &&
		       encrypted(f, a, depth + 1) && encrypted(f, b, depth + 1);
	if (!strcmp(x->type, "thin"))
		return stack_param_dev(x->params, 0, &a) == 0 && encrypted(f, a, depth + 1);
	return false;
}

static int no(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int no(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return 1;
}

/* name must be a thin device of an encrypted pool */
static bool thin_ok(const struct stack_facts *f, const char *name)
{
	const struct stack_dev *d = by_name(f, name);
	return d && !strcmp(d->type, "thin") && encrypted(f, d->dev, 0);
}

int stack_judge(const struct stack_facts *f, char *why, size_t len)
{
	const struct stack_dev *crypt = by_name(f, f->crypt_name);
	const struct stack_dev *root = by_name(f, f->root_name);
	const struct stack_dev *priv = by_name(f, f->private_name);

	if (strncmp(f->mode, "ephemeral", 9) != 0)
		return no(why, len, "not booted in ephemeral mode (mode %s)", *f->mode ? f->mode : "unknown");
	if (strcmp(f->mode, "ephemeral") != 0)
		return no(why, len, "booted in test mode %s", f->mode);
	if (!crypt)
		return no(why, len, "no encrypted volatile device %s", f->crypt_name);
	if (strcmp(crypt->type, "crypt") != 0)
		return no(why, len, "%s is a %s mapping, not dm-crypt", f->crypt_name, crypt->type);
	if (!crypt_ok(f, crypt))
		return no(why, len, "the table of %s does not reference the key in the kernel keyring "
			  "(key material or another key)", f->crypt_name);
	if (!root || !thin_ok(f, f->root_name))
		return no(why, len, "%s is not a thin device of a pool on %s", f->root_name, f->crypt_name);
	if (f->root_fs != root->dev)
		return no(why, len, "/ is on %u:%u, not on %s (%u:%u)", major(f->root_fs), minor(f->root_fs),
			  f->root_name, major(root->dev), minor(root->dev));
	if (!priv || !thin_ok(f, f->private_name))
		return no(why, len, "%s is not a thin device of a pool on %s", f->private_name, f->crypt_name);
	if (f->rw_fs && f->rw_fs != priv->dev)
		return no(why, len, "/rw is on %u:%u, not on %s", major(f->rw_fs), minor(f->rw_fs), f->private_name);
	if (f->swap_unknown)
		return no(why, len, "an active swap lies on a device that cannot be identified");
	for (size_t i = 0; i < f->nswaps; i++)
		if (!encrypted(f, f->swaps[i], 0))
			return no(why, len, "swap on %u:%u is not on %s", major(f->swaps[i]), minor(f->swaps[i]),
				  f->crypt_name);
	if (f->key_in_keyring)
		return no(why, len, "the volatile key is still in a kernel keyring");
	if (f->root_origin_ro != 1)
		return no(why, len, "the root origin is %s", f->root_origin_ro ? "of unknown state" : "writable");
	if (f->private_origin_ro != 1)
		return no(why, len, "the private origin is %s", f->private_origin_ro ? "of unknown state" : "writable");
	if (f->scrub_pages == 0)
		return no(why, len, "Xen balloon scrubbing is off (scrub_pages = 0): memory handed back to Xen "
			  "is not wiped");
	return 0;
}
