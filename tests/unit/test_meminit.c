/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/meminit.c: the kernel's page zeroing state from its boot log. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "meminit.h"

static void parse(const char *log, int want_r, int alloc, int free_)
{
	struct meminit m;
	assert_int_equal(meminit_parse(log, strlen(log), &m), want_r);
	assert_int_equal(m.alloc, alloc);
	assert_int_equal(m.free, free_);
}

static void debian_default(void **state)
{
	(void)state;
	parse("<6>[    0.000000] Linux version 6.1.0\n"
	      "<6>[    0.012345] mem auto-init: stack:off, heap alloc:on, heap free:off\n"
	      "<6>[    0.2] Memory: 1000K/2000K available\n", 0, 1, 0);
}

static void qubes_kernel(void **state)
{
	(void)state;
	/* Qubes' kernels also zero on free; newer kernels print "all(zero)" for the stack */
	parse("mem auto-init: stack:all(zero), heap alloc:on, heap free:on", 0, 1, 1);
}

static void switched_off(void **state)
{
	(void)state;
	parse("x\nmem auto-init: stack:off, heap alloc:off, heap free:off\ny", 0, 0, 0);
}

static void last_line_wins(void **state)
{
	(void)state;
	parse("mem auto-init: stack:off, heap alloc:on, heap free:off\n"
	      "mem auto-init: stack:off, heap alloc:off, heap free:on\n", 0, 0, 1);
}

static void missing_or_odd(void **state)
{
	(void)state;
	parse("", -ENOENT, -1, -1);
	parse("nothing here\n", -ENOENT, -1, -1);
	parse("mem auto-init: stack:off", 0, -1, -1);
	parse("mem auto-init: stack:off, heap alloc:maybe, heap free:o", 0, -1, -1);
	parse("mem auto-init:", 0, -1, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(debian_default),
		cmocka_unit_test(qubes_kernel),
		cmocka_unit_test(switched_off),
		cmocka_unit_test(last_line_wins),
		cmocka_unit_test(missing_or_odd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
