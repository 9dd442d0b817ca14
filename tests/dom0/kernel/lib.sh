# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# tests/dom0/kernel/lib.sh: fixture kernel folders shaped like Qubes'
# /var/lib/qubes/vm-kernels/VER (vmlinuz, initramfs, modules.img = ext3 with
# KVER/ + copies of vmlinuz and initramfs, default-kernelopts-common.txt,
# memory-hotplug-supported), made from the pinned Debian test kernel.
# Sourced by tests/dom0/kernel.sh and tests/dom0/kernel-boot-fixture.sh.

KT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
KT_CACHE=${KERNEL_TEST_CACHE:-$KT_REPO/tests/dom0/cache}
KT_PKG=${VM_KERNEL_PKG:-linux-image-6.1.0-56-cloud-amd64}

# -> KV KROOT (an extracted kernel package: boot/vmlinuz-KV, lib/modules/KV).
# Reuses the QEMU harness' cache when it has one, else downloads into ours
# (under a lock: two test scripts may fill the cache at once).
kt_kernel() {
	local lk rc
	mkdir -p "$KT_CACHE"
	exec {lk}>"$KT_CACHE/.kernel.lock"
	flock "$lk"
	_kt_kernel; rc=$?
	exec {lk}>&-
	return $rc
}
_kt_kernel() {
	local kv=${KT_PKG#linux-image-} vm=$KT_REPO/tests/vm/cache d deb
	for d in "$vm/kernel-$kv" "$KT_CACHE/kernel-$kv"; do
		if [ -f "$d/root/boot/vmlinuz-$kv" ] && [ -d "$d/root/lib/modules/$kv" ]; then
			KV=$kv KROOT=$d/root
			return 0
		fi
	done
	mkdir -p "$KT_CACHE/download"
	(
		cd "$KT_CACHE/download" || exit 1
		ls "${KT_PKG}"_*.deb >/dev/null 2>&1 || apt-get download "$KT_PKG" >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1; apt-get download "$KT_PKG" >/dev/null; }
	) || { echo "kernel fixture: cannot download $KT_PKG" >&2; return 1; }
	deb=$(ls "$KT_CACHE/download/${KT_PKG}"_*.deb | head -1)
	d=$KT_CACHE/kernel-$kv
	rm -rf "$d" && mkdir -p "$d/root" && dpkg-deb -x "$deb" "$d/root" || return 1
	if [ ! -d "$d/root/lib/modules/$kv" ] && [ -d "$d/root/usr/lib/modules/$kv" ]; then
		mkdir -p "$d/root/lib/modules" && mv "$d/root/usr/lib/modules/$kv" "$d/root/lib/modules/"
	fi
	depmod -b "$d/root" "$kv" 2>/dev/null
	KV=$kv KROOT=$d/root
}

# compress FORMAT < in > out (none = as is)
kt_compress() {
	case $1 in
	gzip) gzip -n -6 ;;
	zstd) zstd -q -3 -c ;;
	xz) xz -q --check=crc32 -c ;;
	none) cat ;;
	*) echo "kt_compress: unknown $1" >&2; return 1 ;;
	esac
}

# A small stand-in for dom0's dracut initramfs: busybox, an /init, a few
# modules; written as an uncompressed newc archive to OUT.
kt_base_cpio() { # WORKDIR OUT
	local w=$1/basetree m
	rm -rf "$w" && mkdir -p "$w"/{bin,dev,proc,sys,lib/modules/"$KV"}
	cp /bin/busybox "$w/bin/busybox"
	ln -s busybox "$w/bin/sh"
	printf '#!/bin/sh\necho "stock qubes init stand-in"\n' >"$w/init"
	chmod 755 "$w/init"
	for m in virtio_blk dm-snapshot; do
		find "$KROOT/lib/modules/$KV" -name "$m.ko*" -exec cp {} "$w/lib/modules/$KV/" \;
	done
	(cd "$w" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$2"
}

# An early uncompressed cpio as dracut makes for CPU microcode.
kt_early_cpio() { # WORKDIR OUT
	local w=$1/earlytree
	rm -rf "$w" && mkdir -p "$w/kernel/x86/microcode"
	head -c 8192 /dev/urandom >"$w/kernel/x86/microcode/GenuineIntel.bin"
	(cd "$w" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$2"
}

# KDIR/NAME with every file Qubes puts there. INITRD is the initramfs to use
# as is; MODDIR the modules folder to put at KV/ in modules.img.
kt_kernel_folder() { # KDIR NAME VMLINUZ INITRD MODDIR [EXTRA_MIB]
	local k=$1/$2 top mib
	top=$(mktemp -d "${TMPDIR:-/tmp}/kt-top.XXXXXX")
	mkdir -p "$k"
	cp "$3" "$k/vmlinuz"
	cp "$4" "$k/initramfs"
	echo "root=/dev/mapper/dmroot ro nomodeset console=hvc0 rd_NO_PLYMOUTH rd.plymouth.enable=0 plymouth.enable=0 xen_scrub_pages=0 " \
		>"$k/default-kernelopts-common.txt"
	: >"$k/memory-hotplug-supported"
	cp -a "$5" "$top/$KV"
	cp "$k/vmlinuz" "$top/vmlinuz"
	cp "$k/initramfs" "$top/initramfs"
	mib=$(( $(du -sm "$top" | cut -f1) * 5 / 4 + ${6:-8} ))
	truncate -s "${mib}M" "$k/modules.img"
	mkfs.ext3 -q -F -m 0 -d "$top" "$k/modules.img" >/dev/null
	rm -rf "$top"
	chmod 644 "$k"/*
}

# A small modules folder for modules.img (modules.dep + a few .ko).
kt_small_moddir() { # OUT
	mkdir -p "$1"
	cp "$KROOT/lib/modules/$KV"/modules.{dep,alias,builtin,order} "$1/" 2>/dev/null
	find "$KROOT/lib/modules/$KV" \( -name 'dm-crypt.ko*' -o -name 'dm-thin-pool.ko*' \) -exec cp {} "$1/" \;
	# the storage stack's modules at their modules.dep paths: what a variant carries
	local m
	for m in $(grep -E '/(dm-mod|dm-crypt|dm-thin-pool|aesni-intel|xts|ecb)\.ko[^:]*:' "$1/modules.dep" | tr -d ':'); do
		[ -f "$KROOT/lib/modules/$KV/$m" ] && install -D -m 644 "$KROOT/lib/modules/$KV/$m" "$1/$m"
	done
}
