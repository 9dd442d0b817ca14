/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/unitname.c: unit names as `systemd-escape --path --suffix=...` makes them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "unitname.h"

static void name(const char *path, const char *want)
{
	char out[128];
	assert_int_equal(unit_name_from_path(path, "swap", out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

/* each expectation is what systemd-escape --path --suffix=swap printed */
static void like_systemd_escape(void **state)
{
	(void)state;
	name("/dev/xvdc1", "dev-xvdc1.swap");
	name("/dev/vdc1", "dev-vdc1.swap");
	name("/dev/my-disk1", "dev-my\\x2ddisk1.swap");
	name("/dev/a.b", "dev-a.b.swap");
	name("//dev//x/", "dev-x.swap");
	name("/dev/.hidden", "dev-.hidden.swap");
	name("/dev/sp ace", "dev-sp\\x20ace.swap");
	name("/.x", "\\x2ex.swap");
}

static void refused(void **state)
{
	(void)state;
	char out[16];
	assert_int_equal(unit_name_from_path("dev/x", "swap", out, sizeof(out)), -EINVAL);
	assert_int_equal(unit_name_from_path("/", "swap", out, sizeof(out)), -EINVAL);
	assert_int_equal(unit_name_from_path("/dev/a-very-long-name", "swap", out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(unit_name_from_path("/dev/xvdc1", "swap", out, 14), -ENAMETOOLONG);
	assert_int_equal(unit_name_from_path("/dev/xvdc1", "swap", out, 15), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(like_systemd_escape), cmocka_unit_test(refused) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
