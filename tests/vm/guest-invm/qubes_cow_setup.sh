#!/bin/sh
# TEST STAND-IN for Qubes' qubes_cow_setup (qubes-linux-utils: initramfs-tools
# scripts/local-top/qubes_cow_setup = dracut 90qubes-vm pre-trigger hook),
# written from its documented behaviour (shared/QUBES-FACTS.md) with the test
# disk names (vda = xvda, vdc = xvdc): it refuses an existing dmroot, and for a
# read-only root partitions the volatile disk into 1 GiB swap + COW and makes
# dmroot a dm-snapshot. It says on the console that it ran, so the harness can
# tell that it ran in stock boots and never in ephemeral ones.
case "$1" in
prereqs)
	echo ""
	exit 0
	;;
esac
if [ -r /scripts/functions ]; then
	. /scripts/functions
	die() { panic "$@"; }
elif [ -r /lib/dracut-lib.sh ]; then
	. /lib/dracut-lib.sh
fi

grep -q 'root=[^ ]*dmroot' /proc/cmdline || exit 0
echo "QUBES-STANDIN cow_setup=ran" >/dev/console
[ -e /dev/mapper/dmroot ] && die "Qubes: FATAL error: /dev/mapper/dmroot already exists?!"

# as Qubes loads xen-blkfront: the block driver, then wait for the disk
modprobe virtio_pci 2>/dev/null
modprobe virtio_blk 2>/dev/null
i=0
while ! [ -b /dev/vda ] || ! [ -b /dev/vdc ]; do
	i=$((i + 1)); [ $i -gt 300 ] && die "stand-in: no /dev/vda or /dev/vdc"
	sleep 0.1
done
udevadm settle --exit-if-exists=/dev/vda3 2>/dev/null
if [ -e "/dev/disk/by-partlabel/Root\\x20filesystem" ]; then
	ROOT_DEV=$(readlink "/dev/disk/by-partlabel/Root\\x20filesystem")
	ROOT_DEV=${ROOT_DEV##*/}
elif [ -e /dev/vda3 ]; then
	ROOT_DEV=vda3
else
	ROOT_DEV=vda
fi
[ "$(cat /sys/class/block/"$ROOT_DEV"/ro)" = 1 ] || die "stand-in: only the read-only root (AppVM) case is modelled"

SWAP_512B=$((1024 * 1024 * 2))
[ "$(cat /sys/class/block/vdc/size)" -ge $SWAP_512B ] || die "volatile smaller than 1 GiB"
printf 'vdc1: type=82,start=1MiB,size=1GiB\nvdc2: type=83\n' | sfdisk -q /dev/vdc >/dev/null ||
	die "Qubes: failed to setup partitions on volatile device"
while ! [ -e /dev/vdc1 ] || ! [ -e /dev/vdc2 ]; do sleep 0.1; done
mkswap /dev/vdc1 >/dev/null
swapon /dev/vdc1
echo "0 $(cat /sys/class/block/"$ROOT_DEV"/size) snapshot /dev/$ROOT_DEV /dev/vdc2 N 16" |
	dmsetup --noudevsync create dmroot || die "Qubes: FATAL: cannot create dmroot!"
dmsetup mknodes dmroot
echo "QUBES-STANDIN cow_setup=done root=$ROOT_DEV" >/dev/console
