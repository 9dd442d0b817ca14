#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds (once, cached) a Debian 12 systemd root with Qubes-like units, as a
# GPT disk whose 3rd partition is "Root filesystem". Prints the image path.
#   tests/vm/systemd-root.sh CACHE_DIR
# The image is built under its cache entry's lock in a temporary folder and
# renamed in; the debootstrap base is copied only when nothing is mounted
# inside it, never across file systems (guard.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/guard.sh"
. "$here/systemd-userland.sh"
VM_CACHE=$1
vm_traps
PACKAGES=systemd-sysv,udev,kmod,e2fsprogs,util-linux,mount
# the cache key covers the package list and every file we put in
key=$( (echo "$PACKAGES"; cat "$here"/guest-systemd/* "$here"/systemd-userland.sh) | sha256sum | cut -c1-12)
img=$VM_CACHE/root-systemd-$key.img
[ -f "$img" ] && { echo "$img"; exit 0; }
vm_lock_entry "root-systemd-$key"
# another run may have built it while this one waited
[ -f "$img" ] && { echo "$img"; exit 0; }

debootstrap_base "$PACKAGES"
tmp= kx=
vm_tmpdir tmp
st=$tmp/root
vm_copy_tree "$BASE" "$st"
rm -f "$st/.done"
systemd_userland_install "$st"
vm_assert_no_mounts "$st"
qubes_disk_image "$st" 900 "$tmp/root.img"
mv "$tmp/root.img" "$img"
echo "$img"
