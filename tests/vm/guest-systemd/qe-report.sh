#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Waits for the boot to settle, reports what the harness checks, powers off.
exec > /dev/console 2>&1
timeout 200 systemctl is-system-running --wait >/dev/null
echo "GUEST userspace=yes"
echo "GUEST system_state=$(systemctl is-system-running)"
failed=$(systemctl --failed --no-legend --plain | wc -l)
systemctl --failed --no-legend --plain | sed 's/^/GUEST failed: /'
echo "GUEST failed_units=$failed"
# a job that waited for a device that never came shows as a timeout
waits=$(journalctl -b --no-pager -o cat | grep -cE 'Timed out waiting for device|Job dev-.*timed out|Dependency failed for')
journalctl -b --no-pager -o cat | grep -E 'Timed out waiting for device|Job dev-.*timed out|Dependency failed for' | sed 's/^/GUEST wait: /'
echo "GUEST device_waits=$waits"
# Qubes' COW script says so when it runs; in a dracut initramfs (systemd)
# that line reaches the journal, not the console
echo "GUEST qubes_cow_journal=$(journalctl -b --no-pager -o cat | grep -cE 'Qubes: Doing (COW|R/W) setup')"
us=$(systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target)
echo "GUEST boot_ms=$((us / 1000))"
systemd-analyze | sed 's/^/GUEST analyze: /'
rw=$(findmnt -n -o SOURCE /rw); home=$(findmnt -n -o SOURCE /home | sed 's/\[.*//')
echo "GUEST rw_source=$rw home_source=$home"
echo "GUEST swaps=$(awk 'NR > 1 {print $1}' /proc/swaps | tr '\n' ',')"
# the device-mapper stack as the kernel has it (docs/stack/ draws it): each
# table (crypt shows a keyring reference, never key bytes) and the numbers
# of the block devices the tables name
dmsetup table 2>/dev/null | sed 's/^/GUEST dm-table: /'
for b in /sys/class/block/*; do
	echo "GUEST blockdev: $(cat "$b/dev") ${b##*/} $(cat "$b/size") ro=$(cat "$b/ro") dm=$(cat "$b/dm/name" 2>/dev/null)"
done
awk '$2 ~ "^/(rw|home)?$" {print "GUEST mount: " $1 " " $2}' /proc/mounts
if [ -x /run/qubes-ephemeral/ephemeral-status ]; then
	/run/qubes-ephemeral/ephemeral-status
	echo "GUEST status_rc=$?"
fi
# the agent scenarios (agent-root.sh) add their own checks
[ -x /usr/lib/qe-test/qe-agent-report.sh ] && /usr/lib/qe-test/qe-agent-report.sh
echo "GUEST done=yes"
systemctl poweroff
