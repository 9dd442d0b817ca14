# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034  # variables are set for run.sh
# tests/vm/lib.sh: kernel and disk images for the QEMU end-to-end harness.
# Sourced by run.sh (bash, set -euo pipefail). Everything built here goes to
# the cache ($VM_CACHE), keyed by the kernel version and, where the content
# depends on our own files, by a hash of those inputs.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_REPO=$(cd "$VM_DIR/../.." && pwd)
VM_CACHE=${VM_CACHE:-$VM_DIR/cache}
# shellcheck source=tests/vm/qubes/upstream.sh
. "$VM_DIR/qubes/upstream.sh"
# The pinned kernel ABI package: a Debian update cannot change the modules
# under the tests. Falls back (with a warning) to what linux-image-cloud-amd64
# depends on when the pinned one is no longer downloadable.
VM_KERNEL_PKG=${VM_KERNEL_PKG:-linux-image-6.1.0-56-cloud-amd64}

# Modules the stand-in for dom0's dracut initramfs carries (Qubes' carries the
# block driver and dm_snapshot only); their modules.dep closure is added.
BASE_INITRD_MODULES=(virtio_blk virtio_pci virtio_pci_modern_dev virtio_pci_legacy_dev
	virtio virtio_ring dm-mod dm-snapshot dm-bufio)

ROOT_IMG_MIB=96
PRIVATE_IMG_MIB=64
VOLATILE_IMG_SIZE=2G

die() { echo "vm: error: $*" >&2; exit 1; }
note() { echo "vm: $*" >&2; }

need_tools() {
	local t missing=()
	for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
	[ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (run scripts/install-deps.sh as root)"
}

# A short hash for cache keys: of the builder functions' own text (so an
# edit of a builder rebuilds its product), of input files and of $EXTRA_KEY.
inputs_hash() { # FUNCTION... -- FILE...
	{
		while [ $# -gt 0 ] && [ "$1" != -- ]; do declare -f "$1"; shift; done
		[ $# -gt 0 ] && shift
		[ $# -gt 0 ] && sha256sum "$@" | awk '{print $1}'
		echo "${EXTRA_KEY:-}"
	} | sha256sum | cut -c1-16
}

# Removes the cache entries matching GLOB except KEEP (older builds).
prune_cache() { # GLOB KEEP
	local f
	for f in "$VM_CACHE"/$1; do
		[ -e "$f" ] && [ "$f" != "$2" ] && rm -f "$f"
	done
	return 0
}

# Locks per cache entry (with_entry_lock, with_cache_lock), temporary folders
# removed on every exit path (vm_tmpdir), mount guards (vm_copy_tree): guard.sh
. "$VM_DIR/guard.sh"
vm_traps

# ---------------------------------------------------------------- kernel
_kernel_download() { # PKG DIR -> the .deb path on stdout, or fails
	local pkg=$1 dir=$2 deb
	for deb in "$dir/${pkg}"_*.deb; do [ -f "$deb" ] && { echo "$deb"; return 0; }; done
	( cd "$dir" && apt-get download "$pkg" >/dev/null 2>"$dir/apt.err" ) || return 1
	for deb in "$dir/${pkg}"_*.deb; do [ -f "$deb" ] && { echo "$deb"; return 0; }; done
	return 1
}

_kernel_build() {
	local pkg=$VM_KERNEL_PKG dl=$VM_CACHE/download deb kver dir
	mkdir -p "$dl"
	if ! deb=$(_kernel_download "$pkg" "$dl"); then
		note "apt-get download $pkg failed; running apt-get update and retrying"
		apt-get update -qq >/dev/null 2>&1 || note "apt-get update failed (offline?)"
		if ! deb=$(_kernel_download "$pkg" "$dl"); then
			local dep
			dep=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
				awk '/Depends: linux-image-[0-9]/{print $2; exit}')
			[ -n "$dep" ] || die "cannot download $pkg and cannot resolve linux-image-cloud-amd64: $(cat "$dl/apt.err" 2>/dev/null)"
			echo "vm: WARNING: pinned kernel $pkg cannot be downloaded; using $dep instead" >&2
			pkg=$dep
			deb=$(_kernel_download "$pkg" "$dl") || die "cannot download $pkg: $(cat "$dl/apt.err" 2>/dev/null)"
		fi
	fi
	kver=${pkg#linux-image-}
	dir=$VM_CACHE/kernel-$kver
	if [ ! -e "$dir/.done" ]; then
		note "extracting $(basename "$deb")"
		local tmp
		vm_tmpdir tmp
		mkdir -p "$tmp/root"
		dpkg-deb -x "$deb" "$tmp/root"
		# usrmerged packages ship usr/lib/modules
		if [ ! -d "$tmp/root/lib/modules/$kver" ] && [ -d "$tmp/root/usr/lib/modules/$kver" ]; then
			mkdir -p "$tmp/root/lib/modules"
			mv "$tmp/root/usr/lib/modules/$kver" "$tmp/root/lib/modules/"
		fi
		[ -d "$tmp/root/lib/modules/$kver" ] || die "$deb has no lib/modules/$kver"
		[ -f "$tmp/root/boot/vmlinuz-$kver" ] || die "$deb has no boot/vmlinuz-$kver"
		depmod -b "$tmp/root" "$kver"
		touch "$tmp/.done"
		# an unfinished folder of an older harness goes; the complete one is renamed in
		vm_remove_tree "$dir" || die "cannot remove the unfinished $dir"
		mv -T "$tmp" "$dir"
	fi
	echo "$kver" >"$VM_CACHE/kernel.current.tmp.$BASHPID"
	mv "$VM_CACHE/kernel.current.tmp.$BASHPID" "$VM_CACHE/kernel.current"
}

kernel_prepare() { # -> KVER KROOT VMLINUZ KMODS
	need_tools apt-get dpkg-deb depmod
	with_entry_lock kernel _kernel_build
	KVER=$(cat "$VM_CACHE/kernel.current")
	KROOT=$VM_CACHE/kernel-$KVER/root
	VMLINUZ=$KROOT/boot/vmlinuz-$KVER
	KMODS=$KROOT/lib/modules/$KVER
}

# ---------------------------------------------------------------- modules disk (vdd)
# ext3 whose top level is KVER/, as Qubes' modules.img (mounted, overlaid on /lib/modules).
_modules_img_build() { # OUT
	local out=$1 tmp kib
	[ -f "$out" ] && return 0
	note "building the modules disk for $KVER"
	vm_tmpdir tmp
	mkdir -p "$tmp/top"
	vm_copy_tree "$KMODS" "$tmp/top/$KVER" || die "cannot copy $KMODS"
	kib=$(du -sk "$tmp/top" | awk '{print $1}')
	kib=$(( kib + kib / 4 + 16384 ))
	truncate -s "${kib}K" "$tmp/modules.img"
	mkfs.ext3 -q -F -b 4096 -L modules -E nodiscard -d "$tmp/top" "$tmp/modules.img" >/dev/null
	prune_cache "modules-$KVER-*.img" "$out"
	mv "$tmp/modules.img" "$out"
	rm -rf "$tmp"
}

modules_img() { # -> MODULES_IMG
	local key
	key=$(EXTRA_KEY=$KVER inputs_hash _modules_img_build)
	MODULES_IMG=$VM_CACHE/modules-$KVER-$key.img
	with_cache_lock _modules_img_build "$MODULES_IMG"
}

# A modules disk lacking some modules (fault scenarios): the same tree minus
# those .ko files, depmod'ed again. -> MODULES_FAULT_IMG
modules_img_without() { # NAME MODULE...
	local name=$1; shift
	MODULES_FAULT_IMG=$VM_CACHE/modfault-$KVER-$name.img
	with_cache_lock _modules_img_without_build "$@" "$MODULES_FAULT_IMG"
}

_modules_img_without_build() { # MODULE... OUT
	local out=${!#} tmp m kib
	[ -f "$out" ] && return 0
	vm_tmpdir tmp
	mkdir -p "$tmp/root/lib/modules"
	vm_copy_tree "$KMODS" "$tmp/root/lib/modules/$KVER" || die "cannot copy $KMODS"
	for m in "${@:1:$#-1}"; do find "$tmp/root/lib/modules/$KVER" -name "$m.ko*" -delete; done
	depmod -b "$tmp/root" "$KVER" || die "depmod failed for $(basename "$out")"
	kib=$(du -sk "$tmp/root/lib/modules" | awk '{print $1}')
	truncate -s "$(( kib + kib / 4 + 16384 ))K" "$tmp/m.img"
	mkfs.ext3 -q -F -b 4096 -L modules -E nodiscard -d "$tmp/root/lib/modules" "$tmp/m.img" >/dev/null
	mv "$tmp/m.img" "$out"
	rm -rf "$tmp"
}

# ---------------------------------------------------------------- base initramfs
# The base initramfs (the real Qubes one, gzip) without MODULE... (their
# .ko files gone, depmod again): with modules_img_without, a kernel that has
# the module nowhere. -> BASE_FAULT_INITRD
base_initrd_without() { # NAME MODULE...
	local name=$1; shift
	BASE_FAULT_INITRD=$VM_CACHE/modfault-initrd-$(basename "$BASE_INITRD" .img | sed 's/^qubes-initramfs-//')-$name.img
	with_cache_lock _base_initrd_without_build "$BASE_INITRD" "$@" "$BASE_FAULT_INITRD"
}

_base_initrd_without_build() { # BASE MODULE... OUT
	local base=$1 out=${!#} tmp m n
	[ -f "$out" ] && return 0
	[ "$(head -c 2 "$base" | od -An -tx1 | tr -d ' ')" = 1f8b ] || die "$base is not gzip'ed (expected from qubes_initrd)"
	vm_tmpdir tmp
	mkdir "$tmp/root"
	(cd "$tmp/root" && gzip -dc "$base" | cpio -idm --quiet --no-absolute-filenames) || die "cannot unpack $base"
	for m in "${@:2:$#-2}"; do
		n=$(find "$tmp/root/usr/lib/modules/$KVER" -name "$m.ko*" | wc -l)
		[ "$n" -ge 1 ] || die "$(basename "$base") holds no $m.ko: nothing to remove (has the base changed?)"
		find "$tmp/root/usr/lib/modules/$KVER" -name "$m.ko*" -delete
	done
	depmod -b "$tmp/root" "$KVER" || die "depmod failed for $(basename "$out")"
	(cd "$tmp/root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9) >"$tmp/i.img" ||
		die "cannot pack $(basename "$out")"
	mv "$tmp/i.img" "$out"
	vm_remove_tree "$tmp"
}

# Closure of module names over modules.dep; prints the relative .ko paths.
module_closure() { # MODDIR NAME...
	local moddir=$1; shift
	awk -v want="$*" '
		function norm(s) { gsub(/-/, "_", s); return s }
		function base(p,   n) { n = p; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); return norm(n) }
		BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) todo[norm(w[i])] = 1 }
		{ mod = $1; sub(/:$/, "", mod); line[base(mod)] = $0; path[base(mod)] = mod }
		END {
			changed = 1
			while (changed) {
				changed = 0
				for (m in todo) {
					if (m in done) continue
					done[m] = 1; changed = 1
					if (!(m in path)) { print "vm: module " m " not in modules.dep" > "/dev/stderr"; bad = 1; continue }
					k = split(line[m], f, /[: ]+/)
					for (i = 2; i <= k; i++) if (f[i] != "") todo[base(f[i])] = 1
				}
			}
			for (m in done) if (m in path) print path[m]
			exit bad
		}' "$moddir/modules.dep"
}

_base_initrd_build() { # OUT
	local out=$1 tmp st m mods
	[ -f "$out" ] && return 0
	note "building the base initramfs (stand-in for dom0's dracut initramfs)"
	vm_tmpdir tmp
	st=$tmp/root
	mkdir -p "$st"/{bin,dev,proc,sys,run,lib/modules/"$KVER"}
	cp /bin/busybox "$st/bin/busybox"
	ln -s busybox "$st/bin/sh"
	mknod "$st/dev/console" c 5 1
	mknod "$st/dev/null" c 1 3
	mods=$(module_closure "$KMODS" "${BASE_INITRD_MODULES[@]}") ||
		die "cannot resolve the base initramfs modules (${BASE_INITRD_MODULES[*]})"
	for m in $mods; do
		mkdir -p "$st/lib/modules/$KVER/$(dirname "$m")"
		cp "$KMODS/$m" "$st/lib/modules/$KVER/$m"
	done
	for m in modules.builtin modules.builtin.modinfo modules.order; do
		[ -f "$KMODS/$m" ] && cp "$KMODS/$m" "$st/lib/modules/$KVER/"
	done
	depmod -b "$st" "$KVER"
	grep -q 'virtio:' "$st/lib/modules/$KVER/modules.alias" ||
		die "base initramfs: modules.alias has no virtio aliases"
	cat >"$st/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc 2>/dev/null
echo "base initramfs /init ran (ours was not appended)"
/bin/busybox poweroff -f
EOF
	chmod 755 "$st/init"
	( cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 ) |
		gzip -9 -n >"$tmp/base.cpio.gz"
	prune_cache "base-initramfs-$KVER-*.cpio.gz" "$out"
	mv "$tmp/base.cpio.gz" "$out"
	rm -rf "$tmp"
}

# The busybox stand-in above (STANDIN_INITRD) is kept for bench/ only; the
# tests' base is the real Qubes initramfs (qubes_initrd, below).
standin_initrd() { # -> STANDIN_INITRD
	local key
	key=$(EXTRA_KEY="$KVER ${BASE_INITRD_MODULES[*]}" inputs_hash _base_initrd_build module_closure -- /bin/busybox)
	STANDIN_INITRD=$VM_CACHE/base-initramfs-$KVER-$key.cpio.gz
	with_cache_lock _base_initrd_build "$STANDIN_INITRD"
}

base_initrd() { # -> BASE_INITRD (the real Qubes initramfs)
	qubes_initrd
	BASE_INITRD=$QUBES_INITRD
}


# ---------------------------------------------------------------- the real Qubes initramfs
# Built as dom0 builds VER/initramfs for its VM kernels (qubes-linux-utils
# kernel-modules/qubes-prepare-vm-kernel, build_initramfs): Debian's dracut
# with the unmodified dracut/simple module of qubes-linux-utils as
# 90qubes-vm-simple and the same options and driver list. Differences, all
# forced by QEMU (the disks are virtio-blk, not Xen's blkfront):
#  - drivers virtio_pci virtio_blk are added to Qubes' list, and
#    qubes/xenblk-virtio.conf makes init.sh's own `modprobe xenblk` load them
#    (no udev runs in that initramfs to load them by alias);
#  - init.sh names xvda..xvdd, also in /sys paths: renamed vd* by
#    qubes/xvd-to-vd.sed with its exact match count checked (qubes_subst);
#  - --kmoddir (the test kernel is not installed on the host), --gzip (the
#    fixture recompresses it as Qubes' zstd), an empty --confdir instead of
#    Fedora's /var/empty (absent on Debian).
# gptfix is built from qubes-linux-utils' gptfixer/gpt.c with its Makefile.
QUBES_INITRD_DRIVERS="xenblk xen-blkfront cdrom ext4 jbd2 crc16 dm_snapshot"
QUBES_INITRD_QEMU_DRIVERS="virtio_pci virtio_blk"
_qubes_initrd_build() { # UTILS_SRC OUT
	local src=$1 out=$2 tmp
	[ -f "$out" ] && return 0
	note "building the real Qubes initramfs (dracut + qubes-linux-utils dracut/simple)"
	vm_tmpdir tmp || return 1
	# dracut's own tree plus Qubes' module, as dom0 has it in /usr/lib/dracut
	cp -a --one-file-system /usr/lib/dracut "$tmp/dracut"
	local m=$tmp/dracut/modules.d/90qubes-vm-simple
	mkdir -p "$m" "$tmp/empty" "$tmp/gptfixer" "$tmp/sbin"
	install -m 755 "$src/dracut/simple/module-setup.sh" "$m/"
	qubes_subst "$src/dracut/simple/init.sh" "$m/init.sh" qubes-linux-utils:dracut/simple/init.sh ||
		die "cannot adapt Qubes' init.sh to the test disk names"
	chmod 755 "$m/init.sh" # as its Makefile's `install` leaves it
	touch "$m/xen-scrub-pages-supported"
	cp "$src"/gptfixer/gpt.c "$src"/gptfixer/Makefile "$tmp/gptfixer/"
	make -s -C "$tmp/gptfixer" gpt >&2 || die "cannot build gptfix from qubes-linux-utils (needs zlib1g-dev)"
	install -m 755 "$tmp/gptfixer/gpt" "$tmp/sbin/gptfix"
	PATH=$tmp/sbin:$PATH dracutbasedir=$tmp/dracut dracut --nomdadmconf --nolvmconf --force --no-hostonly \
		--no-early-microcode \
		--modules "kernel-modules qubes-vm-simple busybox" \
		--omit "nss-softokn extra-modules qubes-pciback qubes-udev" \
		--conf /dev/null --confdir "$tmp/empty" \
		-d "$QUBES_INITRD_DRIVERS $QUBES_INITRD_QEMU_DRIVERS" \
		--kmoddir "$KMODS" --gzip \
		--include "$VM_DIR/qubes/xenblk-virtio.conf" /etc/modprobe.d/qe-xenblk-virtio.conf \
		--include "$tmp/sbin/gptfix" /usr/sbin/gptfix \
		"$tmp/initramfs" "$KVER" >"$tmp/dracut.log" 2>&1 ||
		{ tail -20 "$tmp/dracut.log" >&2; die "dracut failed building the Qubes initramfs"; }
	chmod 644 "$tmp/initramfs"
	prune_cache "qubes-initramfs-$KVER-*.img" "$out"
	mv "$tmp/initramfs" "$out"
	rm -rf "$tmp"
}

qubes_initrd() { # -> QUBES_INITRD
	local src key
	need_tools dracut make cc
	QUBES_CACHE=$VM_CACHE
	src=$(qubes_src qubes-linux-utils) || die "no qubes-linux-utils snapshot (see above)"
	key=$(EXTRA_KEY="$KVER $QUBES_INITRD_DRIVERS $QUBES_INITRD_QEMU_DRIVERS $(dpkg-query -W -f='${Version}' dracut-core 2>/dev/null)" \
		inputs_hash _qubes_initrd_build qubes_subst -- "$src/dracut/simple/init.sh" "$src/dracut/simple/module-setup.sh" \
		"$src/gptfixer/gpt.c" "$VM_DIR/qubes/xenblk-virtio.conf" "$VM_DIR/qubes/xvd-to-vd.sed" /bin/busybox)
	QUBES_INITRD=$VM_CACHE/qubes-initramfs-$KVER-$key.img
	with_cache_lock _qubes_initrd_build "$src" "$QUBES_INITRD"
}

# The initramfs under test: the base one (BASE, default BASE_INITRD) + our
# /init and, as a kernel variant carries them, the stack's modules (CARRY=0:
# none, the modules disk then provides what the base lacks), appended by the
# project's tool.
test_initrd() { # INIT_BINARY OUT [BASE]
	local init=$1 out=$2 base=${3:-$BASE_INITRD} carry=()
	[ -x "$VM_REPO/build/initramfs-append" ] || die "build/initramfs-append is missing: run 'make -C $VM_REPO all'"
	[ -x "$init" ] || die "$init is missing: run 'make -C $VM_REPO all'"
	[ "${CARRY:-1}" = 1 ] && carry=(--carry-modules "$KMODS")
	"$VM_REPO/build/initramfs-append" --init "$init" --version vm-test "${carry[@]}" "$base" "$out" >/dev/null ||
		die "initramfs-append failed for $init"
}

# ---------------------------------------------------------------- root disk (vda)
_root_fs_tree() { # DIR: the root file system's contents
	local d=$1 a
	mkdir -p "$d"/{bin,sbin,etc,dev,proc,sys,run,rw,home,tmp,var/log,var/tmp,lib/modules,mnt,root,usr/bin,usr/sbin}
	chmod 1777 "$d/tmp" "$d/var/tmp"
	cp /bin/busybox "$d/bin/busybox"
	for a in $(/bin/busybox --list); do
		case $a in busybox|init|linuxrc) continue ;; esac
		ln -s busybox "$d/bin/$a"
	done
	install -m 755 "$VM_DIR/guest/init.sh" "$d/sbin/init"
	# A Qubes template's fstab, with the test disks' names (vdX for xvdX)
	cat >"$d/etc/fstab" <<'EOF'
/dev/mapper/dmroot /                       ext4 defaults,discard,noatime        1 1
/dev/vdb           /rw                     auto noauto,defaults,discard,nosuid,nodev 1 2
/rw/home           /home                   none noauto,bind,defaults,nosuid,nodev 0 0
/dev/vdc1          swap                    swap defaults                        0 0
tmpfs              /dev/shm                tmpfs defaults,size=1G               0 0
devpts             /dev/pts                devpts gid=5,mode=620                0 0
sysfs              /sys                    sysfs defaults                       0 0
proc               /proc                   proc defaults                        0 0
EOF
	echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
	echo "user:x:1000:1000:user:/home/user:/bin/sh" >>"$d/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\n' >"$d/etc/group"
	echo "qe-test" >"$d/etc/hostname"
}

_root_img_build() { # OUT
	local out=$1 tmp p3_start p3_sectors img
	[ -f "$out" ] && return 0
	note "building the root disk template"
	vm_tmpdir tmp
	img=$tmp/root.img
	truncate -s "${ROOT_IMG_MIB}M" "$img"
	sfdisk -q --no-reread --no-tell-kernel "$img" >/dev/null <<'EOF'
label: gpt
unit: sectors
first-lba: 2048
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name="BIOS boot"
start=4096, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI System"
start=20480, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="Root filesystem"
EOF
	read -r p3_start p3_sectors < <(sfdisk -J "$img" | python3 -c '
import json, sys
p = json.load(sys.stdin)["partitiontable"]["partitions"][2]
print(p["start"], p["size"])')
	_root_fs_tree "$tmp/tree"
	truncate -s $(( p3_sectors * 512 )) "$tmp/p3.ext4"
	mkfs.ext4 -q -F -b 4096 -L root -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
		-d "$tmp/tree" "$tmp/p3.ext4" >/dev/null
	dd if="$tmp/p3.ext4" of="$img" bs=1M seek=$(( p3_start * 512 )) oflag=seek_bytes \
		conv=notrunc,sparse status=none
	prune_cache "root-*.img" "$out"
	mv "$img" "$out"
	rm -rf "$tmp"
}

root_template() { # -> ROOT_TEMPLATE
	local key
	key=$(EXTRA_KEY=$ROOT_IMG_MIB inputs_hash _root_img_build _root_fs_tree -- "$VM_DIR/guest/init.sh" /bin/busybox)
	ROOT_TEMPLATE=$VM_CACHE/root-$key.img
	with_cache_lock _root_img_build "$ROOT_TEMPLATE"
}

# ---------------------------------------------------------------- private disk (vdb)
_private_img_build() { # BLOCKSIZE OUT [MIB]
	local bs=$1 out=$2 mib=${3:-$PRIVATE_IMG_MIB} tmp
	[ -f "$out" ] && return 0
	note "building the private disk template (ext4, $bs-byte blocks)"
	vm_tmpdir tmp
	mkdir -p "$tmp/tree/home/user"
	chown 1000:1000 "$tmp/tree/home/user"
	echo "private volume of the qube" >"$tmp/tree/home/user/README"
	truncate -s "${mib}M" "$tmp/private.img"
	mkfs.ext4 -q -F -b "$bs" -L private -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
		-d "$tmp/tree" "$tmp/private.img" >/dev/null
	prune_cache "private-b$bs-m$mib-*.img" "$out"
	mv "$tmp/private.img" "$out"
	rm -rf "$tmp"
}

private_template() { # BLOCKSIZE [MIB] -> PRIVATE_TEMPLATE
	local key mib=${2:-$PRIVATE_IMG_MIB}
	key=$(EXTRA_KEY="$1 $mib" inputs_hash _private_img_build)
	PRIVATE_TEMPLATE=$VM_CACHE/private-b$1-m$mib-$key.img
	with_cache_lock _private_img_build "$1" "$PRIVATE_TEMPLATE" "$mib"
}

# ---------------------------------------------------------------- results (tests/vm and tests/xen)
# The value of KEY=value on the last "GUEST ..." line of a console LOG that has it.
guest_val() { # LOG KEY
	# systemd's status lines can leave terminal escapes in front of ours
	tr -d '\r' <"$1" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' | sed -n "s/^GUEST .*\b$2=\([^ ]*\).*/\1/p" | tail -1
}

# What the guest script (guest/init.sh, or guest-systemd/qe-report.sh) and
# ephemeral-init said on the console LOG: -> R_USERSPACE R_DONE R_SWAP
# (yes|no) R_STATUS_RC R_FATAL (yes|no); systemd roots: R_FAILED_UNITS
# R_DEVICE_WAITS (empty for a busybox root)
guest_results() { # LOG
	R_USERSPACE=no R_DONE=no R_SWAP=no R_FATAL=no
	[ "$(guest_val "$1" userspace)" = yes ] && R_USERSPACE=yes
	[ "$(guest_val "$1" "done")" = yes ] && R_DONE=yes
	[ "$(guest_val "$1" swap_used)" = yes ] && R_SWAP=yes
	R_STATUS_RC=$(guest_val "$1" status_rc)
	R_FAILED_UNITS=$(guest_val "$1" failed_units)
	R_DEVICE_WAITS=$(guest_val "$1" device_waits)
	grep -q 'qubes-ephemeral: FATAL' "$1" && R_FATAL=yes
	return 0
}

# The expectation words both harnesses share (each has its own besides):
# a miss adds its reason to FAILS; returns 1 for a word it does not know.
# Reads the R_* above and R_HITS R_UNCHANGED; console:TEXT looks in LOG
# (spaces of the console as _).
expect_common() { # WORD LOG
	case $1 in
	userspace) [ "$R_USERSPACE" = yes ] || FAILS+=("userspace not reached") ;;
	no_userspace) [ "$R_USERSPACE" = no ] || FAILS+=("userspace reached (want a stop before it)") ;;
	fatal) [ "$R_FATAL" = yes ] || FAILS+=("no 'qubes-ephemeral: FATAL' line on the console") ;;
	done) [ "$R_DONE" = yes ] || FAILS+=("guest script did not finish") ;;
	no_hits) [ "$R_HITS" -eq 0 ] || FAILS+=("marker found $R_HITS times (want 0)") ;;
	hits) [ "$R_HITS" -gt 0 ] || FAILS+=("marker not found (want > 0)") ;;
	unchanged) [ "$R_UNCHANGED" = yes ] || FAILS+=("an origin image changed") ;;
	changed) [ "$R_UNCHANGED" = no ] || FAILS+=("origins unchanged (stock mode should write private)") ;;
	swap) [ "$R_SWAP" = yes ] || FAILS+=("no pages reached swap") ;;
	status_ok) [ "$R_STATUS_RC" = 0 ] || FAILS+=("ephemeral-status did not confirm (exit ${R_STATUS_RC:-none})") ;;
	# systemd roots (guest-systemd/, and the agent's guest-agent/qe-agent-report.sh)
	no_failed_units) [ "$R_FAILED_UNITS" = 0 ] || FAILS+=("failed units: ${R_FAILED_UNITS:-unknown}") ;;
	no_device_waits) [ "$R_DEVICE_WAITS" = 0 ] || FAILS+=("jobs waited for devices: ${R_DEVICE_WAITS:-unknown}") ;;
	private_mounted) grep -q "GUEST rw_source=/dev/mapper/ephemeral-private home_source=/dev/mapper/ephemeral-private" "$2" ||
		FAILS+=("/rw and /home are not on the encrypted private device") ;;
	agent_fsck) [ "$(guest_val "$2" agent_fsck)" = 1 ] && [ "$(guest_val "$2" agent_resize)" = 1 ] ||
		FAILS+=("the agent's journal lacks its fsck/resize2fs lines for the private disk") ;;
	agent_mounts) agent_mounts_ok "$2" || FAILS+=("/, /rw, /home, /usr/local, swap not all on our devices: $(tr -d '\r' <"$2" | grep -o 'agent_mounts .*' | tail -1)") ;;
	console:*) tr ' ' _ <"$2" | grep -qF -- "${1#console:}" || FAILS+=("console lacks '${1#console:}'") ;;
	no_console:*) ! tr ' ' _ <"$2" | grep -qF -- "${1#no_console:}" || FAILS+=("console has '${1#no_console:}'") ;;
	*) return 1 ;;
	esac
	return 0
}

# The agent scenarios: /, /rw, /home, /usr/local and swap on our devices
# (no swap when S_OPTS turns it off).
agent_mounts_ok() { # LOG
	local l
	l=$(tr -d '\r' <"$1" | sed -n 's/.*GUEST agent_mounts //p' | tail -1)
	[[ $l == "root=/dev/mapper/dmroot rw=/dev/mapper/ephemeral-private home=/dev/mapper/ephemeral-private usrlocal=/dev/mapper/ephemeral-private swap="* ]] || return 1
	case $S_OPTS in *swap=0*) [[ $l == *"swap=" ]] ;; *) [[ $l == *"swap=/dev/mapper/ephemeral-swap," ]] ;; esac
}
