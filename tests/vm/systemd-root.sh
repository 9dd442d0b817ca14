#!/bin/bash
# Builds (once, cached) a Debian 12 systemd root with Qubes-like units, as a
# GPT disk whose 3rd partition is "Root filesystem". Prints the image path.
#   tests/vm/systemd-root.sh CACHE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/systemd-userland.sh"
cache=$1
PACKAGES=systemd-sysv,udev,kmod,e2fsprogs,util-linux,mount
# the cache key covers the package list and every file we put in
key=$( (echo "$PACKAGES"; cat "$here"/guest-systemd/* "$here"/systemd-userland.sh) | sha256sum | cut -c1-12)
img=$cache/root-systemd-$key.img
[ -f "$img" ] && { echo "$img"; exit 0; }
command -v debootstrap >/dev/null || { echo "systemd-root: debootstrap missing; run scripts/install-deps.sh" >&2; exit 1; }

base=$cache/debootstrap-$(echo "$PACKAGES" | sha256sum | cut -c1-12)
if [ ! -f "$base/.done" ]; then
	rm -rf "$base"
	echo "systemd-root: debootstrap of Debian 12 (a few minutes, once)" >&2
	debootstrap --variant=minbase --include="$PACKAGES" bookworm "$base" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
		{ echo "systemd-root: debootstrap failed, see $cache/debootstrap.log" >&2; exit 1; }
	rm -rf "$base"/var/cache/apt/archives/*.deb "$base"/var/lib/apt/lists/*
	touch "$base/.done"
fi

st=$cache/stage-systemd
rm -rf "$st"; cp -a "$base" "$st"; rm -f "$st/.done"
systemd_userland_install "$st"
qubes_disk_image "$st" 900 "$img.tmp"
rm -rf "$st"
mv "$img.tmp" "$img"
echo "$img"
