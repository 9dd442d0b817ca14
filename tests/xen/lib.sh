# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034  # variables are set for run.sh
# tests/xen/lib.sh: Xen, dom0 and the probe domain from Debian packages, for
# tests/xen/run.sh. Everything is built into $XEN_CACHE (gitignored) under
# flock; the guest kernel, root and private images come from tests/vm/lib.sh
# (its cache: $XEN_CACHE/vm, apart from tests/vm's own).

XEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XEN_REPO=$(cd "$XEN_DIR/../.." && pwd)
XEN_CACHE=${XEN_CACHE:-$XEN_DIR/cache}
# tests/vm's cache (VM_CACHE as given, else its default): the agent root of
# xen-pvh-systemd is built there beside tests/vm's (same debootstrap base,
# entries under flock; agent-root.sh prunes nothing)
XEN_VM_SHARED_CACHE=${VM_CACHE:-$XEN_REPO/tests/vm/cache}
export VM_CACHE=$XEN_CACHE/vm   # apart from tests/vm/cache: see xen_base_initrd
# shellcheck source=tests/vm/lib.sh
. "$XEN_REPO/tests/vm/lib.sh"

# dom0's kernel (the cloud kernel has no CONFIG_XEN_DOM0), pinned as tests/vm pins its own
XEN_DOM0_KPKG=${XEN_DOM0_KPKG:-linux-image-6.1.0-56-amd64}
XEN_VER=4.17
# Xen, its tools and what they link against; bash and flock for the hotplug scripts
XEN_PKGS=(xen-hypervisor-$XEN_VER-amd64 xen-utils-$XEN_VER xen-utils-common xenstore-utils
	libxenmisc$XEN_VER libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenstore4
	libxentoollog1 libxendevicemodel1 libxenhypfs1 libxentoolcore1 libyajl2 libncurses6 libtinfo6
	libc6 libgcc-s1 libuuid1 libext2fs2 libcom-err2 liblzma5 libzstd1 zlib1g bash util-linux
	busybox-static "$XEN_DOM0_KPKG"
	# HVM: the device model (qemu-system-i386 of qemu-system-xen), its libraries, its option
	# ROMs (qemu-system-data: linuxboot_dma.bin for direct kernel boot, vgabios links), SeaBIOS
	qemu-system-xen qemu-system-data seabios libfdt1 libglib2.0-0 libffi8 libpcre2-8-0 libmount1 libblkid1 libselinux1
	libjpeg62-turbo libpixman-1-0 libspice-server1 liblz4-1 libopus0 libsasl2-2 libsasl2-modules-db libdb5.3
	libssl3 libgstreamer1.0-0 libgstreamer-plugins-base1.0-0 liborc-0.4-0 libdw1 libelf1 libunwind8 libcap2
	libstdc++6 libusb-1.0-0 libudev1 libbz2-1.0)
# dom0's modules (closure over modules.dep is added)
XEN_DOM0_MODULES=(virtio_pci virtio_blk xen-blkback xen-gntdev xen-gntalloc xen-evtchn xenfs xen-privcmd)
# the stand-in of Qubes' dracut initramfs carries the Xen block driver too (QUBES-FACTS.md)
BASE_INITRD_MODULES+=(xen-blkfront)

# The real Qubes initramfs as dom0 builds it, for Xen: tests/vm/lib.sh's
# qubes_initrd without what it changes for QEMU (init.sh keeps its xvd*
# names, no virtio drivers, no alias that turns `modprobe xenblk` into
# virtio). Its cache ($XEN_CACHE/vm) is apart from tests/vm's, whose
# qubes_initrd prunes every other key. -> BASE_INITRD
xen_base_initrd() {
	local f inc='--include "$VM_DIR/qubes/xenblk-virtio.conf" /etc/modprobe.d/qe-xenblk-virtio.conf'
	f=$(declare -f _qubes_initrd_build)
	grep -qF -- "$inc" <<<"$f" || die "tests/vm/lib.sh's _qubes_initrd_build changed: adapt xen_base_initrd (the xenblk->virtio include)"
	eval "${f/"$inc"/}"
	qubes_subst() { cp "$1" "$2" && chmod --reference="$1" "$2"; }
	QUBES_INITRD_QEMU_DRIVERS=""
	base_initrd
}

# The systemd root with the real Qubes agent (tests/vm/agent-root.sh), its
# Xen variant: Qubes' files with their xvd* names unmodified. -> AGENT_ROOT
xen_agent_root() {
	AGENT_ROOT=$("$VM_DIR/agent-root.sh" "$XEN_VM_SHARED_CACHE" xen) ||
		die "cannot build the agent root (tests/vm/agent-root.sh $XEN_VM_SHARED_CACHE xen)"
}

xen_lock() { # runs "$@" under the cache lock (a subshell)
	mkdir -p "$XEN_CACHE"
	(
		flock 9
		"$@"
	) 9>"$XEN_CACHE/.lock"
}

_xen_download() {
	local dl=$XEN_CACHE/download p missing=()
	mkdir -p "$dl"
	for p in "${XEN_PKGS[@]}"; do
		compgen -G "$dl/${p}_*.deb" >/dev/null || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	note "downloading ${#missing[@]} Debian packages for Xen and dom0"
	if ! (cd "$dl" && apt-get download "${missing[@]}" >/dev/null 2>"$dl/apt.err"); then
		apt-get update -qq >/dev/null 2>&1 || note "apt-get update failed (offline?)"
		(cd "$dl" && apt-get download "${missing[@]}" >/dev/null 2>"$dl/apt.err") ||
			die "cannot download ${missing[*]}: $(tail -3 "$dl/apt.err")"
	fi
}

# The packages unpacked (dpkg-deb -x, no maintainer scripts) -> XEN_TREE
_xen_extract() { # DIR
	local dir=$1 p d tmp
	[ -e "$dir/.done" ] && return 0
	tmp=$(mktemp -d "$XEN_CACHE/tmp.XXXXXX")
	for p in "${XEN_PKGS[@]}"; do
		for d in "$XEN_CACHE/download/${p}"_*.deb; do dpkg-deb -x "$d" "$tmp"; done
	done
	[ -f "$tmp/boot/xen-$XEN_VER-amd64.gz" ] || die "no boot/xen-$XEN_VER-amd64.gz in xen-hypervisor-$XEN_VER-amd64"
	gzip -dc "$tmp/boot/xen-$XEN_VER-amd64.gz" >"$tmp/boot/xen.elf"
	local kv=${XEN_DOM0_KPKG#linux-image-}
	[ -f "$tmp/boot/vmlinuz-$kv" ] || die "no boot/vmlinuz-$kv in $XEN_DOM0_KPKG"
	depmod -b "$tmp" "$kv"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	touch "$dir/.done"
	# trees of older package lists (400 MB each) go
	for d in "$XEN_CACHE"/tree-*; do [ "$d" = "$dir" ] || rm -rf "$d"; done
}

# dom0's initramfs: busybox, xl and its libraries, xenstored, xenconsoled,
# the hotplug scripts (bash, flock), the modules above, /init = dom0-init.sh
# with its functions in /qe-lib.sh (dom0-lib.sh)
_xen_dom0_build() { # OUT
	local out=$1 t=$XEN_TREE tmp st kv=${XEN_DOM0_KPKG#linux-image-} m a
	[ -f "$out" ] && return 0
	note "building dom0's initramfs"
	tmp=$(mktemp -d "$XEN_CACHE/tmp.XXXXXX")
	st=$tmp/root
	mkdir -p "$st"
	# everything the packages hold but kernels, docs and python
	(cd "$t" && find . -mindepth 1 \( -path ./boot -o -path ./lib/modules -o -path ./usr/share/doc \
		-o -path ./usr/share/man -o -path ./usr/share/locale -o -path ./usr/lib/python3 \
		-o -path ./usr/lib/xen-$XEN_VER/lib/python -o -name .done \) -prune -o -print |
		cpio -pdm --quiet "$st")
	for a in $("$st/bin/busybox" --list-full); do
		[ -e "$st/$a" ] || [ -L "$st/$a" ] || { mkdir -p "$st/$(dirname "$a")"; ln -s /bin/busybox "$st/$a"; }
	done
	for b in xl xenstored xenconsoled xen-init-dom0; do
		ln -sf "/usr/lib/xen-$XEN_VER/bin/$b" "$st/usr/sbin/$b"
	done
	for b in usr/sbin/xl usr/bin/xenstore-read usr/bin/flock bin/bash usr/libexec/xen-qemu-system-i386; do
		chroot "$st" "/$b" --help >/dev/null 2>"$tmp/ldd.err" ||
			! grep -q 'error while loading' "$tmp/ldd.err" || die "dom0: /$b lacks a library: $(cat "$tmp/ldd.err")"
	done
	mods=$(module_closure "$t/lib/modules/$kv" "${XEN_DOM0_MODULES[@]}") || die "cannot resolve dom0's modules"
	for m in $mods; do
		mkdir -p "$st/lib/modules/$kv/$(dirname "$m")"
		cp "$t/lib/modules/$kv/$m" "$st/lib/modules/$kv/$m"
	done
	cp "$t/lib/modules/$kv"/modules.{builtin,builtin.modinfo,order} "$st/lib/modules/$kv/"
	depmod -b "$st" "$kv"
	mkdir -p "$st"/{dev,proc,sys,run,tmp,var/log/xen/console,var/lib/xen,var/lib/xenstored,var/run,qe}
	[ -e "$st/dev/console" ] || mknod "$st/dev/console" c 5 1
	install -m 755 "$XEN_DIR/dom0-init.sh" "$st/init"
	install -m 755 "$XEN_DIR/dom0-block.sh" "$st/qe-block"
	install -m 644 "$XEN_DIR/dom0-lib.sh" "$st/qe-lib.sh"
	(cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 -n >"$tmp/dom0.cpio.gz"
	for m in "$XEN_CACHE"/dom0-*.cpio.gz; do [ -e "$m" ] && rm -f "$m"; done
	mv "$tmp/dom0.cpio.gz" "$out"
	rm -rf "$tmp"
}

# -> XEN_TREE XEN_ELF DOM0_VMLINUZ DOM0_INITRD
xen_prepare() {
	need_tools apt-get dpkg-deb depmod cpio gzip chroot mknod
	xen_lock _xen_download
	local key
	key=$(EXTRA_KEY="${XEN_PKGS[*]}" inputs_hash _xen_extract | cut -c1-12)
	XEN_TREE=$XEN_CACHE/tree-$key
	xen_lock _xen_extract "$XEN_TREE"
	XEN_ELF=$XEN_TREE/boot/xen.elf
	DOM0_VMLINUZ=$XEN_TREE/boot/vmlinuz-${XEN_DOM0_KPKG#linux-image-}
	key=$(EXTRA_KEY="$XEN_TREE ${XEN_DOM0_MODULES[*]}" inputs_hash _xen_dom0_build module_closure -- "$XEN_DIR/dom0-init.sh" "$XEN_DIR/dom0-block.sh" "$XEN_DIR/dom0-lib.sh")
	DOM0_INITRD=$XEN_CACHE/dom0-$key.cpio.gz
	xen_lock _xen_dom0_build "$DOM0_INITRD"
}

# Xen's own command line: serial console, dom0 fixed at 512 MiB and one vCPU;
# eager FPU switching: TCG's CPU says AMD, for which Xen switches the FPU
# lazily (CR0.TS, #NM), and processes of dom0 and of the domains crashed at
# random (xl "corrupted double-linked list", segfaults) once two domains ran
XEN_CMDLINE="console=com1 com1=115200,8n1 dom0_mem=512M,max:512M dom0_max_vcpus=1 spec-ctrl=eager-fpu loglvl=warning guest_loglvl=warning noreboot"
DOM0_CMDLINE="console=hvc0 earlyprintk=xen loglevel=3 mitigations=off${XEN_DOM0_EXTRA:+ $XEN_DOM0_EXTRA}"

# One Xen boot under QEMU: dom0's cached initramfs with the plan folder
# appended (an uncompressed cpio; dom0-init.sh runs its qe/plan.sh, then
# powers off), the QEMU drive arguments given, the console into CONSOLE.
# The plan folder is removed. -> QEMU_RC (bounded by XEN_TIMEOUT)
xen_boot() { # RUN_DIR PLAN_DIR CONSOLE DRIVE_ARG...
	local run=$1 plan=$2 console=$3
	shift 3
	cp "$DOM0_INITRD" "$run/dom0.initrd"
	truncate -s $(( ($(stat -c %s "$run/dom0.initrd") + 511) / 512 * 512 )) "$run/dom0.initrd"
	(cd "$plan" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >>"$run/dom0.initrd"
	rm -rf "$plan"
	QEMU_RC=0
	timeout -k 10 "$XEN_TIMEOUT" qemu-system-x86_64 -accel tcg,tb-size=256 -machine q35 \
		-cpu max,-smap,-rdtscp,-avx,-avx2 -smp 2 -m 1536 -nographic -no-reboot -nic none \
		-kernel "$XEN_ELF" -append "$XEN_CMDLINE" \
		-initrd "$DOM0_VMLINUZ $DOM0_CMDLINE,$run/dom0.initrd" \
		"$@" </dev/null >"$console" 2>&1 || QEMU_RC=$?
}

# The xl config of a Qubes-shaped domain, into $PLAN_DIR/qe/NAME.cfg (tests/xen
# and bench/xen.sh). DISK: "[phy:]DEV,VDEV,MODE".
write_cfg() { # NAME TYPE KERNEL RAMDISK CMDLINE MEM DISK...
	local name=$1 type=$2 k=$3 rd=$4 cmd=$5 mem=$6 d sep=""
	shift 6
	{
		echo "name = \"$name\""
		echo "type = \"$type\""
		echo "kernel = \"$k\""
		echo "ramdisk = \"$rd\""
		echo "cmdline = \"$cmd\""
		echo "memory = $mem"
		echo "maxmem = $mem"
		echo "vcpus = 1"
		echo 'on_poweroff = "destroy"'
		echo 'on_reboot = "destroy"'
		echo 'on_crash = "destroy"'
		# as qubesd gives PV and PVH qubes (libvirt's <timer name="tsc"
		# mode="native"/>): the guest reads the TSC without a VM exit. Xen's
		# default here (TCG's CPU does not say its TSC is invariant) emulates
		# rdtsc, and a PVH kernel's early PIT calibration reads it 50,000
		# times (README.md, gotchas). HVM qubes keep Xen's default, as in Qubes.
		if [ "$type" = hvm ]; then
			echo 'device_model_version = "qemu-xen"'
			echo 'vnc = 0'
			echo 'sdl = 0'
			echo 'serial = "none"'
		else
			echo 'tsc_mode = "native"'
		fi
		printf 'disk = ['
		# "phy:DEV,VDEV,MODE" in the long form, with the dom0's hotplug script
		for d in "$@"; do
			IFS=, read -r dev vdev mode <<<"${d#phy:}"
			printf '%s"format=raw, vdev=%s, access=%s, script=/qe-block, target=%s"' "$sep" "$vdev" "$mode" "$dev"
			sep=", "
		done
		echo ']'
	} >"$PLAN_DIR/qe/$name.cfg"
}

# qescan: a static marker counter for dom0 and the probe domain (musl)
_qescan_build() { # OUT
	[ -x "$1" ] && return 0
	${MUSL_CC:-musl-gcc} -std=gnu11 -Wall -Wextra -Werror -O2 -static -I"$XEN_REPO/src/lib" \
		-o "$1.tmp" "$XEN_DIR/qescan.c" "$XEN_REPO/src/lib/sha256.c" || die "cannot build qescan (musl-tools)"
	mv "$1.tmp" "$1"
	local f
	for f in "$XEN_CACHE"/qescan-*; do [ "$f" = "$1" ] || rm -f "$f"; done
}

xen_qescan() { # -> QESCAN
	local key
	key=$(inputs_hash _qescan_build -- "$XEN_DIR/qescan.c" "$XEN_REPO/src/lib/sha256.c" "$XEN_REPO/src/lib/sha256.h")
	QESCAN=$XEN_CACHE/qescan-$key
	xen_lock _qescan_build "$QESCAN"
}

# The probe domain's initramfs (PV, cloud kernel): busybox + qescan + an
# init that counts the marker in its own free RAM (/proc/kcore). Laid out
# the old way on purpose: a gzip archive with an uncompressed one appended
# behind it, no lead, so its `xl create` shows the inflate error the
# variant's layout avoids (the control of that check).
xen_probe_initrd() { # OUT
	local out=$1 tmp
	tmp=$(mktemp -d "$XEN_CACHE/tmp.XXXXXX")
	mkdir -p "$tmp/a/bin" "$tmp/a/dev" "$tmp/a/proc" "$tmp/b/bin"
	cp /bin/busybox "$tmp/a/bin/busybox"
	ln -s busybox "$tmp/a/bin/sh"
	mknod "$tmp/a/dev/console" c 5 1
	(cd "$tmp/a" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -n >"$out"
	truncate -s $(( ($(stat -c %s "$out") + 511) / 512 * 512 )) "$out"   # zeros to 512, as the old appender
	cp "$QESCAN" "$tmp/b/bin/qescan"
	cat >"$tmp/b/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
seed=$(/bin/busybox sed -n 's/.*qe.seed=\([0-9a-f]*\).*/\1/p' /proc/cmdline)
echo "PROBE mem_kib=$(/bin/busybox awk '/MemTotal/ {print $2}' /proc/meminfo) free_kib=$(/bin/busybox awk '/MemFree/ {print $2}' /proc/meminfo)"
echo "PROBE $(/bin/qescan --kcore "$seed")"
/bin/busybox poweroff -f
EOF
	chmod 755 "$tmp/b/init"
	(cd "$tmp/b" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >>"$out"
	rm -rf "$tmp"
}
