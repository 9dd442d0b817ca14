/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Memory the VM hands back to Xen. Qubes' dom0 boots every VM kernel with
 * xen_scrub_pages=0 (so the first balloon-down is fast) and relies on the
 * initramfs to turn scrubbing back on: without it, pages this VM balloons
 * out reach the next domain unwiped. Both modes do it first thing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <unistd.h>

#include "fileio.h"
#include "init.h"
#include "log.h"

#define SCRUB_PAGES_PATH "/sys/devices/system/xen_memory/xen_memory0/scrub_pages"

static void scrub_path(const char *sysroot, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", sysroot ? sysroot : "", SCRUB_PAGES_PATH);
}

int scrub_pages_read(const char *sysroot)
{
	char path[512], v[16];
	scrub_path(sysroot, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? SCRUB_ABSENT : -errno;
	ssize_t n = read_full(fd, v, sizeof(v) - 1);
	close(fd);
	if (n < 0)
		return (int)n;
	v[n] = 0;
	if (!strcmp(v, "1\n") || !strcmp(v, "1"))
		return SCRUB_ON;
	if (!strcmp(v, "0\n") || !strcmp(v, "0"))
		return SCRUB_OFF;
	return -EINVAL;
}

int scrub_pages_enable(const char *sysroot)
{
	char path[512];
	scrub_path(sysroot, path, sizeof(path));
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? SCRUB_ABSENT : -errno;
	int r = write_full(fd, "1", 1);
	if (close(fd) < 0 && !r)
		r = -errno;
	if (r < 0)
		return r;
	/* believe the kernel, not the write */
	r = scrub_pages_read(sysroot);
	return r == SCRUB_ON ? SCRUB_ON : r < 0 ? r : -EIO;
}

const char *scrub_state_name(int s)
{
	return s == SCRUB_ON ? "on" : s == SCRUB_OFF ? "off" : s == SCRUB_ABSENT ? "absent" : "unknown";
}

void meminit_from_kernel_log(struct meminit *m)
{
	m->alloc = m->free = -1;
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	if (size <= 0)
		return;
	char *buf = malloc((size_t)size);
	if (!buf)
		return;
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (n > 0)
		meminit_parse(buf, (size_t)n, m);
	free(buf);
}
