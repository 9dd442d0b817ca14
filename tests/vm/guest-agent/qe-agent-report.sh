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
# what udev holds for ours after those events (what Qubes' 99-qubes-block.rules saw)
for d in $(ours); do
	echo "GUEST agent_udev $d: $(udevadm info -q property "/dev/$d" | grep -E '^(DM_NAME|DM_UUID|QUBES_EXPORT_BLOCK_DEVICE|UDISKS_IGNORE|DM_UDEV_DISABLE_DISK_RULES_FLAG)=' | tr '\n' ' ')"
done
# The rule hides by dm uuid, whatever the name: a probe device not in use,
# with our uuid prefix and a name that is not ours, made by dmsetup (udev
# flags clear) must not be offered. Control: with our rule gone, Qubes' rules
# offer that same probe (so this check can fail).
probew() { grep -c "^write /qubes-block-devices/$1/" /run/qe-qubesdb/writes.log; }
hide=/run/udev/rules.d/98-qubes-ephemeral-hide.rules
if dmsetup create qe-probe --uuid QUBES-EPHEMERAL-qe-probe --table "0 2048 zero"; then
	udevadm settle -t 60
	p=$(readlink -f /dev/mapper/qe-probe); p=${p#/dev/}
	udevadm trigger --action=change "/sys/class/block/$p"; udevadm settle -t 60
	echo "GUEST agent_qdb_block_probe_hidden=$(probew "$p")"
	if [ -f "$hide" ] && mv "$hide" /run/qe-hide.rules.off; then
		udevadm control --reload
		udevadm trigger --action=change "/sys/class/block/$p"; udevadm settle -t 60
		echo "GUEST agent_qdb_block_probe_control=$(probew "$p")"
		mv /run/qe-hide.rules.off "$hide"; udevadm control --reload
	else
		echo "GUEST agent_qdb_block_probe_control=norule"
	fi
	dmsetup remove qe-probe; udevadm settle -t 60
else
	echo "GUEST agent_qdb_block_probe_hidden=nodevice"
fi
