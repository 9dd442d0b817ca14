#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Agent scenarios: what the harness checks besides qe-report.sh's lines.
# Called by qe-report.sh when present. Prints GUEST lines on stdout.
j() { journalctl -b --no-pager -o cat "$@"; }
j -u qubes-mount-dirs.service | grep -E 'Private device|Virgin boot' | sed 's/^/GUEST agent-journal: /'
echo "GUEST agent_fsck=$(j -u qubes-mount-dirs.service | grep -c 'fsck.ext4 of /dev/vdb succeeded')"
echo "GUEST agent_resize=$(j -u qubes-mount-dirs.service | grep -c 'resize2fs of /dev/vdb succeeded')"
echo "GUEST agent_mkfs=$(j -u qubes-mount-dirs.service | grep -c 'Virgin boot of the VM: creating private.img filesystem')"
echo "GUEST persistence=$(ls /run/qubes/ 2>/dev/null | sed -n 's/^persistent-//p' | tr '\n' ,)"
src() { findmnt -n -o SOURCE "$1" | sed 's/\[.*//'; }
swaps=$(awk 'NR > 1 {print $1}' /proc/swaps | while read -r d; do
	n=$(cat "/sys/class/block/${d#/dev/}/dm/name" 2>/dev/null) && echo "/dev/mapper/$n" || echo "$d"; done | tr '\n' ,)
echo "GUEST agent_mounts root=$(src /) rw=$(src /rw) home=$(src /home) usrlocal=$(src /usr/local) swap=$swaps"
for d in /dev/mapper/ephemeral-* /dev/mapper/dmroot; do echo "GUEST agent_dev $d -> $(readlink -f "$d")"; done
# qubesdb writes that export one of our devices (dm-N of ephemeral-* and dmroot)
ours() {
	for d in /dev/mapper/ephemeral-* /dev/mapper/dmroot; do n=$(readlink -f "$d"); echo "${n#/dev/}"; done
}
blockw() {
	grep '/qubes-block-devices/' /run/qe-qubesdb/writes.log 2>/dev/null | grep '^write' |
		grep -E "/qubes-block-devices/($(ours | paste -sd'|'))/" | wc -l
}
sed 's/^/GUEST qdb-write: /' /run/qe-qubesdb/writes.log
echo "GUEST agent_qdb_block_ours_boot=$(blockw)"
# again after a change event on every one of our devices and a suspend/resume
# of the private one (the root cannot be suspended under its own feet)
for d in $(ours); do udevadm trigger --action=change "/sys/class/block/$d"; done
udevadm settle -t 60
dmsetup suspend ephemeral-private && dmsetup resume ephemeral-private
udevadm settle -t 60
# a device of ours no longer in use: only a rule that holds on every event
# keeps it from dom0 (a plain resume clears the dm udev flags of its record)
sw=$(readlink -f /dev/mapper/ephemeral-swap 2>/dev/null)
if [ -n "$sw" ] && swapon --show=NAME --noheadings | grep -qx "$sw"; then
	swapoff "$sw" && dmsetup suspend ephemeral-swap && dmsetup resume ephemeral-swap
	udevadm settle -t 60
	echo "GUEST agent_swapoff_test=done"
	swapon "$sw"
fi
echo "GUEST agent_qdb_block_ours_after=$(blockw)"
sed 's/^/GUEST qdb-write-after: /' /run/qe-qubesdb/writes.log | tail -n 20
