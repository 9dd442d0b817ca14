#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/baseline-init.sh: the baseline /init of the benchmark (busybox sh).
#
# Does what the stock Qubes initramfs does for a qube whose root is read-only
# (the behaviour of qubes-linux-utils dracut/simple/init.sh, rewritten here for
# the virtio names of the QEMU harness: vda..vdd for xvda..xvdd): load the block
# driver, poll for the disks every 0.1 s, find the "Root filesystem" partition,
# sfdisk the volatile disk (1 GiB swap + COW), mkswap, `dmsetup create` a
# dm-snapshot `N 16` of the root, mount it, the modules disk under an overlay on
# /lib/modules, and switch_root. No encryption (dom0's `ephemeral` volatile
# would be outside the guest). gptfix (one more process in the stock script)
# is not run: it is a Qubes-only tool, and leaving it out favours the baseline.
#
# bench.community=1 lays out the community patch instead: swap, a COW for the
# private disk of min(private, half of the volatile disk) and a root COW, and a
# second snapshot /dev/mapper/dmhome of vdb (what it mounts on /rw).
#
# Prints "baseline-init: setup done in N ms (M ms since the kernel started)"
# (from /proc/uptime, 10 ms steps) and "baseline-init: pids used N" (from the
# last pid in /proc/loadavg) just before the exec; bench/run.sh measures both
# inits with kernel trace events instead (same ruler for both).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin

mkdir -p /proc /sys /dev
mount -t proc proc /proc
read -r up0 _ </proc/uptime
read -r _ _ _ _ pid0 </proc/loadavg
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
[ -d /dev/mapper ] || mkdir -m 0755 /dev/mapper

die() { echo "baseline-init: FATAL: $*"; poweroff -f; sleep 5; exit 1; }

community=0
for w in $(cat /proc/cmdline); do
	case $w in
	bench.community=1) community=1 ;;
	bench.probe=1) echo "BENCH-PROBE ok"; poweroff -f; sleep 5; exit 0 ;;
	esac
done

# the block driver (Qubes: xen-blkfront)
modprobe virtio_pci
modprobe virtio_blk || echo "baseline-init: cannot load the block driver"

while ! [ -e /dev/vda ]; do sleep 0.1; done
while ! [ -e /dev/vda1 ]; do sleep 0.01; done
root_dev=$(grep -l "PARTNAME=Root filesystem" /sys/block/vda/vda*/uevent | grep -o "vda[0-9][0-9]*")
[ -n "$root_dev" ] || root_dev=vda3
while ! [ -b "/dev/$root_dev" ]; do sleep 0.01; done

swap_mib=1024
if [ "$(cat /sys/class/block/$root_dev/ro)" = 1 ]; then
	while ! [ -e /dev/vdc ]; do sleep 0.1; done
	vol_sectors=$(cat /sys/class/block/vdc/size)
	[ "$vol_sectors" -ge $((swap_mib * 2048)) ] || die "volatile disk smaller than the swap"
	if [ $community = 1 ]; then
		while ! [ -e /dev/vdb ]; do sleep 0.1; done
		priv_mib=$(( $(cat /sys/class/block/vdb/size) / 2048 ))
		half_mib=$(( vol_sectors / 2048 / 2 ))
		[ "$priv_mib" -le "$half_mib" ] || priv_mib=$half_mib
		printf 'label: dos\nstart=1MiB, size=%sMiB, type=82\nsize=%sMiB, type=83\ntype=83\n' \
			"$swap_mib" "$priv_mib" | sfdisk -q /dev/vdc >/dev/null || die "sfdisk failed"
	else
		printf 'label: dos\nstart=1MiB, size=%sMiB, type=82\ntype=83\n' "$swap_mib" |
			sfdisk -q /dev/vdc >/dev/null || die "sfdisk failed"
	fi
	while ! [ -e /dev/vdc1 ]; do sleep 0.1; done
	mkswap /dev/vdc1 >/dev/null
	while ! [ -e /dev/vdc2 ]; do sleep 0.1; done
	modprobe dm-snapshot
	root_cow=/dev/vdc2
	if [ $community = 1 ]; then
		while ! [ -e /dev/vdc3 ]; do sleep 0.1; done
		root_cow=/dev/vdc3
		echo "0 $(cat /sys/class/block/vdb/size) snapshot /dev/vdb /dev/vdc2 N 16" |
			dmsetup create dmhome || die "cannot create dmhome"
		dmsetup mknodes dmhome
	fi
	echo "0 $(cat /sys/class/block/$root_dev/size) snapshot /dev/$root_dev $root_cow N 16" |
		dmsetup create dmroot || die "cannot create dmroot"
	dmsetup mknodes dmroot
else
	while ! [ -e /dev/vdc ]; do sleep 0.1; done
	printf 'label: dos\nstart=1MiB, size=%sMiB, type=82\n' "$swap_mib" |
		sfdisk -q /dev/vdc >/dev/null || die "sfdisk failed"
	while ! [ -e /dev/vdc1 ]; do sleep 0.1; done
	mkswap /dev/vdc1 >/dev/null
	ln -s "../$root_dev" /dev/mapper/dmroot
fi

# as the stock script (ext4 is built into this kernel: modprobe only looks)
modprobe ext4
mkdir -p /sysroot
mount -o rw /dev/mapper/dmroot /sysroot || die "cannot mount the root"
kver=$(uname -r)
if ! [ -d "/sysroot/lib/modules/$kver/kernel" ]; then
	while ! [ -e /dev/vdd ]; do sleep 0.1; done
	mkdir -p /tmp/modules
	mount -n -t ext3 -o ro /dev/vdd /tmp/modules
	if modprobe overlay; then
		mkdir -p /sysroot/lib/.modules_work
		mount -t overlay none /sysroot/lib/modules \
			-o "lowerdir=/tmp/modules,upperdir=/sysroot/lib/modules,workdir=/sysroot/lib/.modules_work"
	else
		mkdir -p "/sysroot/lib/modules/$kver"
		mount --bind "/tmp/modules/$kver" "/sysroot/lib/modules/$kver"
	fi
	umount /tmp/modules
fi

read -r up1 _ </proc/uptime
read -r _ _ _ _ pid1 </proc/loadavg
echo "$up0 $up1" | awk '{ printf "baseline-init: setup done in %d ms (%d ms since the kernel started)\n", ($2 - $1) * 1000, $2 * 1000 }'
echo "baseline-init: pids used $((pid1 - pid0))"
umount /dev /sys /proc
mount -o remount,ro /sysroot
exec switch_root /sysroot /sbin/init
