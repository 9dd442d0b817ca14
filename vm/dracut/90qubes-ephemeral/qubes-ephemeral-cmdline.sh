#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# qubes-ephemeral (dracut cmdline hook, sourced): with qubes.ephemeral=1,
# takes Qubes' COW hook out of this boot before the pre-trigger stage, so
# only ephemeral-init's setup makes /dev/mapper/dmroot, and queues that
# setup for when udev has settled; without it, does nothing.
/usr/lib/qubes-ephemeral/ephemeral-init --hook check
qe_rc=$?
if [ $qe_rc -gt 1 ]; then
	# ephemeral-init could not run: only a boot that did not ask goes on
	case " $(cat /proc/cmdline) " in
	*" qubes.ephemeral=1 "*) qe_rc=0 qe_fatal="ephemeral-init --hook check failed" ;;
	*) qe_rc=1 ;;
	esac
fi
if [ $qe_rc -eq 0 ]; then
	mkdir -p /usr/lib/qubes-ephemeral/disabled-hooks
	for qe_f in /lib/dracut/hooks/*/*qubes_cow_setup.sh; do
		[ -e "$qe_f" ] || continue
		mv -f "$qe_f" /usr/lib/qubes-ephemeral/disabled-hooks/ ||
			qe_fatal="cannot take Qubes' COW hook $qe_f out of the boot"
	done
	/sbin/initqueue --onetime --settled --unique --name qubes-ephemeral-setup \
		/usr/lib/qubes-ephemeral/dracut-setup.sh ||
		qe_fatal="cannot queue the qubes-ephemeral setup job"
fi
if [ -n "${qe_fatal:-}" ]; then
	echo "qubes-ephemeral: FATAL: $qe_fatal; refusing to boot without full encryption, powering off" >/dev/console
	sync
	echo o >/proc/sysrq-trigger 2>/dev/null
	poweroff -f 2>/dev/null
	while :; do sleep 1; done
fi
unset qe_rc qe_f qe_fatal
