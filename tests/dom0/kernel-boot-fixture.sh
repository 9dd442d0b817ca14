# SPDX-License-Identifier: GPL-2.0-or-later
# tests/dom0/kernel-boot-fixture.sh: the two initramfs images a variant made
# by `qvm-ephemeral kernel add` offers, for the QEMU harness to boot:
#   PVH path: KERNELS_DIR/VER-ephemeral/initramfs (what Xen loads directly)
#   HVM path: the `initramfs` inside KERNELS_DIR/VER-ephemeral/modules.img
#             (what the stubdomain loads), extracted with debugfs
#
# Not executable on purpose (tests/check.sh runs every executable *.sh
# here); call it with bash.
#
#   bash tests/dom0/kernel-boot-fixture.sh KERNELS_DIR VER OUTDIR
#       for a variant that exists already
#   bash tests/dom0/kernel-boot-fixture.sh --make BASE_INITRD VMLINUZ MODDIR KERNELS_DIR VER OUTDIR \
#        [--compress gzip|zstd|xz|none] [--early-cpio] [--init BINARY]
#       first builds KERNELS_DIR/VER as Qubes lays it out: vmlinuz, initramfs =
#       BASE_INITRD (a gzip'd cpio; recompressed as asked, optionally behind
#       an early uncompressed cpio), modules.img = ext3 with KVER/ = MODDIR
#       (KVER = MODDIR's base name) + copies of vmlinuz and initramfs; then
#       runs `qvm-ephemeral kernel add VER` (init: build/ephemeral-init).
#
# Prints on stdout (for eval), all absolute paths:
#   VARIANT_VMLINUZ=…          KERNELS_DIR/VER-ephemeral/vmlinuz
#   VARIANT_PVH_INITRD=…       KERNELS_DIR/VER-ephemeral/initramfs
#   VARIANT_HVM_INITRD=…       OUTDIR/VER-ephemeral.modules-img-initramfs
#   VARIANT_MODULES_IMG=…      KERNELS_DIR/VER-ephemeral/modules.img (the modules disk, xvdd)
# Fails (exit 1, reason on stderr) when the variant is not current, or the
# two images differ. Example, inside tests/vm/run.sh after base_initrd:
#   eval "$(bash tests/dom0/kernel-boot-fixture.sh --make "$BASE_INITRD" "$VMLINUZ" "$KMODS" \
#           "$dir/kernels" "$KVER" "$dir")" || die "variant fixture"
#   boot with -kernel "$VARIANT_VMLINUZ" -initrd "$VARIANT_PVH_INITRD" (variant-pvh)
#   or -initrd "$VARIANT_HVM_INITRD" (variant-hvm), modules disk "$VARIANT_MODULES_IMG".
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QVM=${QVM:-$REPO/build/qvm-ephemeral}
die() { echo "kernel-boot-fixture: $*" >&2; exit 1; }
abs() { (cd "$(dirname "$1")" && echo "$PWD/$(basename "$1")"); }

if [ "${1:-}" = --make ]; then
	[ $# -ge 7 ] || die "usage: --make BASE_INITRD VMLINUZ MODDIR KERNELS_DIR VER OUTDIR [--compress C] [--early-cpio] [--init BIN]"
	base=$2 vmlinuz=$3 moddir=$4 kdir=$5 ver=$6 out=$7
	shift 7
	comp=gzip early= init=$REPO/build/ephemeral-init
	while [ $# -gt 0 ]; do
		case $1 in
		--compress) comp=$2; shift 2 ;;
		--early-cpio) early=1; shift ;;
		--init) init=$2; shift 2 ;;
		*) die "unknown option $1" ;;
		esac
	done
	# shellcheck source=tests/dom0/kernel/lib.sh
	. "$REPO/tests/dom0/kernel/lib.sh"
	KV=$(basename "$moddir")
	mkdir -p "$kdir" "$out"
	rm -rf "${kdir:?}/$ver" "${kdir:?}/$ver-ephemeral"
	w=$(mktemp -d "$out/.fixture.XXXXXX")
	gzip -dc "$base" | kt_compress "$comp" >"$w/main" || die "cannot recompress $base"
	if [ -n "$early" ]; then
		kt_early_cpio "$w" "$w/early.cpio"
		cat "$w/early.cpio" "$w/main" >"$w/initrd"
	else
		mv "$w/main" "$w/initrd"
	fi
	TMPDIR=$w kt_kernel_folder "$kdir" "$ver" "$vmlinuz" "$w/initrd" "$moddir"
	rm -rf "$w"
	[ -x "$QVM" ] || make -s -C "$REPO" build/qvm-ephemeral >&2
	"$QVM" -q kernel --kernels-dir "$kdir" --init-binary "$init" add "$ver" >&2 || die "qvm-ephemeral kernel add $ver failed"
	set -- "$kdir" "$ver" "$out"
fi

[ $# -eq 3 ] || die "usage: KERNELS_DIR VER OUTDIR  (or --make ...; see the top of this file)"
kdir=$(abs "$1") ver=$2 out=$3
v=$kdir/$ver-ephemeral
[ -x "$QVM" ] || make -s -C "$REPO" build/qvm-ephemeral >&2
"$QVM" kernel --kernels-dir "$kdir" list 2>/dev/null | grep -qE "^$ver-ephemeral +variant +current " ||
	die "$v is not a current variant (qvm-ephemeral kernel --kernels-dir $kdir list)"
mkdir -p "$out"
out=$(abs "$out")
hvm=$out/$ver-ephemeral.modules-img-initramfs
rm -f "$hvm"
debugfs -R "dump /initramfs $hvm" "$v/modules.img" >/dev/null 2>&1
[ -s "$hvm" ] || die "no initramfs inside $v/modules.img"
cmp -s "$hvm" "$v/initramfs" || die "the initramfs inside $v/modules.img differs from $v/initramfs"
echo "VARIANT_VMLINUZ=$v/vmlinuz"
echo "VARIANT_PVH_INITRD=$v/initramfs"
echo "VARIANT_HVM_INITRD=$hvm"
echo "VARIANT_MODULES_IMG=$v/modules.img"
