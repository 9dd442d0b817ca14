/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral/trace_names.c: names in log file names, LVM archives, journal lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "traces.h"

static void test_names(void **state)
{
	(void)state;
	assert_true(trace_valid_name("disp12"));
	assert_true(trace_valid_name("my.vm-1_x"));
	assert_false(trace_valid_name("../etc"));
	assert_false(trace_valid_name("1abc"));
	assert_false(trace_valid_name("vm-dm"));
	assert_false(trace_valid_name("none"));
	assert_false(trace_valid_name("a234567890123456789012345678901x"));
	assert_true(trace_is_disp_name("disp1234"));
	assert_false(trace_is_disp_name("disp"));
	assert_false(trace_is_disp_name("disp12a"));
}

static void test_log_names(void **state)
{
	char n[64];
	bool dm;
	(void)state;
	assert_true(trace_log_name("qrexec.disp7.log.1", "qrexec.", n, sizeof(n), &dm));
	assert_string_equal(n, "disp7");
	assert_false(dm);
	assert_true(trace_log_name("guest-disp7-dm.log", "guest-", n, sizeof(n), &dm));
	assert_string_equal(n, "disp7");
	assert_true(dm);
	assert_true(trace_log_name("guest-disp9.log-20240101.gz", "guest-", n, sizeof(n), &dm));
	assert_true(trace_log_name("qrexec.a.log.log", "qrexec.", n, sizeof(n), &dm));
	assert_string_equal(n, "a.log");
	assert_false(trace_log_name("qrexec.disp10.log.bak", "qrexec.", n, sizeof(n), &dm));
	assert_false(trace_log_name("guid.disp7.log", "qrexec.", n, sizeof(n), &dm));
	assert_false(trace_log_name("qrexec..log", "qrexec.", n, sizeof(n), &dm));
}

static void test_lvm(void **state)
{
	char n[64];
	(void)state;
	assert_true(trace_lvm_volume_qube("vm-disp7-root-snap", n, sizeof(n)));
	assert_string_equal(n, "disp7");
	assert_true(trace_lvm_volume_qube("vm-my-private-vm-private-1700000000-back", n, sizeof(n)));
	assert_string_equal(n, "my-private-vm");
	assert_true(trace_lvm_volume_qube("vm-work-volatile", n, sizeof(n)));
	assert_false(trace_lvm_volume_qube("vm-work-kernel", n, sizeof(n)));
	assert_false(trace_lvm_volume_qube("pool00", n, sizeof(n)));
}

static void count(const char *name, void *ctx)
{
	(void)name;
	(*(int *)ctx)++;
}

static void test_lvm_text(void **state)
{
	int n = 0;
	(void)state;
	trace_lvm_qubes("description = \"lvremove qubes_dom0/vm-disp7-volatile\"\n\t\tvm-disp7-root-snap {\n"
			"\t\tpool00 {\n\t\tnotvm-x-root {\n", count, &n);
	assert_int_equal(n, 2);
}

static void test_lines(void **state)
{
	(void)state;
	assert_true(trace_line_names("vm.disp7: Starting disp7", "disp7"));
	assert_true(trace_line_names("Starting disp7.", "disp7"));
	assert_false(trace_line_names("Starting disp70", "disp7"));
	assert_false(trace_line_names("x-disp7 y", "disp7"));
	assert_false(trace_line_names("disp7.x", "disp7"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names), cmocka_unit_test(test_log_names), cmocka_unit_test(test_lvm),
		cmocka_unit_test(test_lvm_text), cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
