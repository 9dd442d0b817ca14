/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/stackcheck.c: the ephemeral-status verdict. The good stack as the
 * kernel prints it, then every way it can be not ephemeral. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <cmocka.h>

#include "stackcheck.h"

#define KEYREF ":64:logon:qubes-ephemeral:volatile"

static struct stack_dev devs[STACK_MAX_DEVS];
static struct stack_facts f;
static char why[256];

static struct stack_dev *dev(const char *name)
{
	for (size_t i = 0; i < f.ndevs; i++)
		if (!strcmp(devs[i].name, name))
			return &devs[i];
	fail_msg("no device %s", name);
	return NULL;
}

static void add(const char *name, unsigned mi, const char *type, const char *params)
{
	struct stack_dev *d = &devs[f.ndevs++];
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->dev = makedev(253, mi);
	snprintf(d->type, sizeof(d->type), "%s", type);
	snprintf(d->params, sizeof(d->params), "%s", params);
	d->targets = 1;
}

/* what a real boot shows (docs/stack tables): xvdc = 202:32, xvda3 = 202:3, xvdb = 202:16 */
static int good(void **state)
{
	(void)state;
	memset(devs, 0, sizeof(devs));
	memset(&f, 0, sizeof(f));
	f.devs = devs;
	f.mode = "ephemeral";
	f.crypt_name = "ephemeral-crypt";
	f.root_name = "dmroot";
	f.private_name = "ephemeral-private";
	f.key_desc = "qubes-ephemeral:volatile";
	add("ephemeral-crypt", 0, "crypt", "aes-xts-plain64 " KEYREF " 0 202:32 0 1 sector_size:4096");
	add("ephemeral-swap", 1, "linear", "253:0 0");
	add("ephemeral-pool-meta", 2, "linear", "253:0 2097152");
	add("ephemeral-pool-data", 3, "linear", "253:0 2162688");
	add("ephemeral-pool", 4, "thin-pool", "253:2 253:3 128 0 2 skip_block_zeroing error_if_no_space");
	add("dmroot", 5, "thin", "253:4 0 202:3");
	add("ephemeral-private", 6, "thin", "253:4 1 202:16");
	f.root_fs = makedev(253, 5);
	f.rw_fs = makedev(253, 6);
	f.swaps[f.nswaps++] = makedev(253, 1);
	f.root_origin_ro = 1;
	f.private_origin_ro = 1;
	f.scrub_pages = 1;
	return 0;
}

static void expect_not(const char *want)
{
	int r = stack_judge(&f, why, sizeof(why));
	if (r != 1 || !strstr(why, want))
		fail_msg("wanted NOT ephemeral with \"%s\", got r=%d \"%s\"", want, r, why);
}

static void good_stack_is_ephemeral(void **state)
{
	(void)state;
	assert_int_equal(stack_judge(&f, why, sizeof(why)), 0);
	/* no swap at all, no /rw mounted yet, no balloon driver: still ephemeral */
	f.nswaps = 0;
	f.rw_fs = 0;
	f.scrub_pages = -1;
	assert_int_equal(stack_judge(&f, why, sizeof(why)), 0);
}

static void swap_file_on_the_root_copy_is_fine(void **state)
{
	(void)state;
	f.swaps[f.nswaps++] = makedev(253, 5);
	assert_int_equal(stack_judge(&f, why, sizeof(why)), 0);
}

static void not_ephemeral_mode(void **state)
{
	(void)state;
	f.mode = "stock";
	expect_not("not booted in ephemeral mode");
	f.mode = "";
	expect_not("mode unknown");
	f.mode = "ephemeral-test-plain";
	expect_not("test mode");
}

static void no_crypt_device(void **state)
{
	(void)state;
	snprintf(dev("ephemeral-crypt")->name, 128, "other");
	expect_not("no encrypted volatile device");
}

static void crypt_is_linear(void **state)
{
	(void)state;
	struct stack_dev *c = dev("ephemeral-crypt");
	snprintf(c->type, sizeof(c->type), "linear");
	snprintf(c->params, sizeof(c->params), "202:32 0");
	expect_not("linear mapping, not dm-crypt");
}

static void key_in_the_table(void **state)
{
	(void)state;
	snprintf(dev("ephemeral-crypt")->params, 512, "aes-xts-plain64 "
		 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 0 202:32 0");
	expect_not("does not reference the key");
}

static void another_key(void **state)
{
	(void)state;
	snprintf(dev("ephemeral-crypt")->params, 512, "aes-xts-plain64 :64:logon:someone:else 0 202:32 0");
	expect_not("does not reference the key");
	/* the description elsewhere in the line does not count */
	snprintf(dev("ephemeral-crypt")->params, 512, "aes-xts-plain64 :64:user:x 0 202:32 0 1 "
		 ":logon:qubes-ephemeral:volatile");
	expect_not("does not reference the key");
}

static void crypt_with_two_targets(void **state)
{
	(void)state;
	dev("ephemeral-crypt")->targets = 2;
	expect_not("does not reference the key");
}

static void pool_data_on_a_plain_disk(void **state)
{
	(void)state;
	snprintf(dev("ephemeral-pool-data")->params, 512, "202:32 2162688");
	expect_not("dmroot is not a thin device of a pool on ephemeral-crypt");
}

static void pool_metadata_on_a_plain_disk(void **state)
{
	(void)state;
	snprintf(dev("ephemeral-pool-meta")->params, 512, "202:48 0");
	expect_not("dmroot is not a thin device");
}

static void root_is_a_snapshot(void **state)
{
	(void)state;
	struct stack_dev *r = dev("dmroot");
	snprintf(r->type, sizeof(r->type), "snapshot");
	snprintf(r->params, sizeof(r->params), "202:3 202:34 N 16");
	expect_not("dmroot is not a thin device");
}

static void root_mounted_from_elsewhere(void **state)
{
	(void)state;
	f.root_fs = makedev(202, 3);
	expect_not("/ is on 202:3, not on dmroot");
}

static void private_not_encrypted(void **state)
{
	(void)state;
	snprintf(dev("ephemeral-private")->params, 512, "253:9 1 202:16");  /* no such pool */
	expect_not("ephemeral-private is not a thin device");
}

static void rw_mounted_from_the_origin(void **state)
{
	(void)state;
	f.rw_fs = makedev(202, 16);
	expect_not("/rw is on 202:16");
}

static void plain_swap(void **state)
{
	(void)state;
	f.swaps[f.nswaps++] = makedev(202, 33);   /* stock Qubes' xvdc1 */
	expect_not("swap on 202:33 is not on ephemeral-crypt");
}

static void swap_on_a_mapping_of_a_plain_disk(void **state)
{
	(void)state;
	add("evil", 7, "linear", "202:33 0");
	f.swaps[f.nswaps++] = makedev(253, 7);
	expect_not("swap on 253:7");
}

static void swap_unknown(void **state)
{
	(void)state;
	f.swap_unknown = true;
	expect_not("cannot be identified");
}

static void key_still_in_keyring(void **state)
{
	(void)state;
	f.key_in_keyring = true;
	expect_not("still in a kernel keyring");
}

static void origins_writable(void **state)
{
	(void)state;
	f.root_origin_ro = 0;
	expect_not("root origin is writable");
	f.root_origin_ro = -1;
	expect_not("root origin is of unknown state");
	f.root_origin_ro = 1;
	f.private_origin_ro = 0;
	expect_not("private origin is writable");
}

static void scrubbing_off(void **state)
{
	(void)state;
	f.scrub_pages = 0;
	expect_not("scrubbing is off");
}

static void mapping_loop_ends(void **state)
{
	(void)state;
	add("loop", 8, "linear", "253:8 0");
	f.swaps[f.nswaps++] = makedev(253, 8);
	expect_not("swap on 253:8");
}

static void param_dev(void **state)
{
	(void)state;
	dev_t d;
	assert_int_equal(stack_param_dev("253:4 1 202:16", 2, &d), 0);
	assert_int_equal(major(d), 202);
	assert_int_equal(minor(d), 16);
	assert_true(stack_param_dev("253:4 1", 2, &d) < 0);
	assert_true(stack_param_dev("/dev/xvda 0", 0, &d) < 0);
	assert_true(stack_param_dev("253:4x 0", 0, &d) < 0);
	assert_true(stack_param_dev("", 0, &d) < 0);
}

int main(void)
{
#define T(n) cmocka_unit_test_setup(n, good)
	const struct CMUnitTest tests[] = {
		T(good_stack_is_ephemeral), T(swap_file_on_the_root_copy_is_fine), T(not_ephemeral_mode),
		T(no_crypt_device), T(crypt_is_linear), T(key_in_the_table), T(another_key),
		T(crypt_with_two_targets), T(pool_data_on_a_plain_disk), T(pool_metadata_on_a_plain_disk),
		T(root_is_a_snapshot), T(root_mounted_from_elsewhere), T(private_not_encrypted),
		T(rw_mounted_from_the_origin), T(plain_swap), T(swap_on_a_mapping_of_a_plain_disk),
		T(swap_unknown), T(key_still_in_keyring), T(origins_writable), T(scrubbing_off),
		T(mapping_loop_ends), T(param_dev),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
