/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/moddep.c: module names, aliases and load order from depmod's files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "moddep.h"

/* A slice of a real Debian 6.1 modules.dep, in depmod's order. */
static const char dep[] =
	"kernel/arch/x86/crypto/aesni-intel.ko: kernel/crypto/crypto_simd.ko kernel/crypto/cryptd.ko\n"
	"kernel/crypto/cryptd.ko:\n"
	"kernel/crypto/crypto_simd.ko: kernel/crypto/cryptd.ko\n"
	"kernel/crypto/xts.ko.xz:\n"
	"kernel/lib/libcrc32c.ko:\n"
	"kernel/drivers/md/dm-mod.ko:\n"
	"kernel/drivers/md/dm-crypt.ko: kernel/drivers/md/dm-mod.ko\n"
	"kernel/drivers/md/dm-bufio.ko:\n"
	"kernel/drivers/md/dm-bio-prison.ko: kernel/drivers/md/dm-mod.ko\n"
	"kernel/drivers/md/persistent-data/dm-persistent-data.ko: kernel/drivers/md/dm-bufio.ko kernel/lib/libcrc32c.ko\n"
	"kernel/drivers/md/dm-thin-pool.ko: kernel/drivers/md/persistent-data/dm-persistent-data.ko "
	"kernel/drivers/md/dm-bio-prison.ko kernel/drivers/md/dm-bufio.ko kernel/drivers/md/dm-mod.ko "
	"kernel/lib/libcrc32c.ko\n"
	"kernel/drivers/virtio/virtio.ko:\n"
	"kernel/drivers/virtio/virtio_ring.ko:\n"
	"kernel/drivers/block/virtio_blk.ko.zst: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
	"kernel/drivers/block/xen-blkfront.ko.gz:\n"
	"kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko\n"  /* deps with no line */
	"kernel/fs/jbd2/jbd2.ko:\n";

static const char alias[] =
	"# Aliases extracted from modules themselves.\n"
	"alias crypto-xts xts\n"
	"alias xts xts\n"
	"alias crypto-aes aesni_intel\n"
	"alias aes aesni_intel\n"
	"alias crypto-aes-generic aes_generic\n"
	"alias virtio:d00000002v* virtio_blk\n"
	"alias xen:vbd xen_blkfront\n"
	"alias devname:mapper/control dm_mod\n"
	"alias dm-crypt-legacy dm-crypt\n"
	"alias pci:v00001AF4d0000100[0-2]sv*sd*bc*sc*i* virtio_pci\n"  /* not in modules.dep */
	"alias block-major-* dm_mod\n"
	"alias block-major-* libcrc32c\n"
	"alias broken\n"
	"junk line\n";

static const char builtin[] =
	"kernel/crypto/aes_generic.ko\n"
	"kernel/lib/crypto/libaes.ko\n"
	"kernel/drivers/virtio/virtio_pci.ko\n";

static struct moddb *db;

static int setup(void **state)
{
	(void)state;
	db = moddb_parse(dep, sizeof(dep) - 1, alias, sizeof(alias) - 1, builtin, sizeof(builtin) - 1);
	return db ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	moddb_free(db);
	return 0;
}

/* Resolves and compares with the expected paths, given as a NULL-ended list. */
static void expect(const struct moddb *d, const char *name, ...)
{
	const char *got[32];
	size_t n = 99;
	va_list ap;
	size_t i = 0;

	int r = moddb_resolve(d, name, got, 32, &n);
	if (r != 0)
		fail_msg("%s: r=%d", name, r);
	va_start(ap, name);
	for (const char *w; (w = va_arg(ap, const char *)); i++) {
		if (i >= n)
			fail_msg("%s: only %zu paths, wanted %s next", name, n, w);
		if (strcmp(got[i], w) != 0)
			fail_msg("%s: path %zu is %s, wanted %s", name, i, got[i], w);
	}
	va_end(ap);
	if (i != n)
		fail_msg("%s: %zu paths, wanted %zu (extra: %s)", name, n, i, got[i]);
}

static void names_from_paths(void **state)
{
	(void)state;
	char out[MODNAME_MAX];
	moddb_name_from_path("kernel/drivers/md/dm-crypt.ko.xz", out);
	assert_string_equal(out, "dm_crypt");
	moddb_name_from_path("kernel/drivers/md/dm-crypt.ko", out);
	assert_string_equal(out, "dm_crypt");
	moddb_name_from_path("xts.ko.zst", out);
	assert_string_equal(out, "xts");
	moddb_name_from_path("a/b/virtio_blk.ko.gz", out);
	assert_string_equal(out, "virtio_blk");
	moddb_name_from_path("", out);
	assert_string_equal(out, "");
	moddb_name_from_path("dir/", out);
	assert_string_equal(out, "");
	char longname[200];
	memset(longname, 'a', sizeof(longname));
	memcpy(longname + 150, "-b.ko", 6);
	moddb_name_from_path(longname, out);
	assert_int_equal(strlen(out), MODNAME_MAX - 1);  /* cut, never overrun */
}

static void single_dependency(void **state)
{
	(void)state;
	expect(db, "dm-crypt", "kernel/drivers/md/dm-mod.ko", "kernel/drivers/md/dm-crypt.ko", NULL);
	expect(db, "dm_crypt", "kernel/drivers/md/dm-mod.ko", "kernel/drivers/md/dm-crypt.ko", NULL);
	expect(db, "dm-mod", "kernel/drivers/md/dm-mod.ko", NULL);
}

static void thin_pool_order(void **state)
{
	(void)state;
	/* what `modprobe --show-depends dm-thin-pool` prints for this kernel */
	expect(db, "dm-thin-pool",
	       "kernel/lib/libcrc32c.ko",
	       "kernel/drivers/md/dm-mod.ko",
	       "kernel/drivers/md/dm-bufio.ko",
	       "kernel/drivers/md/dm-bio-prison.ko",
	       "kernel/drivers/md/persistent-data/dm-persistent-data.ko",
	       "kernel/drivers/md/dm-thin-pool.ko", NULL);
}

static void aliases(void **state)
{
	(void)state;
	expect(db, "crypto-xts", "kernel/crypto/xts.ko.xz", NULL);
	expect(db, "crypto_xts", "kernel/crypto/xts.ko.xz", NULL);  /* '-' and '_' alike here too */
	expect(db, "aes", "kernel/crypto/cryptd.ko", "kernel/crypto/crypto_simd.ko",
	       "kernel/arch/x86/crypto/aesni-intel.ko", NULL);
	expect(db, "virtio:d00000002v00001AF4",
	       "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
	       "kernel/drivers/block/virtio_blk.ko.zst", NULL);
	expect(db, "xen:vbd", "kernel/drivers/block/xen-blkfront.ko.gz", NULL);
	expect(db, "devname:mapper/control", "kernel/drivers/md/dm-mod.ko", NULL);
	/* an alias naming its module with '-' */
	expect(db, "dm-crypt-legacy", "kernel/drivers/md/dm-mod.ko", "kernel/drivers/md/dm-crypt.ko", NULL);
	const char *p[4];
	size_t n = 9;
	assert_int_equal(moddb_resolve(db, "virtio:d00000003v00001AF4", p, 4, &n), -ENOENT);
	assert_int_equal(n, 0);
	assert_int_equal(moddb_resolve(db, "xen:vbdx", p, 4, &n), -ENOENT);
}

static void alias_matching_several(void **state)
{
	(void)state;
	/* both modules, in alias order, each path once */
	expect(db, "block-major-253-1", "kernel/drivers/md/dm-mod.ko", "kernel/lib/libcrc32c.ko", NULL);
}

static void builtin_modules(void **state)
{
	(void)state;
	assert_true(moddb_is_builtin(db, "aes_generic"));
	assert_true(moddb_is_builtin(db, "aes-generic"));
	assert_true(moddb_is_builtin(db, "libaes"));
	assert_false(moddb_is_builtin(db, "aes"));
	assert_false(moddb_is_builtin(db, "dm_mod"));
	assert_false(moddb_is_builtin(NULL, "aes_generic"));
	const char *p[4] = { NULL };
	size_t n = 9;
	/* built in: nothing to load, and that is fine */
	assert_int_equal(moddb_resolve(db, "aes-generic", p, 4, &n), 0);
	assert_int_equal(n, 0);
	/* an alias of a built-in module, and one of a built-in module absent from modules.dep */
	n = 9;
	assert_int_equal(moddb_resolve(db, "crypto-aes-generic", p, 4, &n), 0);
	assert_int_equal(n, 0);
	n = 9;
	assert_int_equal(moddb_resolve(db, "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00", p, 4, &n), 0);
	assert_int_equal(n, 0);
}

static void unknown_names(void **state)
{
	(void)state;
	const char *p[4];
	size_t n = 9;
	assert_int_equal(moddb_resolve(db, "nosuch", p, 4, &n), -ENOENT);
	assert_int_equal(n, 0);
	assert_int_equal(moddb_resolve(db, "", p, 4, &n), -ENOENT);
	assert_int_equal(moddb_resolve(db, "dm-crypt.ko", p, 4, &n), -ENOENT);
	assert_int_equal(moddb_resolve(NULL, "dm-crypt", p, 4, &n), -ENOENT);
	char longname[300];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(moddb_resolve(db, longname, p, 4, &n), -ENOENT);
}

static void deps_without_own_line(void **state)
{
	(void)state;
	/* mbcache has no line: loaded as it is; jbd2 has one */
	expect(db, "ext4", "kernel/fs/mbcache.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/ext4/ext4.ko", NULL);
}

static void too_many(void **state)
{
	(void)state;
	const char *p[6];
	size_t n = 0;
	assert_int_equal(moddb_resolve(db, "dm-thin-pool", p, 5, &n), -E2BIG);
	assert_true(n <= 5);
	assert_int_equal(moddb_resolve(db, "dm-thin-pool", p, 6, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(moddb_resolve(db, "dm-crypt", p, 0, &n), -E2BIG);
}

static void recursion_and_dedupe(void **state)
{
	(void)state;
	/* modules.dep that lists only direct deps: still loads everything once */
	static const char t[] =
		"top.ko: mid1.ko mid2.ko\n"
		"mid1.ko: base.ko\n"
		"mid2.ko: base.ko mid1.ko\n"
		"base.ko:\n";
	struct moddb *d = moddb_parse(t, sizeof(t) - 1, NULL, 0, NULL, 0);
	assert_non_null(d);
	expect(d, "top", "base.ko", "mid1.ko", "mid2.ko", "top.ko", NULL);
	expect(d, "mid2", "base.ko", "mid1.ko", "mid2.ko", NULL);
	moddb_free(d);
}

static void cycles(void **state)
{
	(void)state;
	static const char t[] =
		"a.ko: b.ko\n"
		"b.ko: c.ko\n"
		"c.ko: a.ko\n"
		"self.ko: self.ko\n"
		"ok.ko: leaf.ko\n"
		"leaf.ko:\n";
	struct moddb *d = moddb_parse(t, sizeof(t) - 1, NULL, 0, NULL, 0);
	assert_non_null(d);
	const char *p[8];
	size_t n;
	assert_int_equal(moddb_resolve(d, "a", p, 8, &n), -ELOOP);
	assert_int_equal(moddb_resolve(d, "c", p, 8, &n), -ELOOP);
	assert_int_equal(moddb_resolve(d, "self", p, 8, &n), -ELOOP);
	expect(d, "ok", "leaf.ko", "ok.ko", NULL);
	moddb_free(d);
}

static void diamond_is_not_a_cycle(void **state)
{
	(void)state;
	static const char t[] = "d.ko: b.ko c.ko\nb.ko: a.ko\nc.ko: a.ko\na.ko:\n";
	struct moddb *d = moddb_parse(t, sizeof(t) - 1, NULL, 0, NULL, 0);
	assert_non_null(d);
	expect(d, "d", "a.ko", "c.ko", "b.ko", "d.ko", NULL);
	moddb_free(d);
}

static void odd_input(void **state)
{
	(void)state;
	/* CRLF, tabs, no final newline, junk lines, duplicates (first wins), NUL bytes */
	static const char t[] =
		"junk without colon\n"
		": no path\n"
		"two words.ko: x.ko\n"
		"\tfirst/dup.ko:\r\n"
		"second/dup.ko: first/dup.ko\n"
		"mod\0x.ko:\n"
		"last.ko:\tfirst/dup.ko";
	static const char a[] = "alias\tq\tlast\r\n";
	struct moddb *d = moddb_parse(t, sizeof(t) - 1, a, sizeof(a) - 1, "\n\n  \n", 5);
	assert_non_null(d);
	expect(d, "dup", "first/dup.ko", NULL);
	expect(d, "last", "first/dup.ko", "last.ko", NULL);
	expect(d, "q", "first/dup.ko", "last.ko", NULL);
	const char *p[4];
	size_t n;
	assert_int_equal(moddb_resolve(d, "two", p, 4, &n), -ENOENT);
	assert_int_equal(moddb_resolve(d, "words", p, 4, &n), -ENOENT);
	moddb_free(d);
}

static void empty_db(void **state)
{
	(void)state;
	struct moddb *d = moddb_parse(NULL, 0, NULL, 0, NULL, 0);
	assert_non_null(d);
	const char *p[4];
	size_t n = 1;
	assert_int_equal(moddb_resolve(d, "dm-crypt", p, 4, &n), -ENOENT);
	assert_int_equal(n, 0);
	assert_false(moddb_is_builtin(d, "dm-crypt"));
	moddb_free(d);
	moddb_free(NULL);
}

static void input_not_terminated(void **state)
{
	(void)state;
	/* the texts are lengths, not C strings: nothing past len is read */
	char *t = malloc(7);
	assert_non_null(t);
	memcpy(t, "a.ko:\nb", 7);
	struct moddb *d = moddb_parse(t, 7, t, 7, NULL, 0);
	free(t);  /* the db keeps its own copies */
	assert_non_null(d);
	expect(d, "a", "a.ko", NULL);
	moddb_free(d);
}

static void many_modules(void **state)
{
	(void)state;
	/* a long chain: load order from the bottom, no deep recursion */
	size_t count = 20000, cap = count * 40, len = 0;
	char *t = malloc(cap);
	assert_non_null(t);
	for (size_t i = 0; i < count; i++)
		len += (size_t)snprintf(t + len, cap - len, i + 1 < count ? "m%zu.ko: m%zu.ko\n" : "m%zu.ko:\n",
					i, i + 1);
	struct moddb *d = moddb_parse(t, len, NULL, 0, NULL, 0);
	free(t);
	assert_non_null(d);
	const char **p = calloc(count, sizeof(*p));
	assert_non_null(p);
	size_t n;
	assert_int_equal(moddb_resolve(d, "m0", p, count, &n), 0);
	assert_int_equal(n, count);
	assert_string_equal(p[0], "m19999.ko");
	assert_string_equal(p[count - 1], "m0.ko");
	free(p);
	moddb_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_from_paths),
		cmocka_unit_test(single_dependency),
		cmocka_unit_test(thin_pool_order),
		cmocka_unit_test(aliases),
		cmocka_unit_test(alias_matching_several),
		cmocka_unit_test(builtin_modules),
		cmocka_unit_test(unknown_names),
		cmocka_unit_test(deps_without_own_line),
		cmocka_unit_test(too_many),
		cmocka_unit_test(recursion_and_dedupe),
		cmocka_unit_test(cycles),
		cmocka_unit_test(diamond_is_not_a_cycle),
		cmocka_unit_test(odd_input),
		cmocka_unit_test(empty_db),
		cmocka_unit_test(input_not_terminated),
		cmocka_unit_test(many_modules),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
