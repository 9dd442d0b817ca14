/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral/record.c: saved-settings record, kernelopts, verdict. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "record.h"

static void roundtrip(void **state)
{
	(void)state;
	struct record r;
	char buf[4096], why[128];
	memset(&r, 0, sizeof(r)); /* padding too: compared with memcmp below */
	r.root_rw = 1, r.volatile_ephemeral = -1;
	r.kernel.was_default = true;
	strcpy(r.kernel.value, "6.1.0");
	strcpy(r.kernelopts.value, "nopat a%b\ttab \x7f");
	int n = record_format(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, "v1 root.rw=1 private.rw=0 volatile.ephemeral=- kernel=default:6.1.0 "
				 "kernelopts=set:nopat%20a%25b%09tab%20%7F dom0-crypt=0");
	for (const char *p = buf; *p; p++) /* qubesd's rule for feature values */
		assert_true(*p >= 0x20 && *p <= 0x7e);
	struct record back;
	assert_int_equal(record_parse(buf, &back, why, sizeof(why)), 0);
	assert_memory_equal(&back, &r, sizeof(r));

	r.volatile_ephemeral = 0, r.dom0_crypt = true, r.kernelopts.value[0] = 0, r.kernelopts.was_default = true;
	record_format(&r, buf, sizeof(buf));
	assert_non_null(strstr(buf, "volatile.ephemeral=0 kernel=default:6.1.0 kernelopts=default: dom0-crypt=1"));
	assert_int_equal(record_parse(buf, &back, why, sizeof(why)), 0);
	assert_int_equal(back.volatile_ephemeral, 0);
	assert_true(back.dom0_crypt);
	assert_string_equal(back.kernelopts.value, "");
	assert_int_equal(record_format(&r, buf, 20), -ENOSPC);
}

static void bad_records(void **state)
{
	(void)state;
	struct record r;
	char why[160];
	const char *good = "v1 root.rw=1 private.rw=1 volatile.ephemeral=- kernel=default:6.1.0 kernelopts=default:nopat dom0-crypt=0";
	assert_int_equal(record_parse(good, &r, why, sizeof(why)), 0);
	assert_int_equal(record_parse("v2 root.rw=1", &r, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "version"));
	assert_int_equal(record_parse("", &r, why, sizeof(why)), -EINVAL);
	assert_int_equal(record_parse("v1 root.rw=1 private.rw=1", &r, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "lacks"));
	const char *broken[] = {
		"v1 root.rw=2 private.rw=1 volatile.ephemeral=- kernel=default:6.1.0 kernelopts=default:nopat dom0-crypt=0",
		"v1 root.rw=1 private.rw=1 volatile.ephemeral=- kernel=maybe:6.1.0 kernelopts=default:nopat dom0-crypt=0",
		"v1 root.rw=1 private.rw=1 volatile.ephemeral=- kernel=set:6%2 kernelopts=default:nopat dom0-crypt=0",
		"v1 root.rw=1 private.rw=1 volatile.ephemeral=- kernel=set:6%00 kernelopts=default:nopat dom0-crypt=0",
		"v1 root.rw=1 private.rw=1 volatile.ephemeral=- kernel=set:6 kernelopts=default:nopat dom0-crypt=0 new=1",
		"v1 root.rw=1 noequals",
	};
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		assert_int_equal(record_parse(broken[i], &r, why, sizeof(why)), -EINVAL);
}

static void kernelopts(void **state)
{
	(void)state;
	char o[64];
	assert_false(kopts_has_flag(""));
	assert_true(kopts_has_flag("qubes.ephemeral=1"));
	assert_true(kopts_has_flag("nopat qubes.ephemeral=1 x"));
	assert_false(kopts_has_flag("qubes.ephemeral=10"));
	assert_false(kopts_has_flag("xqubes.ephemeral=1"));
	assert_false(kopts_has_flag("qubes.ephemeral=0"));
	assert_int_equal(kopts_add_flag("", o, sizeof(o)), 0);
	assert_string_equal(o, "qubes.ephemeral=1");
	assert_int_equal(kopts_add_flag("nopat  console=hvc0 ", o, sizeof(o)), 0);
	assert_string_equal(o, "nopat console=hvc0 qubes.ephemeral=1");
	assert_int_equal(kopts_add_flag("qubes.ephemeral=1 nopat", o, sizeof(o)), 0);
	assert_string_equal(o, "nopat qubes.ephemeral=1");
	assert_int_equal(kopts_remove_flag("nopat qubes.ephemeral=1 qubes.ephemeral.swap=0", o, sizeof(o)), 0);
	assert_string_equal(o, "nopat qubes.ephemeral.swap=0");
	assert_int_equal(kopts_remove_flag("qubes.ephemeral=1", o, sizeof(o)), 0);
	assert_string_equal(o, "");
	assert_int_equal(kopts_add_flag("0123456789", o, 20), -ENOSPC);
}

static void variants(void **state)
{
	(void)state;
	char v[64];
	assert_int_equal(kernel_variant_name("6.1.0", v, sizeof(v)), 0);
	assert_string_equal(v, "6.1.0" VARIANT_SUFFIX);
	/* a variant has no variant; its base is the kernel before the suffix */
	assert_int_equal(kernel_variant_name("6.1.0-ephemeral", v, sizeof(v)), -EINVAL);
	assert_true(kernel_variant_base("6.1.0-ephemeral", v, sizeof(v)));
	assert_string_equal(v, "6.1.0");
	assert_true(kernel_variant_base("6.1.0-ephemeral", NULL, 0));
	assert_false(kernel_variant_base("-ephemeral", NULL, 0));
	assert_false(kernel_variant_base("6.1.0", NULL, 0));
	assert_int_equal(kernel_variant_name("", v, sizeof(v)), -EINVAL);
	assert_int_equal(kernel_variant_name("a/b", v, sizeof(v)), -EINVAL);
	assert_int_equal(kernel_variant_name("6.1.0", v, 8), -ENAMETOOLONG);
}

static void policy(void **state)
{
	(void)state;
	struct policy p = { .on = true, .dom0_crypt = true, .exclude = "a,b-c" }, back;
	char buf[256];
	assert_true(policy_format(&p, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "dom0-crypt=1 exclude=a,b-c");
	assert_int_equal(policy_parse(buf, &back), 0);
	assert_true(back.on && back.dom0_crypt);
	assert_true(policy_excludes(&back, "a"));
	assert_true(policy_excludes(&back, "b-c"));
	assert_false(policy_excludes(&back, "b"));
	assert_int_equal(policy_parse("dom0-crypt=0 exclude=", &back), 0);
	assert_false(policy_excludes(&back, ""));
	assert_false(back.dom0_crypt);
	assert_int_equal(policy_parse("junk", &back), -EINVAL);
	/* a stored list longer than fits is an error, never a cut list */
	char big[PROP_MAX + 64];
	int n = snprintf(big, sizeof(big), "dom0-crypt=0 exclude=");
	memset(big + n, 'x', sizeof(big) - n - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(policy_parse(big, &back), -ENOSPC);
}

static void policy_excludes_list(void **state)
{
	(void)state;
	struct policy p = { .on = true };
	assert_int_equal(policy_add_exclude(&p, "work"), 0);
	assert_int_equal(policy_add_exclude(&p, "work"), 0);
	assert_int_equal(policy_add_exclude(&p, "vault"), 0);
	assert_string_equal(p.exclude, "work,vault");
	assert_int_equal(policy_add_exclude(&p, "a,b"), -EINVAL);
	assert_int_equal(policy_add_exclude(&p, ""), -EINVAL);
	/* fill it: the last name that does not fit is refused whole */
	char name[40];
	int r = 0, i;
	for (i = 0; r == 0; i++) {
		snprintf(name, sizeof(name), "disposable-number-%04d", i);
		r = policy_add_exclude(&p, name);
	}
	assert_int_equal(r, -ENOSPC);
	assert_true(strlen(p.exclude) < sizeof(p.exclude));
	assert_false(policy_excludes(&p, name));
	snprintf(name, sizeof(name), "disposable-number-%04d", i - 2);
	assert_true(policy_excludes(&p, name));
	char text[PROP_MAX + 64];
	struct policy back;
	assert_true(policy_format(&p, text, sizeof(text)) > 0);
	assert_int_equal(policy_parse(text, &back), 0);
	assert_string_equal(back.exclude, p.exclude);
}

static void verdicts(void **state)
{
	(void)state;
	char why[256];
	struct observed all = { .root_rw = false, .private_rw = false, .kernel_variant = true, .flag = true };
	struct observed none = { .root_rw = true, .private_rw = true };
	struct record rec = { .volatile_ephemeral = -1 };
	assert_int_equal(verdict_eval(&all, NULL, why, sizeof(why)), VERDICT_EPHEMERAL);
	assert_string_equal(why, "");
	assert_int_equal(verdict_eval(&all, &rec, why, sizeof(why)), VERDICT_EPHEMERAL);
	assert_int_equal(verdict_eval(&none, NULL, why, sizeof(why)), VERDICT_OFF);
	assert_int_equal(verdict_eval(&none, &rec, why, sizeof(why)), VERDICT_DRIFT);
	struct observed reverted = all;
	reverted.root_rw = reverted.private_rw = true; /* the R4.2 qubesd restart */
	assert_int_equal(verdict_eval(&reverted, &rec, why, sizeof(why)), VERDICT_DRIFT);
	assert_string_equal(why, "root rw, private rw");
	assert_int_equal(verdict_eval(&reverted, NULL, why, sizeof(why)), VERDICT_PARTIAL);
	struct observed gone = all;
	gone.kernel_missing = true;
	assert_int_equal(verdict_eval(&gone, &rec, why, sizeof(why)), VERDICT_DRIFT);
	assert_string_equal(why, "kernel variant missing");
	rec.dom0_crypt = true;
	assert_int_equal(verdict_eval(&all, &rec, why, sizeof(why)), VERDICT_DRIFT);
	assert_string_equal(why, "volatile not ephemeral");
	all.volatile_ephemeral = true;
	assert_int_equal(verdict_eval(&all, &rec, why, sizeof(why)), VERDICT_EPHEMERAL);
	assert_string_equal(verdict_name(VERDICT_PARTIAL), "partial");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip), cmocka_unit_test(bad_records), cmocka_unit_test(kernelopts),
		cmocka_unit_test(variants), cmocka_unit_test(policy), cmocka_unit_test(policy_excludes_list),
		cmocka_unit_test(verdicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
