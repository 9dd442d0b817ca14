/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/cmdline.c: the kernel command line options. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmdline.h"
#include "layout.h"

static char err[512];

static int parse(const char *s, struct options *o)
{
	memset(err, 'x', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	return cmdline_parse(s, o, err, sizeof(err));
}

/* Parses s, expects -EINVAL and a message holding `want`. */
static void assert_refused(const char *s, const char *want)
{
	struct options o;
	int r = parse(s, &o);
	if (r != -EINVAL || !strstr(err, want) || strchr(err, '\n'))
		fail_msg("\"%s\": r=%d err=\"%s\", wanted -EINVAL with \"%s\"", s, r, err, want);
}

static void defaults(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("", &o), 0);
	assert_string_equal(err, "");
	assert_false(o.ephemeral);
	assert_true(o.swap_bytes == CMDLINE_DEFAULT_SWAP);
	assert_string_equal(o.disk_root, "xvda");
	assert_string_equal(o.disk_private, "xvdb");
	assert_string_equal(o.disk_volatile, "xvdc");
	assert_string_equal(o.disk_modules, "xvdd");
	assert_int_equal(o.timeout_s, CMDLINE_DEFAULT_TIMEOUT_S);
	assert_true(o.root_ro);
	assert_string_equal(o.init, "/sbin/init");
	assert_string_equal(o.rootfstype, "");
	assert_string_equal(o.rootflags, "");
	assert_false(o.test_any);
	assert_false(o.test_plain);
	assert_false(o.test_keyhash);
	assert_int_equal(o.test_fail, FAIL_NONE);
	/* NULL text: defaults too */
	assert_int_equal(cmdline_parse(NULL, &o, err, sizeof(err)), 0);
	assert_string_equal(o.init, "/sbin/init");
}

static void real_qubes_line(void **state)
{
	(void)state;
	struct options o;
	const char *line = "root=/dev/mapper/dmroot ro nomodeset console=hvc0 rd_NO_PLYMOUTH "
			   "rd.plymouth.enable=0 plymouth.enable=0 xen_scrub_pages=0 "
			   "qubes.ephemeral=1 qubes.ephemeral.swap=2G\n";
	assert_int_equal(parse(line, &o), 0);
	assert_true(o.ephemeral);
	assert_true(o.swap_bytes == (UINT64_C(2) << 30));
	assert_true(o.root_ro);
	assert_false(o.test_any);
}

static void ephemeral_flag(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("qubes.ephemeral=1", &o), 0);
	assert_true(o.ephemeral);
	assert_int_equal(parse("qubes.ephemeral=1 qubes.ephemeral=0", &o), 0);
	assert_false(o.ephemeral);
	assert_refused("qubes.ephemeral=yes", "bad value in \"qubes.ephemeral=yes\"");
	assert_refused("qubes.ephemeral=", "bad value");
	assert_refused("qubes.ephemeral=2", "0 (off) or 1 (on)");
}

static void swap_sizes(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("qubes.ephemeral.swap=0", &o), 0);
	assert_true(o.swap_bytes == 0);
	assert_int_equal(parse("qubes.ephemeral.swap=512M", &o), 0);
	assert_true(o.swap_bytes == (UINT64_C(512) << 20));
	assert_int_equal(parse("qubes.ephemeral.swap=64K", &o), 0);
	assert_true(o.swap_bytes == 65536);
	assert_int_equal(parse("qubes.ephemeral.swap=1T", &o), 0);
	assert_true(o.swap_bytes == (UINT64_C(1) << 40));
	/* rounded up to whole 4 KiB pages */
	assert_int_equal(parse("qubes.ephemeral.swap=100001", &o), 0);
	assert_true(o.swap_bytes == 102400);
	assert_int_equal(parse("qubes.ephemeral.swap=65537", &o), 0);
	assert_true(o.swap_bytes == 65536 + 4096);
	assert_refused("qubes.ephemeral.swap=65535", "at least 64K");  /* the request counts, not its rounding */
	assert_refused("qubes.ephemeral.swap=12Q",
		       "bad value in \"qubes.ephemeral.swap=12Q\": SIZE is a number with an "
		       "optional K, M, G or T suffix, e.g. 1G or 0");
	assert_refused("qubes.ephemeral.swap=63K", "at least 64K");
	assert_refused("qubes.ephemeral.swap=1", "at least 64K");
	assert_refused("qubes.ephemeral.swap=", "SIZE is a number");
	assert_refused("qubes.ephemeral.swap=-1G", "SIZE is a number");
	assert_refused("qubes.ephemeral.swap=1GiB", "SIZE is a number");
	assert_refused("qubes.ephemeral.swap=16777216T", "SIZE is a number");      /* 2^64 */
	assert_refused("qubes.ephemeral.swap=18446744073709551615", "SIZE is a number"); /* no room to round */
	assert_refused("qubes.ephemeral.swap=99999999999999999999999", "SIZE is a number");
}

static void parse_size_direct(void **state)
{
	(void)state;
	uint64_t v = 7;
	assert_int_equal(parse_size("0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(parse_size("007", &v), 0);
	assert_true(v == 7);
	assert_int_equal(parse_size("3k", &v), 0);
	assert_true(v == 3072);
	assert_int_equal(parse_size("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_size("16777215T", &v), 0);
	assert_true(v == (UINT64_C(16777215) << 40));
	v = 7;
	assert_int_equal(parse_size("18446744073709551616", &v), -EINVAL);
	assert_int_equal(parse_size("16777216T", &v), -EINVAL);
	assert_int_equal(parse_size("", &v), -EINVAL);
	assert_int_equal(parse_size("G", &v), -EINVAL);
	assert_int_equal(parse_size(" 1", &v), -EINVAL);
	assert_int_equal(parse_size("1 ", &v), -EINVAL);
	assert_int_equal(parse_size("1GG", &v), -EINVAL);
	assert_int_equal(parse_size("+1", &v), -EINVAL);
	assert_int_equal(parse_size("0x10", &v), -EINVAL);
	assert_true(v == 7);  /* untouched on error */
}

static void disks(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("qubes.ephemeral.disks=vda,vdb,vdc,nvme0n1", &o), 0);
	assert_string_equal(o.disk_root, "vda");
	assert_string_equal(o.disk_private, "vdb");
	assert_string_equal(o.disk_volatile, "vdc");
	assert_string_equal(o.disk_modules, "nvme0n1");
	/* 31 characters fit, 32 do not */
	assert_int_equal(parse("qubes.ephemeral.disks=a,b,c,abcdefghijklmnopqrstuvwxyz_-012", &o), 0);
	assert_string_equal(o.disk_modules, "abcdefghijklmnopqrstuvwxyz_-012");
	assert_refused("qubes.ephemeral.disks=a,b,c,abcdefghijklmnopqrstuvwxyz_-0123", "at most 31");
	assert_refused("qubes.ephemeral.disks=a,b,c", "four names");
	assert_refused("qubes.ephemeral.disks=a,b,c,d,e", "four names");
	assert_refused("qubes.ephemeral.disks=a,,c,d", "four names");
	assert_refused("qubes.ephemeral.disks=a,b,c,", "four names");
	assert_refused("qubes.ephemeral.disks=,b,c,d", "four names");
	assert_refused("qubes.ephemeral.disks=a,b,c,../d", "four names");
	assert_refused("qubes.ephemeral.disks=a,b,c,d/e", "four names");
	assert_refused("qubes.ephemeral.disks=", "four names");
	/* a refused value leaves the earlier (good) one in place: all or nothing */
	assert_int_equal(parse("qubes.ephemeral.disks=p,q,r,s", &o), 0);
	assert_int_equal(parse("qubes.ephemeral.disks=p,q,r,s qubes.ephemeral.disks=w,x,y", &o), -EINVAL);
	assert_string_equal(o.disk_root, "p");
	assert_string_equal(o.disk_volatile, "r");
}

static void timeout(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("qubes.ephemeral.timeout=1", &o), 0);
	assert_int_equal(o.timeout_s, 1);
	assert_int_equal(parse("qubes.ephemeral.timeout=3600", &o), 0);
	assert_int_equal(o.timeout_s, 3600);
	assert_int_equal(parse("qubes.ephemeral.timeout=0090", &o), 0);
	assert_int_equal(o.timeout_s, 90);
	assert_refused("qubes.ephemeral.timeout=0", "from 1 to 3600");
	assert_refused("qubes.ephemeral.timeout=3601", "from 1 to 3600");
	assert_refused("qubes.ephemeral.timeout=99999999999999999999", "from 1 to 3600");
	assert_refused("qubes.ephemeral.timeout=10s", "from 1 to 3600");
	assert_refused("qubes.ephemeral.timeout=", "from 1 to 3600");
	assert_refused("qubes.ephemeral.timeout=-5", "from 1 to 3600");
}

static void watchdog(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("", &o), 0);
	assert_int_equal(o.watchdog_s, CMDLINE_DEFAULT_WATCHDOG_S);
	assert_int_equal(parse("qubes.ephemeral.watchdog=5", &o), 0);
	assert_int_equal(o.watchdog_s, 5);
	assert_int_equal(parse("qubes.ephemeral.watchdog=3600", &o), 0);
	assert_int_equal(o.watchdog_s, 3600);
	assert_refused("qubes.ephemeral.watchdog=4", "from 5 to 3600");
	assert_refused("qubes.ephemeral.watchdog=0", "from 5 to 3600");
	assert_refused("qubes.ephemeral.watchdog=3601", "from 5 to 3600");
	assert_refused("qubes.ephemeral.watchdog=x", "from 5 to 3600");
}

static void test_hang_option(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("qubes.ephemeral.test.hang=modules", &o), 0);
	assert_string_equal(o.test_hang, "modules");
	assert_true(o.test_any);
	assert_refused("qubes.ephemeral.test.hang=forever", "use one of the steps");
}

static void test_options(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("qubes.ephemeral.test.plain=1", &o), 0);
	assert_true(o.test_any);
	assert_true(o.test_plain);
	assert_false(o.test_keyhash);
	assert_int_equal(parse("qubes.ephemeral.test.plain=0", &o), 0);
	assert_true(o.test_any);  /* given at all counts */
	assert_false(o.test_plain);
	assert_int_equal(parse("qubes.ephemeral.test.keyhash=1", &o), 0);
	assert_true(o.test_any);
	assert_true(o.test_keyhash);

	static const struct { const char *word; enum fail_step step; } steps[] = {
		{ "readonly", FAIL_READONLY }, { "key", FAIL_KEY }, { "crypt", FAIL_CRYPT }, { "pool", FAIL_POOL },
		{ "thin", FAIL_THIN }, { "swapon", FAIL_SWAPON }, { "mount", FAIL_MOUNT },
		{ "switch_root", FAIL_SWITCH_ROOT },
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "qubes.ephemeral.test.fail=%s", steps[i].word);
		assert_int_equal(parse(line, &o), 0);
		assert_true(o.test_any);
		assert_int_equal(o.test_fail, steps[i].step);
		assert_string_equal(fail_step_name(steps[i].step), steps[i].word);
	}
	assert_refused("qubes.ephemeral.test.fail=none", "use one of readonly, key, crypt");
	assert_refused("qubes.ephemeral.test.fail=KEY", "use one of");
	assert_refused("qubes.ephemeral.test.plain=on", "use 0 or 1");
	assert_refused("qubes.ephemeral.test.keyhash=", "use 0 or 1");
	assert_string_equal(fail_step_name(FAIL_NONE), "none");
	assert_string_equal(fail_step_name((enum fail_step)99), "?");
}

static void crypt_flags(void **state)
{
	struct options o;
	(void)state;
	assert_int_equal(parse("qubes.ephemeral=1", &o), 0);
	assert_int_equal(o.crypt_flags, 0);
	assert_int_equal(parse("qubes.ephemeral.crypt_flags=no_read_workqueue,no_write_workqueue", &o), 0);
	assert_int_equal(o.crypt_flags, CRYPT_NO_READ_WORKQUEUE | CRYPT_NO_WRITE_WORKQUEUE);
	assert_int_equal(parse("qubes.ephemeral.crypt_flags=sector512", &o), 0);
	assert_int_equal(o.crypt_flags, CRYPT_SECTOR_512);
	assert_int_equal(parse("qubes.ephemeral.crypt_flags=same_cpu_crypt,submit_from_crypt_cpus,"
			       "sector512,no_write_workqueue,no_read_workqueue", &o), 0);
	assert_int_equal(o.crypt_flags, CRYPT_SAME_CPU_CRYPT | CRYPT_SUBMIT_FROM_CRYPT_CPUS |
			 CRYPT_SECTOR_512 | CRYPT_NO_WRITE_WORKQUEUE | CRYPT_NO_READ_WORKQUEUE);
	/* the last word wins, as for every option; none clears */
	assert_int_equal(parse("qubes.ephemeral.crypt_flags=sector512 qubes.ephemeral.crypt_flags=none", &o), 0);
	assert_int_equal(o.crypt_flags, 0);
	assert_refused("qubes.ephemeral.crypt_flags=", "separated by commas");
	assert_refused("qubes.ephemeral.crypt_flags=none,sector512", "separated by commas");
	assert_refused("qubes.ephemeral.crypt_flags=sector512,", "separated by commas");
	assert_refused("qubes.ephemeral.crypt_flags=,sector512", "separated by commas");
	assert_refused("qubes.ephemeral.crypt_flags=sector512,sector512", "each once");
	assert_refused("qubes.ephemeral.crypt_flags=no_read_workqueueX", "separated by commas");
	assert_refused("qubes.ephemeral.crypt_flags=no_read", "separated by commas");
	assert_refused("qubes.ephemeral.crypt_flags=allow_discards", "separated by commas");
	assert_refused("qubes.ephemeral.crypt_flags=NO_READ_WORKQUEUE", "separated by commas");
	/* one bad word refuses the whole value */
	assert_int_equal(cmdline_parse("qubes.ephemeral.crypt_flags=sector512 qubes.ephemeral.crypt_flags=sector512,bad",
				       &o, NULL, 0), -EINVAL);
}

static void unknown_ours(void **state)
{
	(void)state;
	assert_refused("qubes.ephemeral.foo=1",
		       "unknown option \"qubes.ephemeral.foo=1\"; known: qubes.ephemeral=0|1, "
		       "qubes.ephemeral.swap=SIZE, qubes.ephemeral.disks=ROOT,PRIVATE,VOLATILE,MODULES, "
		       "qubes.ephemeral.timeout=SECONDS, qubes.ephemeral.watchdog=SECONDS, qubes.ephemeral.crypt_flags=WORD[,WORD...]");
	assert_refused("qubes.ephemeral", "unknown option \"qubes.ephemeral\"");
	assert_refused("qubes.ephemeralX=1", "unknown option \"qubes.ephemeralX=1\"");
	assert_refused("qubes.ephemeral.swap", "unknown option \"qubes.ephemeral.swap\"");
	assert_refused("qubes.ephemeral.test=1", "unknown option");
	assert_refused("qubes.ephemeral.test.failx=key", "unknown option");
	assert_refused("ro qubes.ephemeral=1 qubes.ephemeral.Swap=1G", "unknown option");
	/* the message fits one line even in a small buffer */
	struct options o;
	char small[16];
	assert_int_equal(cmdline_parse("qubes.ephemeral.foo=1", &o, small, sizeof(small)), -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(cmdline_parse("qubes.ephemeral.foo=1", &o, NULL, 0), -EINVAL);
}

static void others_ignored(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("qubes.other=1 xqubes.ephemeral=1 QUBES.EPHEMERAL=1 "
			       "rd.qubes.ephemeral=1 quiet splash=\"x y\" init2=/x", &o), 0);
	assert_false(o.ephemeral);
	assert_string_equal(o.init, "/sbin/init");
}

static void standard_options(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("rw", &o), 0);
	assert_false(o.root_ro);
	assert_int_equal(parse("rw ro", &o), 0);
	assert_true(o.root_ro);
	assert_int_equal(parse("ro rw", &o), 0);
	assert_false(o.root_ro);
	assert_int_equal(parse("rwx", &o), 0);
	assert_true(o.root_ro);
	assert_int_equal(parse("init=/usr/lib/systemd/systemd rootfstype=xfs rootflags=discard,noatime", &o), 0);
	assert_string_equal(o.init, "/usr/lib/systemd/systemd");
	assert_string_equal(o.rootfstype, "xfs");
	assert_string_equal(o.rootflags, "discard,noatime");
	assert_int_equal(parse("rootfstype= rootflags=", &o), 0);
	assert_string_equal(o.rootfstype, "");
	assert_refused("init=", "init= needs");
}

static void too_long(void **state)
{
	(void)state;
	struct options o;
	char line[2048];

	/* init= holds 255 characters, not 256 */
	snprintf(line, sizeof(line), "init=/%0254d", 0);
	assert_int_equal(parse(line, &o), 0);
	assert_int_equal(strlen(o.init), 255);
	snprintf(line, sizeof(line), "init=/%0255d", 0);
	assert_refused(line, "init= value too long (at most 255 characters)");
	snprintf(line, sizeof(line), "rootflags=%01500d", 0);
	assert_refused(line, "rootflags= value too long");
	snprintf(line, sizeof(line), "rootfstype=%031d", 0);
	assert_int_equal(parse(line, &o), 0);
	snprintf(line, sizeof(line), "rootfstype=%032d", 0);
	assert_refused(line, "rootfstype= value too long (at most 31");
	/* one of ours, longer than any word buffer: refused, not cut and taken */
	snprintf(line, sizeof(line), "qubes.ephemeral.swap=%01800d", 0);
	assert_refused(line, "bad value in \"qubes.ephemeral.swap=000");
	snprintf(line, sizeof(line), "qubes.ephemeral=%01800d", 1);
	assert_refused(line, "bad value");
	/* a long word that is not ours is simply skipped */
	snprintf(line, sizeof(line), "foo=%01800d qubes.ephemeral=1", 0);
	assert_int_equal(parse(line, &o), 0);
	assert_true(o.ephemeral);
}

static void quoting(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("rootflags=\"a b,c\" qubes.ephemeral=\"1\"", &o), 0);
	assert_string_equal(o.rootflags, "a b,c");
	assert_true(o.ephemeral);
	assert_int_equal(parse("\"qubes.ephemeral=1\"", &o), 0);
	assert_true(o.ephemeral);
	assert_int_equal(parse("init=\"/sbin/my init\"", &o), 0);
	assert_string_equal(o.init, "/sbin/my init");
	/* a quoted space does not end the word, so this is one bad word */
	assert_refused("qubes.ephemeral.swap=\"1G ro\"", "bad value in \"qubes.ephemeral.swap=1G ro\"");
	/* an empty quoted word does not stop the parse */
	assert_int_equal(parse("\"\" qubes.ephemeral=1", &o), 0);
	assert_true(o.ephemeral);
	/* a newline inside quotes stays in the word, but never in the message */
	assert_refused("qubes.ephemeral.foo=\"a\nb\"", "unknown option \"qubes.ephemeral.foo=a?b\"");
	/* an unclosed quote runs to the end */
	assert_int_equal(parse("rootflags=\"x y", &o), 0);
	assert_string_equal(o.rootflags, "x y");
}

static void whitespace(void **state)
{
	(void)state;
	struct options o;
	assert_int_equal(parse("  \t qubes.ephemeral=1\t\trw  \n", &o), 0);
	assert_true(o.ephemeral);
	assert_false(o.root_ro);
	assert_int_equal(parse("\n", &o), 0);
	assert_false(o.ephemeral);
	assert_int_equal(parse("qubes.ephemeral.timeout=5\r\n", &o), 0);
	assert_int_equal(o.timeout_s, 5);
}

static void after_double_dash(void **state)
{
	(void)state;
	struct options o;
	/* as the kernel: these are init's arguments, not options */
	assert_int_equal(parse("ro -- qubes.ephemeral.foo=1 rw", &o), 0);
	assert_true(o.root_ro);
	assert_int_equal(parse("qubes.ephemeral=1 -- single", &o), 0);
	assert_true(o.ephemeral);
}

static void every_failure_stops_at_first(void **state)
{
	(void)state;
	assert_refused("qubes.ephemeral.timeout=0 qubes.ephemeral.bad=1", "timeout=0");
	assert_refused("qubes.ephemeral.bad=1 qubes.ephemeral.timeout=0", "qubes.ephemeral.bad=1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(real_qubes_line),
		cmocka_unit_test(ephemeral_flag),
		cmocka_unit_test(swap_sizes),
		cmocka_unit_test(parse_size_direct),
		cmocka_unit_test(disks),
		cmocka_unit_test(timeout),
		cmocka_unit_test(test_options),
		cmocka_unit_test(watchdog),
		cmocka_unit_test(test_hang_option),
		cmocka_unit_test(crypt_flags),
		cmocka_unit_test(unknown_ours),
		cmocka_unit_test(others_ignored),
		cmocka_unit_test(standard_options),
		cmocka_unit_test(too_long),
		cmocka_unit_test(quoting),
		cmocka_unit_test(whitespace),
		cmocka_unit_test(after_double_dash),
		cmocka_unit_test(every_failure_stops_at_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
