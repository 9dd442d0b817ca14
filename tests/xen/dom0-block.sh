#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/xen: the block hotplug script of the tests' dom0, for phy: disks only
# (xl disk spec "script=/qe-block"). It does what Xen's own
# /etc/xen/scripts/block does for a block device on "add": tell blkback which
# device (physical-device = major:minor in hex). Xen's script hung in its
# device-sharing check in this busybox dom0 (see README.md); the sharing check
# is moot here (dom0 attaches each writable disk to one domain only).
case $1 in
add) ;;
*) exit 0 ;;
esac
p=$(xenstore-read "$XENBUS_PATH/params") || exit 1
[ -b "$p" ] || { xenstore-write "$XENBUS_PATH/hotplug-error" "$p is not a block device"; exit 1; }
xenstore-write "$XENBUS_PATH/physical-device" "$(stat -L -c %t:%T "$p")" \
	"$XENBUS_PATH/physical-device-path" "$p" "$XENBUS_PATH/hotplug-status" connected
