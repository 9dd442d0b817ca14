/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xenstamp: dom0's clock for the Xen ruler of bench/run.sh (bench/xen.sh).
 *
 *   xenstamp now           prints dom0's wall clock in ms ("1764455701123.456")
 *   xenstamp follow FILE   waits for FILE (a domain's console log, written by
 *                          xenconsoled --log=guest), then prints each line it
 *                          gets as "MS line", MS = dom0's wall clock when the
 *                          line was read; runs until killed
 *
 * xenconsoled's own --timestamp has whole seconds only (Xen 4.17), too coarse
 * for a boot under a few seconds. This follows the log with inotify: a line
 * is stamped as soon as xenconsoled has written it. Static (musl), bench only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

static void now_ms(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, len, "%lld.%03ld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
		 (ts.tv_nsec / 1000) % 1000);
}

static int follow(const char *path)
{
	static char buf[65536], line[4096];
	size_t used = 0;
	int fd, in;
	char ts[32];
	const struct timespec pause = { 0, 2 * 1000 * 1000 };

	/* xenconsoled creates the log when the domain's console connects */
	while ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "xenstamp: cannot open %s: %s\n", path, strerror(errno));
			return 1;
		}
		nanosleep(&pause, NULL);
	}
	in = inotify_init1(IN_CLOEXEC);
	if (in < 0 || inotify_add_watch(in, path, IN_MODIFY) < 0) {
		fprintf(stderr, "xenstamp: cannot watch %s: %s\n", path, strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "xenstamp: cannot read %s: %s\n", path, strerror(errno));
			return 1;
		}
		if (n == 0) {
			/* at the end: sleep until xenconsoled writes more */
			char ev[sizeof(struct inotify_event) + 256];
			if (read(in, ev, sizeof(ev)) < 0 && errno != EINTR) {
				fprintf(stderr, "xenstamp: inotify: %s\n", strerror(errno));
				return 1;
			}
			continue;
		}
		now_ms(ts, sizeof(ts));
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];
			if (c == '\r')
				continue;
			if (c != '\n' && used < sizeof(line) - 1) {
				line[used++] = c;
				continue;
			}
			if (c != '\n')
				continue; /* an overlong line: the rest is dropped */
			line[used] = 0;
			printf("%s %s\n", ts, line);
			used = 0;
		}
	}
}

int main(int argc, char **argv)
{
	char ts[32];

	if (argc == 2 && strcmp(argv[1], "now") == 0) {
		now_ms(ts, sizeof(ts));
		puts(ts);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "follow") == 0)
		return follow(argv[2]);
	fprintf(stderr, "usage: xenstamp now | xenstamp follow FILE\n");
	return 2;
}
