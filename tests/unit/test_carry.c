/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/carry.c: which modules a kernel variant carries, and their modules.dep. */
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

#include "appender.h"
#include "carry.h"

/* a slice of Debian 6.1's modules.dep, with modules we must not carry */
static const char dep[] =
	"kernel/arch/x86/crypto/aesni-intel.ko: kernel/crypto/crypto_simd.ko kernel/crypto/cryptd.ko\n"
	"kernel/crypto/cryptd.ko:\n"
	"kernel/crypto/crypto_simd.ko: kernel/crypto/cryptd.ko\n"
	"kernel/crypto/xts.ko:\n"
	"kernel/crypto/ecb.ko:\n"
	"kernel/lib/libcrc32c.ko:\n"
	"kernel/drivers/md/dm-mod.ko:\n"
	"kernel/drivers/md/dm-crypt.ko: kernel/drivers/md/dm-mod.ko\n"
	"kernel/drivers/md/dm-snapshot.ko: kernel/drivers/md/dm-bufio.ko kernel/drivers/md/dm-mod.ko\n"
	"kernel/drivers/md/dm-bufio.ko: kernel/drivers/md/dm-mod.ko\n"
	"kernel/drivers/md/dm-bio-prison.ko: kernel/drivers/md/dm-mod.ko\n"
	"kernel/drivers/md/persistent-data/dm-persistent-data.ko: kernel/drivers/md/dm-bufio.ko "
	"kernel/drivers/md/dm-mod.ko kernel/lib/libcrc32c.ko\n"
	"kernel/drivers/md/dm-thin-pool.ko: kernel/drivers/md/persistent-data/dm-persistent-data.ko "
	"kernel/drivers/md/dm-bio-prison.ko kernel/drivers/md/dm-bufio.ko kernel/drivers/md/dm-mod.ko "
	"kernel/lib/libcrc32c.ko\n"
	"kernel/drivers/block/xen-blkfront.ko:\n"
	"kernel/fs/overlayfs/overlay.ko";   /* a last line without its newline */

static size_t index_of(const char **paths, size_t n, const char *p)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(paths[i], p) == 0)
			return i;
	fail_msg("%s is not carried", p);
	return 0;
}

static void test_closure_in_load_order(void **state)
{
	(void)state;
	struct moddb *db = moddb_parse(dep, strlen(dep), NULL, 0, NULL, 0);
	const char *paths[CARRY_MAX];
	size_t n, missing;

	assert_int_equal(carry_list(db, paths, &n, &missing), 0);
	assert_int_equal(missing, 0);
	assert_int_equal(n, 12);
	/* every dependency before its user, each file once */
	assert_true(index_of(paths, n, "kernel/drivers/md/dm-mod.ko") <
		    index_of(paths, n, "kernel/drivers/md/dm-crypt.ko"));
	assert_true(index_of(paths, n, "kernel/crypto/cryptd.ko") <
		    index_of(paths, n, "kernel/crypto/crypto_simd.ko"));
	assert_true(index_of(paths, n, "kernel/crypto/crypto_simd.ko") <
		    index_of(paths, n, "kernel/arch/x86/crypto/aesni-intel.ko"));
	assert_true(index_of(paths, n, "kernel/drivers/md/persistent-data/dm-persistent-data.ko") <
		    index_of(paths, n, "kernel/drivers/md/dm-thin-pool.ko"));
	index_of(paths, n, "kernel/crypto/xts.ko");
	index_of(paths, n, "kernel/crypto/ecb.ko");
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(paths[i], paths[j]);
	for (size_t i = 0; i < n; i++) {
		assert_null(strstr(paths[i], "snapshot"));
		assert_null(strstr(paths[i], "blkfront"));
	}
	moddb_free(db);
}

static void test_builtin_and_absent_left_out(void **state)
{
	(void)state;
	/* dm-mod built in, no AES-NI module (another architecture), no ecb */
	static const char d[] = "kernel/drivers/md/dm-crypt.ko:\n"
				"kernel/crypto/xts.ko:\n"
				"kernel/drivers/md/dm-thin-pool.ko:\n";
	static const char builtin[] = "kernel/drivers/md/dm-mod.ko\n";
	struct moddb *db = moddb_parse(d, strlen(d), NULL, 0, builtin, strlen(builtin));
	const char *paths[CARRY_MAX];
	size_t n, missing;

	assert_int_equal(carry_list(db, paths, &n, &missing), 0);
	assert_int_equal(n, 3);
	assert_int_equal(missing, 2);   /* aesni-intel, ecb */
	moddb_free(db);
}

static void test_depfile_keeps_only_carried_lines(void **state)
{
	(void)state;
	struct moddb *db = moddb_parse(dep, strlen(dep), NULL, 0, NULL, 0);
	const char *paths[CARRY_MAX];
	size_t n, missing, len;
	char *out;

	assert_int_equal(carry_list(db, paths, &n, &missing), 0);
	assert_int_equal(carry_depfile(dep, strlen(dep), paths, n, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	assert_non_null(strstr(out, "kernel/drivers/md/dm-crypt.ko: kernel/drivers/md/dm-mod.ko\n"));
	assert_non_null(strstr(out, "kernel/drivers/md/dm-thin-pool.ko: kernel/drivers/md/persistent-data/"));
	assert_null(strstr(out, "dm-snapshot.ko:"));
	assert_null(strstr(out, "xen-blkfront"));
	assert_null(strstr(out, "overlay"));
	/* one line per carried module: the file parses back to the same closure */
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += out[i] == '\n';
	assert_int_equal(lines, n);
	struct moddb *back = moddb_parse(out, len, NULL, 0, NULL, 0);
	const char *again[CARRY_MAX];
	size_t n2, missing2;
	assert_int_equal(carry_list(back, again, &n2, &missing2), 0);
	assert_int_equal(n2, n);
	assert_int_equal(missing2, 0);
	moddb_free(back);
	free(out);
	moddb_free(db);
}

static void test_depfile_last_line_without_newline(void **state)
{
	(void)state;
	static const char d[] = "kernel/a.ko:\nkernel/drivers/md/dm-mod.ko:";
	const char *paths[] = { "kernel/drivers/md/dm-mod.ko" };
	size_t len;
	char *out;

	assert_int_equal(carry_depfile(d, strlen(d), paths, 1, &out, &len), 0);
	assert_string_equal(out, "kernel/drivers/md/dm-mod.ko:\n");
	free(out);
}

/* the carried folder must not be under a merged-/usr symlink (lib -> usr/lib):
 * our folder entry "lib" would replace it and /lib/modules would be gone */
static void test_carried_folder_is_safe_to_append(void **state)
{
	(void)state;
	assert_true(append_dest_safe(CARRIED_MODULES_REL "/modules.dep"));
	assert_false(append_dest_safe("lib/qubes-ephemeral/modules/modules.dep"));
	assert_false(append_dest_safe("sbin/x"));
	assert_false(append_dest_safe("lib64/x"));
	assert_true(append_dest_safe("library/x"));
	assert_true(append_dest_safe("lib"));   /* a top-level file: no folder entry */
	const struct append_file f = { "lib/modules/x.ko", "x", 1, 0644, false };
	const struct append_payload p = { .init = "i", .init_len = 1, .version = "v", .extra = &f, .nextra = 1 };
	char *buf;
	size_t len;
	assert_int_equal(append_cpio(&p, &buf, &len), -EXDEV);
	assert_null(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closure_in_load_order),
		cmocka_unit_test(test_builtin_and_absent_left_out),
		cmocka_unit_test(test_depfile_keeps_only_carried_lines),
		cmocka_unit_test(test_depfile_last_line_without_newline),
		cmocka_unit_test(test_carried_folder_is_safe_to_append),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
