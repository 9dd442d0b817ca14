#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Behaves as Qubes' mount-dirs.sh + setup-rwdev.sh + setup-rw.sh (written
# from their described behaviour): check or create the private file system on
# the private disk, mount /rw from fstab, grow it, bind /rw/home on /home.
set -e
dev=/dev/vdb
if [ -e "$dev" ]; then
	size=$(( $(blockdev --getsz "$dev") * 512 ))
	[ $size -gt 10485760 ] && size=10485760
	if cmp --bytes $size "$dev" /dev/zero >/dev/null 2>&1 && { blkid -p "$dev" >/dev/null; [ $? -eq 2 ]; }; then
		echo "Virgin boot of the VM: creating private.img filesystem on $dev" >&2
		mkfs.ext4 -m 0 -q "$dev"
	fi
	if fsck.ext4 -p "$dev" >&2; then echo "fsck.ext4 of $dev succeeded" >&2; else echo "fsck.ext4 $dev failed" >&2; fi
fi
if [ -e /dev/vdb ]; then mount /rw; fi
if mountpoint -q /rw; then
	resize2fs "$dev" >&2 || echo "resize2fs $dev failed" >&2
	[ -d /rw/config ] || mkdir /rw/config
fi
mkdir -p /rw/home
mount -o bind,nosuid,nodev /rw/home /home
