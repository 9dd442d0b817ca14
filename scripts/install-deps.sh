#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs what building and testing need on Debian 12 (run as root).
# Idempotent and quiet when everything is already there.
set -euo pipefail

PACKAGES=(
	build-essential make musl-tools linux-libc-dev libcmocka-dev clang
	qemu-system-x86 busybox-static cpio e2fsprogs fdisk kmod
	gzip zstd xz-utils python3 bc debootstrap fio dmsetup
	rpm rpmlint lintian debhelper python3-yaml python3-jinja2
	# the real qubesd of the dom0 tests (tests/dom0/real-qubesd)
	python3-lxml python3-docutils python3-pyinotify python3-libvirt python3-setuptools git
	# tests/vm: the real Qubes initramfs (dracut + qubes-linux-utils), gptfix (zlib)
	dracut-core zlib1g-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root or install them with apt-get" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
