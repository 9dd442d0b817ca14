/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lib/swaphdr.c: the mkswap-style header of our swap area. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swaphdr.h"

static const uint8_t uuid[16] = {
	0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef,
	0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
};

static uint32_t u32_at(const uint8_t *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p + off, sizeof(v));  /* native order, as the kernel reads it */
	return v;
}

static void layout_4k(void **state)
{
	(void)state;
	uint8_t page[4096];
	memset(page, 0xa5, sizeof(page));
	assert_int_equal(swap_header_build(page, sizeof(page), UINT64_C(1) << 30, uuid, "ephemeral"), 0);
	/* the offsets mkswap and the kernel use */
	assert_int_equal(u32_at(page, 1024), 1);                  /* version */
	assert_int_equal(u32_at(page, 1028), (1u << 18) - 1);     /* last_page */
	assert_int_equal(u32_at(page, 1032), 0);                  /* nr_badpages */
	assert_memory_equal(page + 1036, uuid, 16);
	assert_string_equal((const char *)page + 1052, "ephemeral");
	assert_memory_equal(page + 4096 - 10, "SWAPSPACE2", 10);
	/* all the rest is zero: boot bits, label tail, padding */
	for (size_t i = 0; i < 1024; i++)
		assert_int_equal(page[i], 0);
	for (size_t i = 1052 + 9; i < 4096 - 10; i++)
		assert_int_equal(page[i], 0);
}

static void struct_matches_offsets(void **state)
{
	(void)state;
	assert_int_equal(offsetof(struct swap_header_v1, last_page), 1028);
	assert_int_equal(offsetof(struct swap_header_v1, nr_badpages), 1032);
	assert_int_equal(offsetof(struct swap_header_v1, padding), 1068);
	assert_int_equal(sizeof(struct swap_header_v1), 1540);
	uint8_t page[4096];
	assert_int_equal(swap_header_build(page, sizeof(page), 40960, uuid, NULL), 0);
	const struct swap_header_v1 *h = (const void *)page;
	assert_int_equal(h->version, 1);
	assert_int_equal(h->last_page, 9);
}

static void bigger_pages(void **state)
{
	(void)state;
	size_t ps = 65536;
	uint8_t *page = malloc(ps);
	assert_non_null(page);
	memset(page, 0xff, ps);
	assert_int_equal(swap_header_build(page, ps, UINT64_C(100) * ps + 123, uuid, "x"), 0);
	assert_int_equal(u32_at(page, 1028), 99);  /* a part page at the end is not used */
	assert_memory_equal(page + ps - 10, "SWAPSPACE2", 10);
	assert_int_equal(page[4096 - 1], 0);       /* not at the 4 KiB mark */
	assert_string_equal((const char *)page + 1052, "x");
	free(page);
}

static void label_limits(void **state)
{
	(void)state;
	uint8_t page[4096];
	assert_int_equal(swap_header_build(page, sizeof(page), 1 << 20, uuid,
					   "0123456789abcdefXYZ"), 0);
	assert_memory_equal(page + 1052, "0123456789abcde", 15);
	assert_int_equal(page[1052 + 15], 0);      /* always terminated */
	assert_int_equal(u32_at(page, 1068), 0);   /* nothing spilled into padding */
	assert_int_equal(swap_header_build(page, sizeof(page), 1 << 20, NULL, NULL), 0);
	for (size_t i = 1036; i < 1068; i++)
		assert_int_equal(page[i], 0);
}

static void size_limits(void **state)
{
	(void)state;
	uint8_t page[8192];
	/* ten pages is the least */
	assert_int_equal(swap_header_build(page, 4096, 10 * 4096, uuid, NULL), 0);
	assert_int_equal(swap_header_build(page, 4096, 10 * 4096 - 1, uuid, NULL), -EINVAL);
	assert_int_equal(swap_header_build(page, 4096, 0, uuid, NULL), -EINVAL);
	/* 2^32 pages do not fit the 32-bit last_page field... */
	assert_int_equal(swap_header_build(page, 4096, (UINT64_C(1) << 32) * 4096, uuid, NULL), -EINVAL);
	assert_int_equal(swap_header_build(page, 4096, UINT64_MAX, uuid, NULL), -EINVAL);
	/* ...one fewer does */
	assert_int_equal(swap_header_build(page, 4096, UINT64_C(0xffffffff) * 4096, uuid, NULL), 0);
	assert_int_equal(u32_at(page, 1028), 0xfffffffe);
	/* page sizes: powers of two from 4096 */
	assert_int_equal(swap_header_build(page, 2048, 1 << 20, uuid, NULL), -EINVAL);
	assert_int_equal(swap_header_build(page, 6144, 1 << 20, uuid, NULL), -EINVAL);
	assert_int_equal(swap_header_build(page, 0, 1 << 20, uuid, NULL), -EINVAL);
	assert_int_equal(swap_header_build(page, 8192, 1 << 20, uuid, NULL), 0);
	assert_int_equal(u32_at(page, 1028), 127);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_4k),
		cmocka_unit_test(struct_matches_offsets),
		cmocka_unit_test(bigger_pages),
		cmocka_unit_test(label_limits),
		cmocka_unit_test(size_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
