/* SPDX-License-Identifier: GPL-2.0-or-later */
/* src/lib/appender.c, the one initramfs appender, and its two users: the
 * initramfs-append program (run as built, beside this test in B/) and the
 * dom0 tool's variant initramfs (variant_write_initramfs) must write the
 * same bytes for the same input. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "appender.h"
#include "cpio.h"
#include "fileio.h"
#include "kernel.h"

static const char INIT[] = "\x7f" "ELF pretend init binary";

/* A temp folder per test, removed by teardown. */
static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_appender.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *path_in(const char *name)
{
	static char p[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void put_file(const char *name, const void *data, size_t len, mode_t mode)
{
	int fd = open(path_in(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write_full(fd, data, len), 0);
	close(fd);
}

static char *get_file(const char *name, size_t *len)
{
	char *b;
	assert_int_equal(read_file_full(path_in(name), 1 << 26, &b, len), 0);
	return b;
}

/* In-memory: what the appender writes for `in` with the payload. */
static char *append_mem(const void *in, size_t inlen, const struct append_payload *p, size_t *outlen,
			uint64_t *off, int *rc)
{
	bool wf;
	put_file("mem.in", in, inlen, 0600);
	int infd = open(path_in("mem.in"), O_RDONLY | O_CLOEXEC);
	int outfd = open(path_in("mem.out"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(infd >= 0 && outfd >= 0);
	*rc = append_initramfs(infd, outfd, p, off, &wf);
	close(infd);
	close(outfd);
	return get_file("mem.out", outlen);
}

static void input_magic(void **state)
{
	(void)state;
	assert_true(append_input_ok("070701", 6));
	assert_true(append_input_ok("070702", 6));
	assert_true(append_input_ok("\x1f\x8b\x08", 3));
	assert_true(append_input_ok("\x28\xb5\x2f\xfd", 4));
	assert_true(append_input_ok("\xfd" "7zXZ\0", 6));
	assert_true(append_input_ok("\x89LZO\0", 5));
	assert_false(append_input_ok("07070", 5));
	assert_false(append_input_ok("\x7f" "ELF", 4));
	assert_false(append_input_ok("", 0));
	assert_int_equal(ird_comp_magic("BZh9", 4), IRD_BZIP2);
	assert_int_equal(ird_comp_magic("070701", 6), IRD_NONE);
	assert_string_equal(ird_comp_name(IRD_ZSTD), "zstd");
}

/* Our archive: parents first, /init, the version line, extras. */
static void cpio_layout(void **state)
{
	(void)state;
	const struct append_file extra[] = { { "etc/x/y", "yy", 2, 0600, false }, { "usr/lib/z", "z", 1, 0644, false } };
	const struct append_payload p = { INIT, sizeof(INIT) - 1, "v 1", extra, 2 };
	char *buf;
	size_t len;
	const unsigned char *d;
	size_t dl;
	assert_int_equal(append_cpio(&p, &buf, &len), 0);
	assert_int_equal(len % 512, 0);
	const unsigned char *b = (const unsigned char *)buf;
	assert_int_equal(newc_find(b, len, "init", &d, &dl), 0);
	assert_memory_equal(d, INIT, sizeof(INIT) - 1);
	assert_int_equal(newc_find(b, len, APPEND_VERSION_PATH, &d, &dl), 0);
	assert_int_equal(dl, 4);
	assert_memory_equal(d, "v 1\n", 4);
	assert_int_equal(newc_find(b, len, "etc/x/y", &d, &dl), 0);
	assert_memory_equal(d, "yy", 2);
	/* folder order: each parent once, before any file */
	const char *want[] = { "usr", "usr/lib", "usr/lib/qubes-ephemeral", "etc", "etc/x", "init" };
	const char *at = buf;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *hit = memmem(at, len - (size_t)(at - buf), want[i], strlen(want[i]) + 1);
		assert_non_null(hit);
		at = hit + 1;
	}
	/* "usr/lib" once, though two files lie below it */
	const char *first = memmem(buf, len, "usr/lib\0", 8);
	assert_non_null(first);
	assert_null(memmem(first + 1, len - (size_t)(first + 1 - buf), "usr/lib\0", 8));
	free(buf);
}

static void gzip_gets_lead(void **state)
{
	(void)state;
	const unsigned char in[] = { 0x1f, 0x8b, 8, 0, 1, 2, 3 };
	const struct append_payload p = { INIT, sizeof(INIT) - 1, "v", NULL, 0 };
	size_t len;
	uint64_t off;
	int rc;
	char *out = append_mem(in, sizeof(in), &p, &len, &off, &rc);
	assert_int_equal(rc, 0);
	unsigned char lead[CPIO_LEAD_SIZE];
	cpio_lead(lead);
	assert_memory_equal(out, lead, sizeof(lead));
	assert_memory_equal(out + 512, in, sizeof(in));
	assert_int_equal(off, 1024);
	for (size_t i = 512 + sizeof(in); i < off; i++)
		assert_int_equal(out[i], 0);
	char *cpio;
	size_t clen;
	assert_int_equal(append_cpio(&p, &cpio, &clen), 0);
	assert_int_equal(len, off + clen);
	assert_memory_equal(out + off, cpio, clen);
	free(cpio);
	free(out);
}

static void cpio_in_no_lead(void **state)
{
	(void)state;
	char in[512] = "070701 not really, but the magic is";
	const struct append_payload p = { INIT, sizeof(INIT) - 1, "v", NULL, 0 };
	size_t len;
	uint64_t off;
	int rc;
	char *out = append_mem(in, 512, &p, &len, &off, &rc);   /* exactly 512: no padding */
	assert_int_equal(rc, 0);
	assert_int_equal(off, 512);
	assert_memory_equal(out, in, sizeof(in));
	free(out);
}

static void refuses_empty_and_garbage(void **state)
{
	(void)state;
	const struct append_payload p = { INIT, sizeof(INIT) - 1, "v", NULL, 0 };
	size_t len;
	uint64_t off;
	int rc;
	free(append_mem("", 0, &p, &len, &off, &rc));
	assert_int_equal(rc, -ENODATA);
	assert_int_equal(len, 0);
	free(append_mem("\x7f" "ELF", 4, &p, &len, &off, &rc));
	assert_int_equal(rc, -EMEDIUMTYPE);
	assert_int_equal(len, 0);
}

/* B/tests/test_appender -> B/initramfs-append (B/cov/tests/...: B/initramfs-append) */
static void appender_bin(char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(l > 0);
	self[l] = '\0';
	const char *d = dirname(self);
	snprintf(out, n, "%s/../initramfs-append", d);
	if (access(out, X_OK) != 0)
		snprintf(out, n, "%s/../../initramfs-append", d);
	if (access(out, X_OK) != 0)
		fail_msg("%s/../initramfs-append not built (make builds it before this test)", d);
}

static int run_append(const char *bin, const char *init, const char *version, const char *in, const char *out)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl(bin, bin, "--init", init, "--version", version, in, out, (char *)NULL);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The same input through both programs: the same bytes. */
static void both_programs_agree(void **state)
{
	(void)state;
	char bin[PATH_MAX];
	appender_bin(bin, sizeof(bin));
	static unsigned char big[200000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7 + (i >> 9));
	struct {
		const char *what;
		const char *magic;
		size_t mlen, len;
	} ins[] = {
		{ "gzip", "\x1f\x8b\x08", 3, 1000 },
		{ "gzip, big", "\x1f\x8b\x08", 3, sizeof(big) },
		{ "cpio, 512", "070701", 6, 512 },
		{ "zstd, odd size", "\x28\xb5\x2f\xfd", 4, 777 },
		{ "xz", "\xfd" "7zXZ\0", 6, 65536 + 3 },
	};
	struct kctx c = { .init_path = "init" };
	c.init = (unsigned char *)INIT;
	c.init_len = sizeof(INIT) - 1;
	snprintf(c.version, sizeof(c.version), "qubes-ephemeral 0.1 init-sha256=%064d", 0);
	put_file("init", INIT, sizeof(INIT) - 1, 0755);
	for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		memcpy(big, ins[i].magic, ins[i].mlen);
		put_file("in", big, ins[i].len, 0640);
		assert_int_equal(run_append(bin, path_in("init"), c.version, path_in("in"), path_in("out.append")), 0);
		char vdir[128];
		snprintf(vdir, sizeof(vdir), "%s/variant%zu", dir, i);
		assert_int_equal(mkdir(vdir, 0755), 0);
		int srcfd = open(path_in("in"), O_RDONLY | O_CLOEXEC), dfd = open(vdir, O_RDONLY | O_DIRECTORY);
		uint64_t off;
		assert_int_equal(variant_write_initramfs(&c, srcfd, dfd, 0640, NULL, 0, &off), 0);
		close(srcfd);
		close(dfd);
		size_t la, lb;
		char *a = get_file("out.append", &la), *b;
		char vpath[64];
		snprintf(vpath, sizeof(vpath), "variant%zu/initramfs", i);
		b = get_file(vpath, &lb);
		if (la != lb || memcmp(a, b, la))
			fail_msg("%s: initramfs-append (%zu bytes) and the dom0 tool (%zu bytes) differ", ins[i].what, la, lb);
		assert_int_equal(off % 512, 0);
		assert_true(off < la);
		free(a);
		free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(input_magic),
		cmocka_unit_test(cpio_layout),
		cmocka_unit_test_setup_teardown(gzip_gets_lead, setup, teardown),
		cmocka_unit_test_setup_teardown(cpio_in_no_lead, setup, teardown),
		cmocka_unit_test_setup_teardown(refuses_empty_and_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(both_programs_agree, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
