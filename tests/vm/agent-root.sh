#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds (once, cached) a Debian 12 systemd root with the REAL Qubes agent's
# boot scripts and units (qubes-core-agent-linux) and block udev rules +
# gptfix (qubes-linux-utils), from the unmodified snapshots in
# ../shared/qubes-upstream, as their Makefiles install them, enabled by
# Qubes' own preset file. Stubbed (they need Xen or dom0): qubesdb
# (file-backed, guest-agent/), xenbus (a placeholder file unless Xen's is there).
#   tests/vm/agent-root.sh CACHE_DIR [qemu|xen]     prints the disk image path
# qemu (default, tests/vm): the disks are QEMU's virtio vda..vdd, so xvd*
# names are renamed vd* by qubes/xvd-to-vd.sed with counts checked
# (qubes/xvd-counts). xen (tests/xen): the disks are Xen's xvda..xvdd and
# Qubes' files go in unmodified; the console is hvc0 and a few units that
# nothing here tests are masked (TCG under nested Xen is slow).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/guard.sh"
. "$here/systemd-userland.sh"
VM_CACHE=$1 QUBES_CACHE=$1 MODE=${2:-qemu}
case $MODE in
qemu) P=vd NAME=root-agent ;;
xen) P=xvd NAME=root-agent-xen ;;
*) echo "agent-root: unknown mode '$MODE' (qemu or xen)" >&2; exit 2 ;;
esac
. "$here/qubes/upstream.sh"
vm_traps
say() { echo "agent-root: $*" >&2; }
PACKAGES=systemd-sysv,udev,kmod,e2fsprogs,util-linux,mount,dmsetup,fdisk
# xen: masked (Debian's timers, login and accounting, pseudo file systems;
# none is a Qubes unit, none is what a check looks at): each unit costs
# seconds of a systemd boot under TCG in nested Xen
XEN_MASK="serial-getty@hvc0.service getty.target getty-static.service systemd-logind.service systemd-user-sessions.service
	systemd-update-utmp.service systemd-update-utmp-runlevel.service systemd-random-seed.service
	systemd-pstore.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount e2scrub_reap.service
	sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount
	dev-hugepages.mount dev-mqueue.mount systemd-ask-password-wall.path
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer
	systemd-tmpfiles-clean.timer"
agent=$(qubes_src qubes-core-agent-linux) || exit 1
utils=$(qubes_src qubes-linux-utils) || exit 1
key=$( (echo "$PACKAGES $agent $utils $MODE"; cat "$0" "$here"/guard.sh "$here"/systemd-userland.sh "$here"/guest-systemd/* "$here"/qubes/*;
	find "$here/guest-agent" -type f | sort | xargs cat) | sha256sum | cut -c1-12)
img=$VM_CACHE/$NAME-$key.img
[ -f "$img" ] && { echo "$img"; exit 0; }
vm_lock_entry "$NAME-$key"
# another run may have built it while this one waited
[ -f "$img" ] && { echo "$img"; exit 0; }

debootstrap_base "$PACKAGES"
vm_tmpdir tmp
st=$tmp/root
vm_copy_tree "$BASE" "$st"
rm -f "$st/.done"
mkdir "$tmp/gptfix"

# the test services of the systemd scenarios (markers, report)
g=$here/guest-systemd
install -d "$st/usr/lib/qe-test" "$st/rw" "$st/var/log/journal" "$st/var/lib/qubes"
for f in qe-markers.sh qe-report.sh; do install -m 755 "$g/$f" "$st/usr/lib/qe-test/"; done
for u in qe-markers.service qe-report.service qe-swap-push.service; do install -m 644 "$g/$u" "$st/etc/systemd/system/"; done
echo qe-vm >"$st/etc/hostname"

# the real agent, where its Makefiles put it (LIBDIR=/usr/lib, SYSLIBDIR=/usr/lib);
# for QEMU with xvd* renamed vd* (counts checked), for Xen as they are
A=$agent U=$utils
sub() { # REPO_ROOT REL DEST MODE
	local k
	case $1 in "$A") k=qubes-core-agent-linux ;; *) k=qubes-linux-utils ;; esac
	install -d "$(dirname "$3")"
	if [ "$MODE" = qemu ] && grep -q xvd "$1/$2"; then qubes_subst "$1/$2" "$3" "$k:$2"; else cp "$1/$2" "$3"; fi
	chmod "$4" "$3"
}
L=$st/usr/lib/qubes/init
for f in setup-rwdev.sh setup-rw.sh resize-rootfs-if-needed.sh; do sub "$A" "init/$f" "$L/$f" 755; done
sub "$A" init/functions "$L/functions" 644
for f in mount-dirs.sh qubes-sysinit.sh qubes-early-vm-config.sh bind-dirs.sh; do sub "$A" "vm-systemd/$f" "$L/$f" 755; done
S=$st/usr/lib/systemd/system
for u in qubes-sysinit.service qubes-early-vm-config.service qubes-mount-dirs.service qubes-bind-dirs.service \
	qubes-rootfs-resize.service home.mount usr-local.mount; do sub "$A" "vm-systemd/$u" "$S/$u" 644; done
sub "$A" vm-systemd/dev-xvdc1-swap.service "$S/dev-${P}c1-swap.service" 644
sub "$A" vm-systemd/75-qubes-vm.preset "$st/usr/lib/systemd/system-preset/75-qubes-vm.preset" 644
sub "$A" filesystem/fstab "$st/etc/fstab" 644
sub "$A" qubes-rpc/qubes.ResizeDisk "$st/etc/qubes-rpc/qubes.ResizeDisk" 755
sub "$A" qubes-rpc/resize-rootfs "$st/usr/lib/qubes/resize-rootfs" 755
R=$st/usr/lib/udev/rules.d
sub "$U" udev/udev-qubes-block.rules "$R/99-qubes-block.rules" 644
sub "$U" udev/udev-qubes-dmroot.rules "$R/90-qubes-dmroot.rules" 644
sub "$U" udev/udev-block-add-change "$st/usr/lib/qubes/udev-block-add-change" 755
sub "$U" udev/udev-block-remove "$st/usr/lib/qubes/udev-block-remove" 755
cp "$U"/gptfixer/gpt.c "$U"/gptfixer/Makefile "$tmp/gptfix/"
make -s -C "$tmp/gptfix" gpt >&2 || { say "cannot build gptfix (needs zlib1g-dev)"; exit 1; }
install -D -m 755 "$tmp/gptfix/gpt" "$st/usr/sbin/gptfix"

# stubs of what needs Xen or dom0
s=$here/guest-agent
for t in read write rm multiread list; do install -m 755 "$s/qubesdb-stub" "$st/usr/bin/qubesdb-$t"; done
install -m 755 "$s/qubesdb-stub-start" "$s/qe-agent-report.sh" "$st/usr/lib/qe-test/"
install -d "$st/usr/lib/qe-test/qubesdb"
install -m 644 "$s"/qubesdb/* "$st/usr/lib/qe-test/qubesdb/"
install -m 644 "$s/qubes-db.service" "$S/qubes-db.service"
install -D -m 644 "$s/device-timeout.conf" "$st/etc/systemd/system/dev-${P}b.device.d/qe-tcg-timeout.conf"

# users and group the package's postinst makes
chroot "$st" groupadd -f qubes
chroot "$st" useradd -m -u 1000 -G qubes -s /bin/bash user 2>/dev/null || true
# enabled as Qubes' preset does (only units that exist here)
chroot "$st" systemctl preset qubes-sysinit.service qubes-early-vm-config.service qubes-db.service \
	qubes-mount-dirs.service qubes-bind-dirs.service qubes-rootfs-resize.service "dev-${P}c1-swap.service" >&2
chroot "$st" systemctl enable qe-markers.service qe-report.service >/dev/null 2>&1
chroot "$st" systemctl mask getty@tty1.service serial-getty@ttyS0.service >/dev/null 2>&1
if [ "$MODE" = xen ]; then
	# Xen's console is hvc0; and what no check here looks at, never a Qubes unit
	# shellcheck disable=SC2086  # a list of units
	chroot "$st" systemctl mask $XEN_MASK >/dev/null 2>&1 || { say "cannot mask $XEN_MASK"; exit 1; }
	# 24 MiB through the 8 MiB cgroup reach swap as well as 64 (tests/xen's busybox guests push 24 too)
	install -d "$st/etc/systemd/system/qe-swap-push.service.d"
	printf '[Service]\nExecStart=\nExecStart=%s\n' "/bin/sh -c 'for i in \$(seq 24); do cat /run/qe-marker; done > /dev/shm/qe-fill'" \
		>"$st/etc/systemd/system/qe-swap-push.service.d/qe-xen.conf"
fi
vm_assert_no_mounts "$st"
qubes_disk_image "$st" 900 "$tmp/root.img"
mv "$tmp/root.img" "$img"
echo "$img"
