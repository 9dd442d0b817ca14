#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# qubes-ephemeral (dracut initqueue job, queued by the cmdline hook in
# ephemeral mode only; run as /usr/lib/qubes-ephemeral/dracut-setup.sh):
# builds the encrypted storage stack and /dev/mapper/dmroot. On any
# failure ephemeral-init powers the VM off itself.
if ! /usr/lib/qubes-ephemeral/ephemeral-init --hook setup; then
	case " $(cat /proc/cmdline) " in
	*" qubes.ephemeral=1 "*)
		echo "qubes-ephemeral: FATAL: ephemeral-init --hook setup failed; refusing to boot without full encryption, powering off" >/dev/console
		sync
		echo o >/proc/sysrq-trigger 2>/dev/null
		poweroff -f 2>/dev/null
		while :; do sleep 1; done
		;;
	esac
fi
