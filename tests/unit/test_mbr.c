/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/mbr.c: the stock volatile partition table. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mbr.h"

static void cow_layout(void **state)
{
	(void)state;
	struct mbr m;
	uint64_t disk = UINT64_C(12) << 21;   /* 12 GiB in sectors */
	assert_int_equal(mbr_build_volatile(&m, disk, 1 << 21, 2, 0x12345678), 0);
	const uint8_t *raw = (const uint8_t *)&m;
	assert_int_equal(raw[510], 0x55);
	assert_int_equal(raw[511], 0xaa);
	assert_int_equal(raw[446 + 4], 0x82);               /* partition 1: swap */
	assert_int_equal(le32toh(m.part[0].lba_first), 2048);
	assert_int_equal(le32toh(m.part[0].sectors), 1 << 21);
	assert_int_equal(m.part[1].type, 0x83);             /* partition 2: COW */
	assert_int_equal(le32toh(m.part[1].lba_first), 2048 + (1 << 21));
	assert_int_equal(le32toh(m.part[1].lba_first) + le32toh(m.part[1].sectors), disk);
	assert_int_equal(m.part[2].type, 0);
	assert_int_equal(le32toh(m.disk_id), 0x12345678);
}

static void template_layout_uses_partition_3(void **state)
{
	(void)state;
	struct mbr m;
	assert_int_equal(mbr_build_volatile(&m, UINT64_C(4) << 21, 1 << 21, 3, 1), 0);
	assert_int_equal(m.part[1].type, 0);
	assert_int_equal(m.part[2].type, 0x83);
}

static void limits(void **state)
{
	(void)state;
	struct mbr m;
	assert_int_equal(mbr_build_volatile(&m, 1 << 21, 1 << 21, 2, 0), -ENOSPC);
	assert_int_equal(mbr_build_volatile(&m, UINT64_C(1) << 33, 1 << 21, 2, 0), -EFBIG);
	assert_int_equal(mbr_build_volatile(&m, UINT64_C(4) << 21, 1 << 21, 1, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cow_layout),
		cmocka_unit_test(template_layout_uses_partition_3),
		cmocka_unit_test(limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
