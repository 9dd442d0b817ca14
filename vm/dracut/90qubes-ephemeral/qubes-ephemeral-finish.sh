#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# qubes-ephemeral (dracut pre-pivot hook, sourced): with qubes.ephemeral=1,
# checks that $NEWROOT is the encrypted dmroot, points the device names of
# its fstab at the encrypted private and swap devices and tells the real root's udev about
# them; without it, does nothing.
if ! /usr/lib/qubes-ephemeral/ephemeral-init --hook finish "${NEWROOT:-/sysroot}"; then
	case " $(cat /proc/cmdline) " in
	*" qubes.ephemeral=1 "*)
		echo "qubes-ephemeral: FATAL: ephemeral-init --hook finish failed; refusing to boot without full encryption, powering off" >/dev/console
		sync
		echo o >/proc/sysrq-trigger 2>/dev/null
		poweroff -f 2>/dev/null
		while :; do sleep 1; done
		;;
	esac
fi
