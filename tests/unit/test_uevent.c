/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/uevent.c: the KEY=VALUE text of /sys/class/block/NAME/uevent. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "uevent.h"

#define PARSE(lit, ev) uevent_parse(lit, sizeof(lit) - 1, ev)

static void assert_unset(const struct uevent *ev)
{
	assert_string_equal(ev->devtype, "");
	assert_string_equal(ev->devname, "");
	assert_string_equal(ev->partname, "");
	assert_int_equal(ev->partn, -1);
	assert_int_equal(ev->major, -1);
	assert_int_equal(ev->minor, -1);
}

/* As a 6.1 kernel writes it for a Qubes template's root partition. */
static void partition(void **state)
{
	(void)state;
	struct uevent ev;
	assert_int_equal(PARSE("MAJOR=202\nMINOR=3\nDEVNAME=xvda3\nDEVTYPE=partition\n"
			       "DISKSEQ=1\nPARTN=3\nPARTNAME=Root filesystem\n", &ev), 0);
	assert_int_equal(ev.major, 202);
	assert_int_equal(ev.minor, 3);
	assert_string_equal(ev.devname, "xvda3");
	assert_string_equal(ev.devtype, "partition");
	assert_int_equal(ev.partn, 3);
	assert_string_equal(ev.partname, "Root filesystem");
}

static void disk(void **state)
{
	(void)state;
	struct uevent ev;
	assert_int_equal(PARSE("MAJOR=202\nMINOR=0\nDEVNAME=xvda\nDEVTYPE=disk\nDISKSEQ=1\n", &ev), 0);
	assert_int_equal(ev.major, 202);
	assert_int_equal(ev.minor, 0);
	assert_string_equal(ev.devname, "xvda");
	assert_string_equal(ev.devtype, "disk");
	assert_int_equal(ev.partn, -1);
	assert_string_equal(ev.partname, "");
}

static void empty_and_bad_arguments(void **state)
{
	(void)state;
	struct uevent ev;
	assert_int_equal(uevent_parse(NULL, 0, &ev), 0);
	assert_unset(&ev);
	assert_int_equal(uevent_parse("", 0, &ev), 0);
	assert_unset(&ev);
	assert_int_equal(PARSE("\n\n\n", &ev), 0);
	assert_unset(&ev);
	assert_int_equal(uevent_parse(NULL, 1, &ev), -EINVAL);
	assert_int_equal(uevent_parse("PARTN=3", 7, NULL), -EINVAL);
}

/* Only len bytes are read: no NUL needed, nothing past the end. */
static void length_bounds_the_text(void **state)
{
	(void)state;
	struct uevent ev;
	char *t = malloc(7);
	assert_non_null(t);
	memcpy(t, "PARTN=3", 7);
	assert_int_equal(uevent_parse(t, 7, &ev), 0);
	assert_int_equal(ev.partn, 3);
	assert_int_equal(uevent_parse(t, 6, &ev), -EBADMSG);  /* "PARTN=" */
	assert_int_equal(ev.partn, -1);
	free(t);
	static const char two[] = "PARTN=3\nPARTN=4\n";
	assert_int_equal(uevent_parse(two, 8, &ev), 0);
	assert_int_equal(ev.partn, 3);
}

static void skipped_lines(void **state)
{
	(void)state;
	struct uevent ev;
	assert_int_equal(PARSE("no equals sign\n=\n=value\nFOO=bar\npartn=4\nPARTN =5\n PARTN=6\nPARTN\n", &ev), 0);
	assert_unset(&ev);
}

/* Taken as they are: '=' and spaces inside, '\r' kept (sysfs writes none). */
static void values_verbatim(void **state)
{
	(void)state;
	struct uevent ev;
	assert_int_equal(PARSE("PARTNAME= a=b \nDEVNAME=mapper/x\r\n", &ev), 0);
	assert_string_equal(ev.partname, " a=b ");
	assert_string_equal(ev.devname, "mapper/x\r");
	assert_int_equal(PARSE("PARTNAME=Root filesystem\r\n", &ev), 0);
	assert_string_not_equal(ev.partname, "Root filesystem");
	/* an empty string is the same as none */
	assert_int_equal(PARSE("DEVTYPE=\n", &ev), 0);
	assert_string_equal(ev.devtype, "");
	/* bytes that are not UTF-8 are a name like any other */
	assert_int_equal(PARSE("PARTNAME=\xff\xfe\x80\n", &ev), 0);
	assert_string_equal(ev.partname, "\xff\xfe\x80");
}

static void numbers(void **state)
{
	(void)state;
	struct uevent ev;
	assert_int_equal(PARSE("PARTN=0\nMAJOR=0003\nMINOR=2147483647\n", &ev), 0);
	assert_int_equal(ev.partn, 0);
	assert_int_equal(ev.major, 3);
	assert_int_equal(ev.minor, INT_MAX);

	static const char *const bad[] = {
		"PARTN=", "PARTN=-1", "PARTN=+3", "PARTN= 3", "PARTN=3 ", "PARTN=3x", "PARTN=0x3",
		"PARTN=2147483648", "PARTN=99999999999999999999999999", "PARTN=3\r", "PARTN=\xd9\xa3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(uevent_parse(bad[i], strlen(bad[i]), &ev), -EBADMSG);
		assert_int_equal(ev.partn, -1);
	}
}

static void too_long_or_nul(void **state)
{
	(void)state;
	struct uevent ev;
	char t[600], a[64];

	/* a DEVTYPE of 31 bytes fits its 32, one of 32 does not */
	memset(a, 'a', sizeof(a));
	int n = snprintf(t, sizeof(t), "DEVTYPE=%.*s\nPARTN=3\n", UEVENT_DEVTYPE_MAX - 1, a);
	assert_int_equal(uevent_parse(t, (size_t)n, &ev), 0);
	assert_int_equal(strlen(ev.devtype), UEVENT_DEVTYPE_MAX - 1);
	n = snprintf(t, sizeof(t), "DEVTYPE=%.*s\nPARTN=3\n", UEVENT_DEVTYPE_MAX, a);
	assert_int_equal(uevent_parse(t, (size_t)n, &ev), -EBADMSG);
	assert_string_equal(ev.devtype, "");
	assert_int_equal(ev.partn, 3);  /* the rest is still read */

	memset(t, 'n', sizeof(t));
	memcpy(t, "PARTNAME=", 9);
	assert_int_equal(uevent_parse(t, 9 + UEVENT_PARTNAME_MAX, &ev), -EBADMSG);
	assert_string_equal(ev.partname, "");
	assert_int_equal(uevent_parse(t, 9 + UEVENT_PARTNAME_MAX - 1, &ev), 0);
	assert_int_equal(strlen(ev.partname), UEVENT_PARTNAME_MAX - 1);

	/* a NUL inside a value would cut it short: refused, not cut */
	static const char nul[] = "PARTNAME=Root filesystem\0x\nDEVNAME=xv\0da\nMAJOR=202\n";
	assert_int_equal(PARSE(nul, &ev), -EBADMSG);
	assert_string_equal(ev.partname, "");
	assert_string_equal(ev.devname, "");
	assert_int_equal(ev.major, 202);
	/* a NUL in the key: not a known key */
	static const char nulkey[] = "PART\0NAME=Root filesystem\n";
	assert_int_equal(PARSE(nulkey, &ev), 0);
	assert_string_equal(ev.partname, "");
}

/* The last line of a key decides, a refused one included; the result still
 * says something was refused. */
static void repeated_keys(void **state)
{
	(void)state;
	struct uevent ev;
	assert_int_equal(PARSE("PARTN=1\nPARTN=3\n", &ev), 0);
	assert_int_equal(ev.partn, 3);
	assert_int_equal(PARSE("PARTN=3\nPARTN=x\n", &ev), -EBADMSG);
	assert_int_equal(ev.partn, -1);
	assert_int_equal(PARSE("PARTN=x\nPARTN=3\n", &ev), -EBADMSG);
	assert_int_equal(ev.partn, 3);
	assert_int_equal(PARSE("PARTNAME=Root filesystem\nPARTNAME=swap\n", &ev), 0);
	assert_string_equal(ev.partname, "swap");
}

static void no_final_newline(void **state)
{
	(void)state;
	struct uevent ev;
	assert_int_equal(PARSE("DEVTYPE=partition\nPARTNAME=Root filesystem", &ev), 0);
	assert_string_equal(ev.partname, "Root filesystem");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(partition),
		cmocka_unit_test(disk),
		cmocka_unit_test(empty_and_bad_arguments),
		cmocka_unit_test(length_bounds_the_text),
		cmocka_unit_test(skipped_lines),
		cmocka_unit_test(values_verbatim),
		cmocka_unit_test(numbers),
		cmocka_unit_test(too_long_or_nul),
		cmocka_unit_test(repeated_keys),
		cmocka_unit_test(no_final_newline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
