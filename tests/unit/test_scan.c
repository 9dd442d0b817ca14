/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/scan.c: numbers and words out of sysfs, /proc and dm status text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "scan.h"

static void numbers(void **state)
{
	(void)state;
	const char *p = "  4096\n";
	uint64_t v = 0;
	assert_int_equal(scan_u64(&p, &v), 0);
	assert_int_equal(v, 4096);
	assert_string_equal(p, "\n");
	/* the largest, and one more */
	p = "18446744073709551615";
	assert_int_equal(scan_u64(&p, &v), 0);
	assert_true(v == UINT64_MAX);
	const char *big = "18446744073709551616";
	p = big;
	assert_int_equal(scan_u64(&p, &v), -ERANGE);
	assert_ptr_equal(p, big);
	/* what scanf would take and the kernel never prints */
	const char *bad[] = { "-1", "+1", "", "   ", "x1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = bad[i];
		assert_int_equal(scan_u64(&p, &v), -EINVAL);
		assert_ptr_equal(p, bad[i]);
	}
	/* digits end at the first non-digit */
	p = "0x10";
	assert_int_equal(scan_u64(&p, &v), 0);
	assert_int_equal(v, 0);
	assert_string_equal(p, "x10");
}

/* a thin-pool status line: transaction, metadata used/total, data used/total */
static void pairs(void **state)
{
	(void)state;
	const char *status = "1 120/4096 3000/163840 - rw discard_passdown queue_if_no_space - 1024";
	const char *p = status;
	uint64_t t, mu, mt, du, dt;
	assert_int_equal(scan_u64(&p, &t), 0);
	assert_int_equal(scan_u64_pair(&p, '/', &mu, &mt), 0);
	assert_int_equal(scan_u64_pair(&p, '/', &du, &dt), 0);
	assert_int_equal(t, 1);
	assert_int_equal(mu, 120);
	assert_int_equal(mt, 4096);
	assert_int_equal(du, 3000);
	assert_int_equal(dt, 163840);
	/* a pair needs both halves and its separator, nothing between */
	const char *bad[] = { "120", "120/", "120 /4096", "120/ 4096", "/4096", "120:4096", "Fail" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = bad[i];
		assert_int_not_equal(scan_u64_pair(&p, '/', &mu, &mt), 0);
		assert_ptr_equal(p, bad[i]);
	}
}

static void devnums(void **state)
{
	(void)state;
	const char *p = "10:236\n";
	unsigned ma = 0, mi = 0;
	assert_int_equal(scan_devnum(&p, &ma, &mi), 0);
	assert_int_equal(ma, 10);
	assert_int_equal(mi, 236);
	assert_string_equal(p, "\n");
	p = "4294967296:0";
	assert_int_equal(scan_devnum(&p, &ma, &mi), -ERANGE);
	p = "253-0";
	assert_int_equal(scan_devnum(&p, &ma, &mi), -EINVAL);
}

static void words(void **state)
{
	(void)state;
	char w[8];
	const char *p = "/dev/xvdc1\tpartition\t1048572 0 -2\n";
	char dev[32];
	assert_int_equal(scan_word(&p, dev, sizeof(dev)), 0);
	assert_string_equal(dev, "/dev/xvdc1");
	/* skipped when no buffer is given */
	assert_int_equal(scan_word(&p, NULL, 0), 0);
	uint64_t size;
	assert_int_equal(scan_u64(&p, &size), 0);
	assert_int_equal(size, 1048572);
	/* exactly fitting with its NUL, one too long: refused, not cut */
	p = "1234567";
	assert_int_equal(scan_word(&p, w, sizeof(w)), 0);
	assert_string_equal(w, "1234567");
	const char *longer = "12345678 rest";
	p = longer;
	assert_int_equal(scan_word(&p, w, sizeof(w)), -ENAMETOOLONG);
	assert_ptr_equal(p, longer);
	/* none left */
	p = " \n";
	assert_int_equal(scan_word(&p, w, sizeof(w)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers),
		cmocka_unit_test(pairs),
		cmocka_unit_test(devnums),
		cmocka_unit_test(words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
