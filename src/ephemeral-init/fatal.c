/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stopping the boot: the one fail-closed path. In ephemeral mode one line
 * on the console says what failed, then the VM powers off before any of
 * its userspace runs. Only main() and hook_main() decide to call it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "init.h"

static bool ephemeral_mode;

void fatal_set_ephemeral(bool on)
{
	ephemeral_mode = on;
}

_Noreturn void fatal(const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ephemeral_mode)
		fprintf(stderr, "qubes-ephemeral: FATAL: %s; refusing to boot without full encryption, powering off\n", msg);
	else
		fprintf(stderr, "qubes-ephemeral: FATAL: %s; cannot boot, powering off\n", msg);
	sync();
	/* never power off a machine we are not booting (a test, a mistaken run
	 * on a host): only as pid 1 or from an initramfs (hook mode) */
	if (getpid() != 1 && !root_is_initramfs()) {
		fprintf(stderr, "qubes-ephemeral: not running from an initramfs: exiting instead of powering off\n");
		_exit(1);
	}
	reboot(RB_POWER_OFF);
	/* Only reached when not pid 1: never fall through to userspace. */
	for (;;)
		pause();
}

_Noreturn void fatal_errno(int r, const char *fmt, ...)
{
	va_list ap;
	char msg[400];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fatal("%s: %s", msg, strerror(r < 0 ? -r : r));
}

