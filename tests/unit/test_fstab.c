/* lib/fstab.c: rewriting the new root's /etc/fstab, byte for byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fstab.h"

static const struct fstab_rewrite with_swap = {
	.private_old = "/dev/xvdb",
	.private_new = "/dev/mapper/ephemeral-private",
	.swap_old = "/dev/xvdc1",
	.swap_new = "/dev/mapper/ephemeral-swap",
};

static const struct fstab_rewrite no_swap = {
	.private_old = "/dev/xvdb",
	.private_new = "/dev/mapper/ephemeral-private",
	.swap_old = "/dev/xvdc1",
	.swap_new = NULL,
};

/* Rewrites in (inlen bytes) and compares with want (wantlen bytes). */
static void check_n(const char *in, size_t inlen, const struct fstab_rewrite *rw,
		    const char *want, size_t wantlen, int changed)
{
	char *out = NULL;
	size_t outlen = 12345;
	int r = fstab_rewrite(in, inlen, rw, &out, &outlen);
	assert_int_equal(r, changed);
	assert_non_null(out);
	assert_int_equal(outlen, wantlen);
	assert_memory_equal(out, want, wantlen);
	assert_int_equal(out[outlen], '\0');  /* terminated for convenience */
	free(out);
}

static void check(const char *in, const struct fstab_rewrite *rw, const char *want, int changed)
{
	check_n(in, strlen(in), rw, want, strlen(want), changed);
}

static const char qubes_fstab[] =
	"#\n"
	"# /etc/fstab\n"
	"#\n"
	"/dev/mapper/dmroot /                       ext4    defaults,discard,noatime        1 1\n"
	"/dev/xvdb          /rw                     auto    noauto,defaults,discard,nosuid,nodev 1 2\n"
	"/rw/home           /home                   none    noauto,bind,defaults,nosuid,nodev 0 0\n"
	"/rw/usrlocal       /usr/local              none    noauto,bind,defaults 0 0\n"
	"/dev/xvdc1         swap                    swap    defaults        0 0\n"
	"none               /dev/shm                tmpfs   defaults,size=1G        0 0\n"
	"xen                /proc/xen               xenfs   defaults        0 0\n";

static void template_fstab(void **state)
{
	(void)state;
	const char *want =
		"#\n"
		"# /etc/fstab\n"
		"#\n"
		"/dev/mapper/dmroot /                       ext4    defaults,discard,noatime        1 1\n"
		"/dev/mapper/ephemeral-private          /rw                     auto    noauto,defaults,discard,nosuid,nodev 1 2\n"
		"/rw/home           /home                   none    noauto,bind,defaults,nosuid,nodev 0 0\n"
		"/rw/usrlocal       /usr/local              none    noauto,bind,defaults 0 0\n"
		"/dev/mapper/ephemeral-swap         swap                    swap    defaults        0 0\n"
		"none               /dev/shm                tmpfs   defaults,size=1G        0 0\n"
		"xen                /proc/xen               xenfs   defaults        0 0\n";
	check(qubes_fstab, &with_swap, want, 2);
}

static void swap_commented_out(void **state)
{
	(void)state;
	check("/dev/xvdc1 none swap sw 0 0\n", &no_swap,
	      "# qubes-ephemeral: /dev/xvdc1 none swap sw 0 0\n", 1);
	check("  /dev/xvdc1\tnone\tswap\tsw\n/dev/xvdb /rw ext4 defaults\n", &no_swap,
	      "# qubes-ephemeral:   /dev/xvdc1\tnone\tswap\tsw\n"
	      "/dev/mapper/ephemeral-private /rw ext4 defaults\n", 2);
}

static void swap_needs_swap_type(void **state)
{
	(void)state;
	/* the swap device mounted as something else is left alone */
	check("/dev/xvdc1 /mnt ext4 defaults 0 0\n", &with_swap,
	      "/dev/xvdc1 /mnt ext4 defaults 0 0\n", 0);
	check("/dev/xvdc1 swap\n", &with_swap, "/dev/xvdc1 swap\n", 0);
	check("/dev/xvdc1 none swapx sw\n", &no_swap, "/dev/xvdc1 none swapx sw\n", 0);
	check("/dev/xvdc1\n", &no_swap, "/dev/xvdc1\n", 0);
}

static void exact_field_match(void **state)
{
	(void)state;
	const char *in =
		"/dev/xvdb1 /rw ext4 defaults\n"
		"/dev/xvd /rw ext4 defaults\n"
		"x/dev/xvdb /rw ext4 defaults\n"
		"/dev/xvdc11 none swap sw\n"
		"UUID=1234 /rw ext4 defaults\n"
		"/mnt/x /dev/xvdb none bind\n";
	check(in, &with_swap, in, 0);
}

static void comments_untouched(void **state)
{
	(void)state;
	const char *in =
		"#/dev/xvdb /rw ext4 defaults\n"
		"  # /dev/xvdc1 none swap sw\n"
		"\t#/dev/xvdc1 none swap sw\n";
	check(in, &with_swap, in, 0);
	check(in, &no_swap, in, 0);
}

static void spacing_kept(void **state)
{
	(void)state;
	check("\t /dev/xvdb \t/rw\t\text4  defaults   0\t2   \n", &with_swap,
	      "\t /dev/mapper/ephemeral-private \t/rw\t\text4  defaults   0\t2   \n", 1);
	/* only the device field; the rest is as it was */
	check("/dev/xvdb", &with_swap, "/dev/mapper/ephemeral-private", 1);
}

static void no_trailing_newline(void **state)
{
	(void)state;
	check("proc /proc proc defaults\n/dev/xvdc1 none swap sw", &with_swap,
	      "proc /proc proc defaults\n/dev/mapper/ephemeral-swap none swap sw", 1);
	check("a b c", &with_swap, "a b c", 0);
}

static void crlf_kept(void **state)
{
	(void)state;
	check("/dev/xvdb /rw ext4 defaults\r\n/dev/xvdc1 none swap\r\n# c\r\n", &with_swap,
	      "/dev/mapper/ephemeral-private /rw ext4 defaults\r\n"
	      "/dev/mapper/ephemeral-swap none swap\r\n# c\r\n", 2);
	check("/dev/xvdb\r\n", &with_swap, "/dev/mapper/ephemeral-private\r\n", 1);
}

static void blank_and_empty(void **state)
{
	(void)state;
	check("", &with_swap, "", 0);
	check("\n\n  \n\t\n", &with_swap, "\n\n  \n\t\n", 0);
	/* an empty "old" name matches nothing, not blank lines */
	struct fstab_rewrite empty = { "", "X", "", "Y" };
	check("\n \n", &empty, "\n \n", 0);
	struct fstab_rewrite nulls = { NULL, NULL, NULL, NULL };
	check(qubes_fstab, &nulls, qubes_fstab, 0);
}

static void nul_bytes(void **state)
{
	(void)state;
	static const char in[] = "a\0b c\n/dev/xvdb\0 /rw\n/dev/xvdb /r\0w x\n\0";
	static const char want[] = "a\0b c\n/dev/xvdb\0 /rw\n/dev/mapper/ephemeral-private /r\0w x\n\0";
	check_n(in, sizeof(in) - 1, &with_swap, want, sizeof(want) - 1, 1);
}

static void long_lines(void **state)
{
	(void)state;
	size_t n = 100000;
	char *in = malloc(n + 64);
	char *want = malloc(n + 64);
	assert_non_null(in);
	assert_non_null(want);
	/* a very long comment, then an entry after it */
	memset(in, '#', n);
	memcpy(in + n, "\n/dev/xvdb /rw ext4", 19);
	memset(want, '#', n);
	memcpy(want + n, "\n/dev/mapper/ephemeral-private /rw ext4", 39);
	check_n(in, n + 19, &with_swap, want, n + 39, 1);
	/* a very long option field on the changed line itself */
	memcpy(in, "/dev/xvdc1 none swap ", 21);
	memset(in + 21, 'o', n);
	memcpy(want, "/dev/mapper/ephemeral-swap none swap ", 37);
	memset(want + 37, 'o', n);
	check_n(in, n + 21, &with_swap, want, n + 37, 1);
	free(in);
	free(want);
}

static void every_entry_counts(void **state)
{
	(void)state;
	check("/dev/xvdb /rw ext4\n/dev/xvdb /rw2 ext4\n/dev/xvdc1 a swap\n/dev/xvdc1 b swap\n",
	      &no_swap,
	      "/dev/mapper/ephemeral-private /rw ext4\n/dev/mapper/ephemeral-private /rw2 ext4\n"
	      "# qubes-ephemeral: /dev/xvdc1 a swap\n# qubes-ephemeral: /dev/xvdc1 b swap\n", 4);
}

static void lines_without_change_are_identical(void **state)
{
	(void)state;
	/* every byte value that is not a line end goes through untouched */
	char in[256 * 2];
	size_t n = 0;
	for (int c = 0; c < 256; c++) {
		if (c == '\n')
			continue;
		in[n++] = (char)c;
		if (c % 16 == 15)
			in[n++] = '\n';
	}
	check_n(in, n, &with_swap, in, n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(template_fstab),
		cmocka_unit_test(swap_commented_out),
		cmocka_unit_test(swap_needs_swap_type),
		cmocka_unit_test(exact_field_match),
		cmocka_unit_test(comments_untouched),
		cmocka_unit_test(spacing_kept),
		cmocka_unit_test(no_trailing_newline),
		cmocka_unit_test(crlf_kept),
		cmocka_unit_test(blank_and_empty),
		cmocka_unit_test(nul_bytes),
		cmocka_unit_test(long_lines),
		cmocka_unit_test(every_entry_counts),
		cmocka_unit_test(lines_without_change_are_identical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
