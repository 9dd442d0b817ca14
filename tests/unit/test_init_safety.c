/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ephemeral-init outside QEMU: Xen balloon scrubbing against a fake sysfs,
 * switch_root's refusal to empty a root that is not an initramfs, and
 * fatal()'s refusal to power off a machine it is not booting. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "init.h"

#define SCRUB_DIR "/sys/devices/system/xen_memory/xen_memory0"

static char root[256];

static int make_root(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_init_safety.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int remove_root(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void fake_scrub(const char *content)
{
	char path[512], cmd[600];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s%s'", root, SCRUB_DIR);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s%s/scrub_pages", root, SCRUB_DIR);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void read_scrub_file(char *buf, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s%s/scrub_pages", root, SCRUB_DIR);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* what Qubes' dom0 gives every VM: xen_scrub_pages=0; the init turns it on */
static void scrub_turned_on(void **state)
{
	(void)state;
	char v[16];
	fake_scrub("0\n");
	assert_int_equal(scrub_pages_read(root), SCRUB_OFF);
	assert_int_equal(scrub_pages_enable(root), SCRUB_ON);
	read_scrub_file(v, sizeof(v));
	assert_string_equal(v, "1");
	assert_int_equal(scrub_pages_read(root), SCRUB_ON);
}

static void scrub_absent_without_xen(void **state)
{
	(void)state;
	assert_int_equal(scrub_pages_read(root), SCRUB_ABSENT);
	assert_int_equal(scrub_pages_enable(root), SCRUB_ABSENT);
	assert_string_equal(scrub_state_name(SCRUB_ABSENT), "absent");
}

/* the kernel kept it off: what it reads back decides, not the write */
static void scrub_refused(void **state)
{
	(void)state;
	char path[512], cmd[600];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s%s'", root, SCRUB_DIR);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s%s/scrub_pages", root, SCRUB_DIR);
	/* accepts every write, reads back nothing */
	assert_int_equal(symlink("/dev/null", path), 0);
	assert_true(scrub_pages_enable(root) < 0);
	assert_int_equal(unlink(path), 0);
	/* cannot be opened for writing */
	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(scrub_pages_enable(root) < 0);
}

static bool on_tmpfs(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && ((unsigned long)sf.f_type == 0x01021994 ||
					   (unsigned long)sf.f_type == 0x858458f6);
}

/* booted with init= on a real root, switch_root used to delete that root */
static void switch_root_refuses_a_real_root(void **state)
{
	(void)state;
	/* a folder beside the build: a real file system, not tmpfs */
	char dir[] = "build/test_init_safety.XXXXXX", file[300];
	assert_non_null(mkdtemp(dir));
	if (on_tmpfs(dir)) {
		rmdir(dir);
		skip();
	}
	snprintf(file, sizeof(file), "%s/precious", dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(initramfs_empty(fd), -EPERM);
	assert_int_equal(access(file, F_OK), 0);
	unlink(file);
	rmdir(dir);
	assert_false(root_is_initramfs() && !on_tmpfs("/"));
}

static void switch_root_empties_a_tmpfs(void **state)
{
	(void)state;
	char dir[] = "/dev/shm/test_init_safety.XXXXXX", file[300];
	if (!on_tmpfs("/dev/shm"))
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/gone", dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(initramfs_empty(fd), 0);
	assert_int_equal(access(file, F_OK), -1);
	rmdir(dir);
}

/* fatal() outside an initramfs and not as pid 1 exits 1. The child runs in
 * its own user namespace, where reboot() cannot reach this machine even
 * if the guard were broken. */
static void fatal_does_not_power_off_a_host(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(77);
		dup2(p[1], 2);
		fatal_set_ephemeral(true);
		fatal("test %d", 42);
	}
	close(p[1]);
	char out[512] = "";
	ssize_t n = read_full(p[0], out, sizeof(out) - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = 0;
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_non_null(strstr(out, "qubes-ephemeral: FATAL: test 42; refusing to boot without full encryption"));
	assert_non_null(strstr(out, "not running from an initramfs"));
}

static void fake_part(const char *disk, const char *part, const char *uevent)
{
	char path[512], cmd[700];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/sys/class/block/%s/%s'", root, disk, part);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/sys/class/block/%s/%s/uevent", root, disk, part);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(uevent, f);
	fclose(f);
}

/* Qubes' rule for the root origin, on a fake /sys/class/block */
static void root_partition_by_name(void **state)
{
	(void)state;
	char out[64];
	fake_part("xvda", "xvda1", "MAJOR=202\nMINOR=1\nDEVNAME=xvda1\nDEVTYPE=partition\nPARTN=1\nPARTNAME=EFI System\n");
	fake_part("xvda", "xvda2", "MAJOR=202\nMINOR=2\nDEVNAME=xvda2\nDEVTYPE=partition\nPARTN=2\nPARTNAME=Root filesystem\n");
	fake_part("xvda", "xvda3", "MAJOR=202\nMINOR=3\nDEVNAME=xvda3\nDEVTYPE=partition\nPARTN=3\n");
	fake_part("xvda", "queue", "");
	assert_int_equal(find_root_partition(root, "xvda", out, sizeof(out)), 0);
	assert_string_equal(out, "xvda2");
}

static void root_partition_third(void **state)
{
	(void)state;
	char out[64];
	fake_part("xvda", "xvda1", "DEVNAME=xvda1\nDEVTYPE=partition\nPARTN=1\n");
	fake_part("xvda", "xvda3", "DEVNAME=xvda3\nDEVTYPE=partition\nPARTN=3\n");
	assert_int_equal(find_root_partition(root, "xvda", out, sizeof(out)), 0);
	assert_string_equal(out, "xvda3");
}

static void root_partition_whole_disk(void **state)
{
	(void)state;
	char out[64];
	fake_part("xvda", "queue", "");
	assert_int_equal(find_root_partition(root, "xvda", out, sizeof(out)), 0);
	assert_string_equal(out, "xvda");
	assert_int_equal(find_root_partition(root, "xvdz", out, sizeof(out)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(scrub_turned_on, make_root, remove_root),
		cmocka_unit_test_setup_teardown(scrub_absent_without_xen, make_root, remove_root),
		cmocka_unit_test_setup_teardown(scrub_refused, make_root, remove_root),
		cmocka_unit_test_setup_teardown(root_partition_by_name, make_root, remove_root),
		cmocka_unit_test_setup_teardown(root_partition_third, make_root, remove_root),
		cmocka_unit_test_setup_teardown(root_partition_whole_disk, make_root, remove_root),
		cmocka_unit_test(switch_root_refuses_a_real_root),
		cmocka_unit_test(switch_root_empties_a_tmpfs),
		cmocka_unit_test(fatal_does_not_power_off_a_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
