/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer: uevent_parse on any bytes; what it gives back, written out as
 * a uevent file again, parses to the same thing. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uevent.h"

static void check_str(const char *s, size_t size)
{
	if (!memchr(s, '\0', size) || strchr(s, '\n'))
		abort();
}

/* The fields that are set, as KEY=VALUE lines; returns the length. */
static size_t format(const struct uevent *ev, char *buf, size_t size)
{
	int n = snprintf(buf, size, "DEVTYPE=%s\nDEVNAME=%s\nPARTNAME=%s\n", ev->devtype, ev->devname, ev->partname);
	if (n < 0 || (size_t)n >= size)
		abort();
	size_t len = (size_t)n;
	const struct { const char *key; int v; } nums[] = {
		{ "PARTN", ev->partn }, { "MAJOR", ev->major }, { "MINOR", ev->minor },
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (nums[i].v < 0)
			continue;
		n = snprintf(buf + len, size - len, "%s=%d\n", nums[i].key, nums[i].v);
		if (n < 0 || (size_t)n >= size - len)
			abort();
		len += (size_t)n;
	}
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uevent ev, again;
	char text[UEVENT_DEVTYPE_MAX + UEVENT_DEVNAME_MAX + UEVENT_PARTNAME_MAX + 128];

	int r = uevent_parse((const char *)data, size, &ev);
	if (r != 0 && r != -EBADMSG)
		abort();
	check_str(ev.devtype, sizeof(ev.devtype));
	check_str(ev.devname, sizeof(ev.devname));
	check_str(ev.partname, sizeof(ev.partname));
	if (ev.partn < -1 || ev.major < -1 || ev.minor < -1)
		abort();

	size_t len = format(&ev, text, sizeof(text));
	if (uevent_parse(text, len, &again) != 0)
		abort();
	if (strcmp(ev.devtype, again.devtype) || strcmp(ev.devname, again.devname) ||
	    strcmp(ev.partname, again.partname) || ev.partn != again.partn || ev.major != again.major ||
	    ev.minor != again.minor)
		abort();
	return 0;
}
