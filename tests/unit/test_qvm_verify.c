/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qvm-ephemeral/verify.c: judging the guest's ephemeral-status output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "verify.h"

static const char good[] =
	"mode:     ephemeral\n"
	"crypt:    aes-xts-plain64 over /dev/xvdc, 512-byte sectors\n"
	"key:      held by the kernel only (table shows a keyring reference, no key bytes); no longer in any keyring\n"
	"stack:    / = dmroot (thin, origin /dev/xvda3) -> ephemeral-pool -> ephemeral-crypt\n"
	"          private = ephemeral-private (thin, origin /dev/xvdb) -> ephemeral-pool -> ephemeral-crypt\n"
	"origins:  root read-only, private read-only (were writable at boot: root yes, private yes; forced read-only)\n"
	"swap:     /dev/dm-1 (encrypted slice), 0 of 1048572 KiB used\n"
	"pool:     data 1.0% used (1 of 2 bytes), metadata 0.1% used\n"
	"memory:   Xen balloon scrubbing on (scrub_pages = 1); kernel zeroes pages on alloc: on, on free: off\n"
	"verdict:  ephemeral\n";

static void all_pass(void **state)
{
	(void)state;
	struct verify_result v;
	verify_judge(good, 0, &v);
	assert_true(v.root.pass && v.private.pass && v.swap.pass && v.memory.pass && v.guest_ok);
	assert_string_equal(v.verdict, "ephemeral");
	assert_non_null(strstr(v.root.reason, "aes-xts-plain64"));
}

static void replace(char *buf, size_t n, const char *from, const char *to)
{
	char tmp[2048];
	char *p = strstr(good, from) ? (char *)strstr(good, from) : NULL;
	assert_non_null(p);
	snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
	snprintf(buf, n, "%s", tmp);
}

static void failures(void **state)
{
	(void)state;
	struct verify_result v;
	char b[2048];
	replace(b, sizeof(b), "private read-only", "private WRITABLE");
	verify_judge(b, 1, &v);
	assert_true(v.root.pass);
	assert_false(v.private.pass);
	assert_non_null(strstr(v.private.reason, "private origin"));

	replace(b, sizeof(b), "(encrypted slice)", "(NOT ours)");
	verify_judge(b, 0, &v);
	assert_false(v.swap.pass);

	replace(b, sizeof(b), "/dev/dm-1 (encrypted slice), 0 of 1048572 KiB used", "none active");
	verify_judge(b, 0, &v);
	assert_true(v.swap.pass);

	replace(b, sizeof(b), "crypt:    aes-xts-plain64 over /dev/xvdc, 512-byte sectors", "crypt:    no ephemeral-crypt device");
	verify_judge(b, 1, &v);
	assert_false(v.root.pass || v.private.pass);
	assert_non_null(strstr(v.root.reason, "not under dm-crypt"));

	replace(b, sizeof(b), "no longer in any keyring", "STILL IN A KEYRING");
	verify_judge(b, 1, &v);
	assert_false(v.root.pass);

	replace(b, sizeof(b), "mode:     ephemeral", "mode:     stock");
	verify_judge(b, 1, &v);
	assert_non_null(strstr(v.private.reason, "not booted in ephemeral mode"));

	/* the verdict of a guest that proves its swap is not ours */
	replace(b, sizeof(b), "verdict:  ephemeral", "verdict:  NOT ephemeral: swap on 202:33 is not on ephemeral-crypt");
	verify_judge(b, 1, &v);
	assert_false(v.swap.pass);
	assert_true(v.root.pass);

	replace(b, sizeof(b), "Xen balloon scrubbing on (scrub_pages = 1)", "Xen balloon scrubbing OFF (scrub_pages = 0)");
	verify_judge(b, 1, &v);
	assert_false(v.memory.pass);
	assert_non_null(strstr(v.memory.reason, "not wiped"));

	replace(b, sizeof(b), "Xen balloon scrubbing on (scrub_pages = 1)", "Xen balloon scrubbing absent (no Xen balloon driver)");
	verify_judge(b, 0, &v);
	assert_true(v.memory.pass);

	replace(b, sizeof(b), "memory:   Xen balloon scrubbing on (scrub_pages = 1); kernel zeroes pages on alloc: on, on free: off\n", "");
	verify_judge(b, 0, &v);
	assert_false(v.memory.pass);
	assert_non_null(strstr(v.memory.reason, "kernel sync"));

	verify_judge("", 127, &v);
	assert_false(v.root.pass || v.private.pass || v.swap.pass || v.guest_ok);
	assert_non_null(strstr(v.verdict, "no verdict line"));
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(all_pass), cmocka_unit_test(failures) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
