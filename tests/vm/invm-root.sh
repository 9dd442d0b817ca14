#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds (cached) a Debian 12 template root for the in-VM kernel scenarios:
# the systemd root of systemd-root.sh plus the test kernel (unpacked, as
# /boot/vmlinuz-KVER and /lib/modules/KVER), stand-ins for Qubes' own COW
# hook (guest-invm/), qubes-ephemeral installed with `make install-vm`, and
# an initramfs generated inside that root (chroot) by its own generator.
#   tests/vm/invm-root.sh initramfs-tools|dracut CACHE_DIR KERNEL_DEB KVER
# Prints three lines: the disk image (GPT, 3rd partition "Root filesystem"),
# the kernel and the initramfs made inside the image.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/guard.sh"
. "$here/systemd-userland.sh"
repo=$(cd "$here/../.." && pwd)
flavour=$1 cache=$2 deb=$3 kver=$4
case $flavour in
initramfs-tools) PACKAGES=systemd-sysv,udev,kmod,e2fsprogs,util-linux,mount,initramfs-tools,busybox,dmsetup,fdisk ;;
# Debian 12's dracut conflicts with initramfs-tools: a root of its own
dracut) PACKAGES=systemd-sysv,udev,kmod,e2fsprogs,util-linux,mount,dracut,dmsetup,fdisk ;;
*) echo "invm-root: unknown flavour '$flavour' (initramfs-tools or dracut)" >&2; exit 2 ;;
esac
say() { echo "invm-root: $*" >&2; }
VM_CACHE=$cache
vm_traps

# the key covers the packages, every file we put in, the kernel and this script
key=$( (echo "$PACKAGES $(basename "$deb")"; cat "$0" "$here"/systemd-userland.sh "$here"/guard.sh "$here"/guest-systemd/* "$here"/qubes/* \
	"$repo/build/ephemeral-init"; echo "${QUBES_BRANCH:-release4.3}"; find "$repo/vm" -type f | sort | xargs cat) | sha256sum | cut -c1-12)
out=$cache/invm-$flavour-$key
built() { [ -f "$out.img" ] && [ -f "$out.vmlinuz" ] && [ -f "$out.initrd" ]; }
if built; then printf '%s\n' "$out.img" "$out.vmlinuz" "$out.initrd"; exit 0; fi
vm_lock_entry "invm-$flavour"
# another run may have built it while this one waited
if built; then printf '%s\n' "$out.img" "$out.vmlinuz" "$out.initrd"; exit 0; fi

debootstrap_base "$PACKAGES"
# the stage: a temporary folder in the cache; on every exit path the mounts
# made in it (proc, sys, dev for the chroot) are taken down, then it goes
tmp= kx=
vm_tmpdir tmp
st=$tmp/root
vm_copy_tree "$BASE" "$st"
rm -f "$st/.done"

# the userland of the systemd scenario (Qubes-like units, test services)
systemd_userland_install "$st"
vm_assert_no_mounts "$st"

# the kernel as the template has it, without running its maintainer scripts
vm_tmpdir kx
dpkg-deb -x "$deb" "$kx"
install -d "$st/boot" "$st/usr/lib/modules"
cp -a "$kx/boot/." "$st/boot/"
if [ -d "$kx/lib/modules/$kver" ]; then cp -a "$kx/lib/modules/$kver" "$st/usr/lib/modules/"; else cp -a "$kx/usr/lib/modules/$kver" "$st/usr/lib/modules/"; fi
rm -rf "$kx"
chroot "$st" depmod "$kver"
vm_assert_no_mounts "$st"

# Qubes' real hooks (qubes-linux-utils, unmodified snapshot), where its
# Makefiles install them, with gptfix built from its source; the COW script
# names xvd*: renamed vd* with its count checked (qubes/xvd-counts)
QUBES_CACHE=$cache
. "$here/qubes/upstream.sh"
u=$(qubes_src qubes-linux-utils) || exit 1
vm_tmpdir gx
cp "$u"/gptfixer/gpt.c "$u"/gptfixer/Makefile "$gx/"
make -s -C "$gx" gpt >&2 || { say "cannot build gptfix (needs zlib1g-dev)"; exit 1; }
install -D -m 755 "$gx/gpt" "$st/usr/sbin/gptfix"
case $flavour in
initramfs-tools)
	c=$st/usr/share/initramfs-tools/scripts/local-top/qubes_cow_setup
	install -d "$(dirname "$c")"
	qubes_subst "$u/initramfs-tools/local-top/qubes_cow_setup.sh" "$c" qubes-linux-utils:initramfs-tools/local-top/qubes_cow_setup.sh
	chmod 755 "$c"
	install -D -m 755 "$u/initramfs-tools/qubes_vm" "$st/usr/share/initramfs-tools/hooks/qubes_vm"
	install -D -m 644 "$u/initramfs-tools/qubes.conf" "$st/usr/share/initramfs-tools/conf.d/qubes.conf"
	# test only: Qubes' MODULES=dep needs the device of /, which a chroot in
	# a cache folder does not have ("failed to determine device for /"); in
	# a template / is xvda. The template's own conf.d (read last) says most.
	install -D -m 644 /dev/null "$st/etc/initramfs-tools/conf.d/zz-qe-chroot.conf"
	echo 'MODULES=most' >"$st/etc/initramfs-tools/conf.d/zz-qe-chroot.conf" ;;
dracut)
	d=$st/usr/lib/dracut/modules.d/90qubes-vm
	install -D -m 755 "$u/dracut/full-dmroot/module-setup.sh" "$d/module-setup.sh"
	qubes_subst "$u/dracut/full-dmroot/qubes_cow_setup.sh" "$d/qubes_cow_setup.sh" qubes-linux-utils:dracut/full-dmroot/qubes_cow_setup.sh
	chmod 755 "$d/qubes_cow_setup.sh"
	# the module is included where the agent package's marker says "a qube"
	install -D -m 644 /dev/null "$st/usr/share/qubes/marker-vm"
	# Qubes' module installs sfdisk, swapon, mkswap, gptfix but its script also
	# runs grep, which Debian's dracut puts in no initramfs (seen: "grep:
	# command not found", then "dmroot not requested" and a hang waiting for
	# dmroot); the template's dracut configuration adds it
	echo 'install_items+=" /usr/bin/grep "' >"$st/etc/dracut.conf.d/qe-test-grep.conf"
	# TEST ONLY (QEMU, not Xen): Qubes' script loads the Xen block driver
	# itself at pre-trigger and reads /dev/xvda at once (under Xen the disks
	# come with it). Here the disks are virtio, whose drivers udev loads only
	# at the coldplug trigger, after that hook: without this, "gptfix: Cannot
	# open /dev/vda" stops the stock boot. Its `modprobe xenblk` loads them
	# instead; the script itself stays as Qubes ships it.
	install -D -m 644 "$here/qubes/xenblk-virtio-dracut.conf" "$st/etc/modprobe.d/qe-test-xenblk-virtio.conf"
	echo 'install_items+=" /etc/modprobe.d/qe-test-xenblk-virtio.conf "' >"$st/etc/dracut.conf.d/qe-test-xenblk-virtio.conf" ;;
esac
make -s -C "$repo" install-vm DESTDIR="$st" PREFIX=/usr >&2

# the initramfs, made inside the template by its own tools
mount -t proc proc "$st/proc"
mount -t sysfs sysfs "$st/sys"
mount --bind /dev "$st/dev"
mount -o remount,bind,ro "$st/dev"
case $flavour in
initramfs-tools) chroot "$st" mkinitramfs -o "/boot/initrd.img-$kver" "$kver" >&2 ;;
dracut) chroot "$st" dracut --force --no-hostonly --kver "$kver" "/boot/initrd.img-$kver" >"$cache/invm-dracut.log" 2>&1 ||
	{ tail -20 "$cache/invm-dracut.log" >&2; say "dracut failed, see $cache/invm-dracut.log"; exit 1; } ;;
esac
# the chroot is done: nothing may stay mounted in the stage it packs
vm_umount_below "$st"
cp "$st/boot/vmlinuz-$kver" "$tmp/vmlinuz"
cp "$st/boot/initrd.img-$kver" "$tmp/initrd"
qubes_disk_image "$st" 1100 "$tmp/img"
# older builds of this flavour go (the lock is held: nobody builds them now)
for f in "$cache"/invm-"$flavour"-*; do case $f in "$out".*) ;; *) rm -f "$f" ;; esac; done
# the image last: its presence with the other two is what "built" means
mv "$tmp/vmlinuz" "$out.vmlinuz"; mv "$tmp/initrd" "$out.initrd"; mv "$tmp/img" "$out.img"
printf '%s\n' "$out.img" "$out.vmlinuz" "$out.initrd"
