#!/bin/bash
# Builds (once, cached) a Debian 12 systemd root with the REAL Qubes agent's
# boot scripts and units (qubes-core-agent-linux) and block udev rules +
# gptfix (qubes-linux-utils), from the unmodified snapshots in
# ../shared/qubes-upstream, as their Makefiles install them, enabled by
# Qubes' own preset file. Stubbed (they need Xen or dom0): qubesdb
# (file-backed, guest-agent/), xenbus (a placeholder file). xvd* names are
# renamed vd* by qubes/xvd-to-vd.sed with counts checked (qubes/xvd-counts).
#   tests/vm/agent-root.sh CACHE_DIR      prints the disk image path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/systemd-userland.sh"
QUBES_CACHE=$1
. "$here/qubes/upstream.sh"
cache=$1
say() { echo "agent-root: $*" >&2; }
PACKAGES=systemd-sysv,udev,kmod,e2fsprogs,util-linux,mount,dmsetup,fdisk
agent=$(qubes_src qubes-core-agent-linux) || exit 1
utils=$(qubes_src qubes-linux-utils) || exit 1
key=$( (echo "$PACKAGES $agent $utils"; cat "$0" "$here"/guest-systemd/* "$here"/systemd-userland.sh "$here"/qubes/* "$here"/guest-agent/* "$here"/guest-agent/qubesdb/*) | sha256sum | cut -c1-12)
img=$cache/root-agent-$key.img
[ -f "$img" ] && { echo "$img"; exit 0; }
command -v debootstrap >/dev/null || { say "debootstrap missing; run scripts/install-deps.sh"; exit 1; }

base=$cache/debootstrap-agent-$(echo "$PACKAGES" | sha256sum | cut -c1-12)
exec 7>"$cache/.lock-agent-root"
flock 7
if [ ! -f "$base/.done" ]; then
	rm -rf "$base"
	say "debootstrap of Debian 12 (a few minutes, once)"
	debootstrap --variant=minbase --include="$PACKAGES" bookworm "$base" http://deb.debian.org/debian >"$cache/debootstrap-agent.log" 2>&1 ||
		{ say "debootstrap failed, see $cache/debootstrap-agent.log"; exit 1; }
	rm -rf "$base"/var/cache/apt/archives/*.deb "$base"/var/lib/apt/lists/*
	touch "$base/.done"
fi
# never copy a tree with something mounted below it
if [ -n "$(findmnt -rn -o TARGET | awk -v b="$base" 'index($0, b) == 1')" ]; then
	say "something is mounted below $base; unmount it first"; exit 1
fi
st=$cache/stage-agent
tmp=$(mktemp -d "$cache/tmp-agent.XXXXXX")
trap 'rm -rf "$st" "$tmp"' EXIT
rm -rf "$st"; cp -a "$base" "$st"; rm -f "$st/.done"

# the test services of the systemd scenarios (markers, report)
g=$here/guest-systemd
install -d "$st/usr/lib/qe-test" "$st/rw" "$st/var/log/journal" "$st/var/lib/qubes"
for f in qe-markers.sh qe-report.sh; do install -m 755 "$g/$f" "$st/usr/lib/qe-test/"; done
for u in qe-markers.service qe-report.service qe-swap-push.service; do install -m 644 "$g/$u" "$st/etc/systemd/system/"; done
echo qe-vm >"$st/etc/hostname"

# the real agent, where its Makefiles put it (LIBDIR=/usr/lib, SYSLIBDIR=/usr/lib)
A=$agent U=$utils
sub() { # REPO_ROOT REL DEST MODE
	local k
	case $1 in "$A") k=qubes-core-agent-linux ;; *) k=qubes-linux-utils ;; esac
	install -d "$(dirname "$3")"
	if grep -q xvd "$1/$2"; then qubes_subst "$1/$2" "$3" "$k:$2"; else cp "$1/$2" "$3"; fi
	chmod "$4" "$3"
}
L=$st/usr/lib/qubes/init
for f in setup-rwdev.sh setup-rw.sh resize-rootfs-if-needed.sh; do sub "$A" "init/$f" "$L/$f" 755; done
sub "$A" init/functions "$L/functions" 644
for f in mount-dirs.sh qubes-sysinit.sh qubes-early-vm-config.sh bind-dirs.sh; do sub "$A" "vm-systemd/$f" "$L/$f" 755; done
S=$st/usr/lib/systemd/system
for u in qubes-sysinit.service qubes-early-vm-config.service qubes-mount-dirs.service qubes-bind-dirs.service \
	qubes-rootfs-resize.service home.mount usr-local.mount; do sub "$A" "vm-systemd/$u" "$S/$u" 644; done
sub "$A" vm-systemd/dev-xvdc1-swap.service "$S/dev-vdc1-swap.service" 644
sub "$A" vm-systemd/75-qubes-vm.preset "$st/usr/lib/systemd/system-preset/75-qubes-vm.preset" 644
sub "$A" filesystem/fstab "$st/etc/fstab" 644
sub "$A" qubes-rpc/qubes.ResizeDisk "$st/etc/qubes-rpc/qubes.ResizeDisk" 755
sub "$A" qubes-rpc/resize-rootfs "$st/usr/lib/qubes/resize-rootfs" 755
R=$st/usr/lib/udev/rules.d
sub "$U" udev/udev-qubes-block.rules "$R/99-qubes-block.rules" 644
sub "$U" udev/udev-qubes-dmroot.rules "$R/90-qubes-dmroot.rules" 644
sub "$U" udev/udev-block-add-change "$st/usr/lib/qubes/udev-block-add-change" 755
sub "$U" udev/udev-block-remove "$st/usr/lib/qubes/udev-block-remove" 755
cp "$U"/gptfixer/gpt.c "$U"/gptfixer/Makefile "$tmp/"
make -s -C "$tmp" gpt >&2 || { say "cannot build gptfix (needs zlib1g-dev)"; exit 1; }
install -D -m 755 "$tmp/gpt" "$st/usr/sbin/gptfix"

# stubs of what needs Xen or dom0
s=$here/guest-agent
for t in read write rm multiread list; do install -m 755 "$s/qubesdb-stub" "$st/usr/bin/qubesdb-$t"; done
install -m 755 "$s/qubesdb-stub-start" "$s/qe-agent-report.sh" "$st/usr/lib/qe-test/"
install -d "$st/usr/lib/qe-test/qubesdb"
install -m 644 "$s"/qubesdb/* "$st/usr/lib/qe-test/qubesdb/"
install -m 644 "$s/qubes-db.service" "$S/qubes-db.service"

# users and group the package's postinst makes
chroot "$st" groupadd -f qubes
chroot "$st" useradd -m -u 1000 -G qubes -s /bin/bash user 2>/dev/null || true
# enabled as Qubes' preset does (only units that exist here)
chroot "$st" systemctl preset qubes-sysinit.service qubes-early-vm-config.service qubes-db.service \
	qubes-mount-dirs.service qubes-bind-dirs.service qubes-rootfs-resize.service dev-vdc1-swap.service >&2
chroot "$st" systemctl enable qe-markers.service qe-report.service >/dev/null 2>&1
chroot "$st" systemctl mask getty@tty1.service serial-getty@ttyS0.service >/dev/null 2>&1
qubes_disk_image "$st" 900 "$img.tmp"
mv "$img.tmp" "$img"
echo "$img"
