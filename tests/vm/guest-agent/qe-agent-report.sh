#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Agent scenarios: what the harness checks besides qe-report.sh's lines.
# Called by qe-report.sh when present. Prints GUEST lines on stdout.
# The disks are QEMU's vda..vdd (tests/vm) or Xen's xvda..xvdd (tests/xen,
# where Qubes' files name them unmodified). qe.agent=basic (tests/xen) stops
# after the mounts: the udev, qubesdb, fstab and resize checks are tests/vm's.
disk=vd
[ -e /sys/block/xvda ] && disk=xvd
# Xen's balloon driver: does it wipe pages before giving them back? (our init sets 1)
echo "GUEST scrub_pages=$(cat /sys/devices/system/xen_memory/xen_memory0/scrub_pages 2>/dev/null || echo none)"
j() { journalctl -b --no-pager -o cat "$@"; }
j -u qubes-mount-dirs.service | grep -E 'Private device|Virgin boot' | sed 's/^/GUEST agent-journal: /'
echo "GUEST agent_fsck=$(j -u qubes-mount-dirs.service | grep -c "fsck.ext4 of /dev/${disk}b succeeded")"
echo "GUEST agent_resize=$(j -u qubes-mount-dirs.service | grep -c "resize2fs of /dev/${disk}b succeeded")"
echo "GUEST agent_mkfs=$(j -u qubes-mount-dirs.service | grep -c 'Virgin boot of the VM: creating private.img filesystem')"
echo "GUEST persistence=$(ls /run/qubes/ 2>/dev/null | sed -n 's/^persistent-//p' | tr '\n' ,)"
src() { findmnt -n -o SOURCE "$1" | sed 's/\[.*//'; }
swaps=$(awk 'NR > 1 {print $1}' /proc/swaps | while read -r d; do
	n=$(cat "/sys/class/block/${d#/dev/}/dm/name" 2>/dev/null) && echo "/dev/mapper/$n" || echo "$d"; done | tr '\n' ,)
echo "GUEST agent_mounts root=$(src /) rw=$(src /rw) home=$(src /home) usrlocal=$(src /usr/local) swap=$swaps"
for d in /dev/mapper/ephemeral-* /dev/mapper/dmroot; do echo "GUEST agent_dev $d -> $(readlink -f "$d")"; done
if grep -qw 'qe.agent=basic' /proc/cmdline; then
	# where the boot's time went (the slowest units)
	systemd-analyze blame --no-pager 2>/dev/null | head -n 12 | sed 's/^ */GUEST blame: /'
	exit 0
fi
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
# An in-qube reinstall of the package file /etc/fstab (as dpkg: a new file
# beside it, renamed over it), then what a package upgrade does next
# (daemon-reload, mount -a, swapon -a): our boot-time handling leaves
# /etc/fstab as packaged, its names must still lead to our devices.
dmname() { n=$(readlink -f "$1") && cat "/sys/class/block/${n#/dev/}/dm/name" 2>/dev/null || echo "${n:-none}"; }
fst=failed
if cp -p /etc/fstab /etc/fstab.dpkg-new && sync /etc/fstab.dpkg-new && mv /etc/fstab.dpkg-new /etc/fstab && systemctl daemon-reload; then
	fst=ok
fi
mount -a >/dev/null 2>&1; ma=$?
swapon -a >/dev/null 2>&1; sa=$?
echo "GUEST agent_fstab_reinstall=$fst mount_a_rc=$ma swapon_a_rc=$sa vdb=$(dmname /dev/${disk}b) vdc1=$(dmname /dev/${disk}c1) failed_after=$(systemctl --failed --no-legend | wc -l) swaps_after=$(awk 'NR > 1 {print $1}' /proc/swaps | tr '\n' ,)"
# qe.resize=1: dom0 grows root and private while the qube runs (the host's
# QMP block_resize on "resize_now") and calls qubes.ResizeDisk: through
# qrexec (R4.3 looks in /run/qubes-rpc first: ephemeral-init's guard) and, as
# R4.2's qrexec or a user by hand would, Qubes' real script itself. Nothing
# may change: no table, no size, no write in the clear.
if grep -qw 'qe.resize=1' /proc/cmdline; then
	tables() { for n in dmroot ephemeral-private; do dmsetup table "$n"; blockdev --getsize64 "/dev/mapper/$n"; done | md5sum; }
	t0=$(tables) r0=$(cat /sys/block/${disk}a/size) p0=$(cat /sys/block/${disk}b/size)
	echo "GUEST resize_now=yes" >/dev/console
	i=0
	while [ "$(cat /sys/block/${disk}a/size)" = "$r0" ] || [ "$(cat /sys/block/${disk}b/size)" = "$p0" ]; do
		i=$((i + 1)); [ $i -lt 600 ] || break; sleep 0.5
	done
	echo "GUEST resize_seen=$([ $i -lt 600 ] && echo yes || echo no) vda=$r0->$(cat /sys/block/${disk}a/size) vdb=$p0->$(cat /sys/block/${disk}b/size)"
	svc=
	for d in /run/qubes-rpc /usr/local/etc/qubes-rpc /etc/qubes-rpc; do
		[ -e "$d/qubes.ResizeDisk" ] && { svc=$d/qubes.ResizeDisk; break; }
	done
	echo "GUEST resize_service=$svc"
	for v in private root; do
		out=$(echo "$v" | "$svc" 2>&1); rc=$?
		echo "GUEST resize_qrexec_$v rc=$rc: $(echo "$out" | tr '\n' ' ')"
		out=$(echo "$v" | /etc/qubes-rpc/qubes.ResizeDisk 2>&1); rc=$?
		echo "GUEST resize_real_$v rc=$rc: $(echo "$out" | tr '\n' ' ' | cut -c1-300)"
	done
	echo "GUEST resize_tables_same=$([ "$(tables)" = "$t0" ] && echo yes || echo no)"
	dmsetup table | sed 's/^/GUEST resize-dm: /'
fi
