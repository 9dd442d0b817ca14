#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/xen.sh: the Xen ruler of bench/run.sh (its figure 8). In ONE boot of
# real Xen nested under QEMU (tests/xen's dom0 and packages), dom0 starts PV
# and PVH domains alternately from one kernel folder:
#   ours   the `qvm-ephemeral kernel add` variant (VER-ephemeral/initramfs),
#          qubes.ephemeral=1, disks xvda root r, xvdb private r, xvdc volatile w,
#          xvdd modules r
#   qubes  the same folder's original initramfs (the real Qubes one: dracut +
#          qubes-linux-utils dracut/simple, tests/xen's xen_base_initrd), stock
#          Qubes disks (private w), Qubes' own init.sh (dm snapshot on xvdc2)
# same kernel, same dom0 run. Each boot is timed on dom0's clock from just
# before `xl create` to the first line of the root's /sbin/init, which prints
# "QE-BENCH sbin_init" at once and powers off. dom0 stamps each console line
# when xenconsoled writes it (bench/xenstamp.c; xenconsoled's own timestamps
# have whole seconds only).
#
#   bench/xen.sh            (root) BOOTS boots of each of the 4 kinds
#
# stdout: one line per boot
#   XBENCH type=pv|pvh variant=ours|qubes boot=N ok=yes|no total_ms= create_ms=
#          build_ms= kernel_ms= init_ms= self_ms=
# (total = xl create .. /sbin/init; create = `xl create` itself; build = xl
# create .. the guest kernel's start (its uptime read by /sbin/init); kernel =
# kernel start .. the initramfs' first line; init = that line .. /sbin/init;
# self = ours' own "setup done in N ms"; a value that could not be read: none)
# and a line "XSTEPS type=.. boot=N steps" with ours' step times.
# stderr: progress. Environment: XBENCH_BOOTS (default 3), XBENCH_ORDER
# (default "pv pvh"), XEN_CACHE (tests/xen's cache, shared under flock),
# XBENCH_CACHE (this script's own: the marker root, run folders; default
# $BENCH_CACHE/xen, default bench/cache/xen), BENCH_INIT (another build of ephemeral-init as ours),
# XBENCH_APPEND (words added to both command lines), XBENCH_QUIET=0 (no `quiet`),
# XBENCH_COMPRESS=gzip|zstd (the folder's initramfs; default gzip),
# XBENCH_VARIANTS (default "ours qubes"; "plain": ours with its gzip part
# decompressed, a layout to try; gzip folders only), XEN_TIMEOUT (whole Xen
# boot; default 600 + 240 per boot), DOMU_TIMEOUT (per domain, default 600).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/xen/lib.sh
. "$BENCH_DIR/../tests/xen/lib.sh"
REPO=$XEN_REPO
bnote() { echo "bench-xen: $*" >&2; }

BOOTS=${XBENCH_BOOTS:-3}
TYPES=${XBENCH_ORDER:-pv pvh}
XB_CACHE=${XBENCH_CACHE:-${BENCH_CACHE:-$BENCH_DIR/cache}/xen}
DOMU_TIMEOUT=${DOMU_TIMEOUT:-600}
NKINDS=$(( $(wc -w <<<"$TYPES") * $(wc -w <<<"${XBENCH_VARIANTS:-ours qubes}") ))
XEN_TIMEOUT=${XEN_TIMEOUT:-$(( 600 + 240 * BOOTS * NKINDS ))}
DOMU_MEM=400   # Qubes' default initial memory of a qube
# Xen and dom0 boot as in tests/xen (xen_boot, XEN_CMDLINE, DOM0_CMDLINE of its lib.sh)
# words of both command lines after the folder's default-kernelopts-common.txt:
# mitigations=off as tests/xen (15-25 % under TCG); quiet: the kernel's own
# lines on hvc0 cost the same for both but lengthen every boot under TCG
# (XBENCH_QUIET=0 keeps them, to see where the kernel's time goes)
BOTH_OPTS="mitigations=off${XBENCH_APPEND:+ $XBENCH_APPEND}"
[ "${XBENCH_QUIET:-1}" = 1 ] && BOTH_OPTS="quiet $BOTH_OPTS"

[ "$(id -u)" = 0 ] || die "bench/xen.sh needs root (mknod, chroot for dom0's initramfs)"
need_tools qemu-system-x86_64 timeout mkfs.ext4 debugfs cpio gzip flock awk
make -s -C "$REPO" build/ephemeral-init build/initramfs-append build/qvm-ephemeral >/dev/null || die "make failed"
INIT_BIN=${BENCH_INIT:-$REPO/build/ephemeral-init}

kernel_prepare
xen_base_initrd
private_template 4096
xen_prepare

# The root disk: tests/vm's root tree with the Qubes fstab's names (as
# tests/xen), its /sbin/init replaced by the marker. Built in XB_CACHE: the
# root builder prunes every other root-*.img of its cache folder.
_xb_root_fixup() { # DIR
	sed -i 's#^/dev/vd#/dev/xvd#' "$1/etc/fstab"
	cat >"$1/sbin/init" <<'EOF'
#!/bin/sh
# bench/xen.sh: the first line marks the exec of /sbin/init; then the
# kernel's uptime (for the kernel's start on dom0's clock), then power off
echo "QE-BENCH sbin_init"
mount -t proc proc /proc 2>/dev/null
read -r up _ </proc/uptime
echo "QE-BENCH uptime_s=$up"
poweroff -f
EOF
	chmod 755 "$1/sbin/init"
}
key=$(EXTRA_KEY="$ROOT_IMG_MIB xbench" inputs_hash _root_img_build _root_fs_tree _xb_root_fixup -- "$VM_DIR/guest/init.sh" /bin/busybox)
XB_ROOT=$XB_CACHE/root-$key.img
(
	# shellcheck disable=SC2034  # read by with_cache_lock and the builder
	VM_CACHE=$XB_CACHE
	eval "_vm_root_fs_tree() $(declare -f _root_fs_tree | tail -n +2)"
	_root_fs_tree() { _vm_root_fs_tree "$1"; _xb_root_fixup "$1"; }
	with_cache_lock _root_img_build "$XB_ROOT"
) || die "cannot build the bench root image"

# dom0's stamp tool (static, musl), built for each run (a fraction of a second)
# tests/vm's run folders: a live run holds its folder's lock, and the pruning
# of old ones (newest 5 kept) passes over another run's live folder
VM_CACHE=$XB_CACHE vm_new_run_dir || die "cannot make a run folder in $XB_CACHE/runs"
PLAN_DIR=$RUN_DIR/plan
trap 'rm -rf "$PLAN_DIR" "$RUN_DIR"/*.img "$RUN_DIR"/*-initramfs "$RUN_DIR/kernels" "$RUN_DIR/dom0.initrd"; vm_cleanup' EXIT
mkdir -p "$PLAN_DIR/qe/k" "$PLAN_DIR/usr/bin"
${MUSL_CC:-musl-gcc} -std=gnu11 -Wall -Wextra -Werror -O2 -static -o "$PLAN_DIR/usr/bin/xenstamp" \
	"$BENCH_DIR/xenstamp.c" || die "cannot build bench/xenstamp.c (musl-tools)"

# the kernel folder as Qubes has it (gzip initramfs as older dracut makes it;
# XBENCH_COMPRESS=zstd as dracut-ng >= 103), made ephemeral by `qvm-ephemeral
# kernel add` (as tests/xen/run.sh). Xen's domain builder gunzips a ramdisk
# that starts with gzip magic itself (in dom0, during xl create); the
# variant starts with an uncompressed cpio, so its guest kernel gunzips it.
COMPRESS=${XBENCH_COMPRESS:-gzip}
eval "$(bash "$REPO/tests/dom0/kernel-boot-fixture.sh" --make "$BASE_INITRD" "$VMLINUZ" "$KMODS" \
	"$RUN_DIR/kernels" "$KVER" "$RUN_DIR" --compress "$COMPRESS" --init "$INIT_BIN")" || die "cannot make the kernel variant"
KFOLDER=$RUN_DIR/kernels/$KVER
cmp -s "$KFOLDER/vmlinuz" "$VARIANT_VMLINUZ" || die "the variant's vmlinuz differs from the folder's"
cp "$KFOLDER/vmlinuz" "$PLAN_DIR/qe/k/vmlinuz"
cp "$VARIANT_PVH_INITRD" "$PLAN_DIR/qe/k/ours.initrd"
cp "$KFOLDER/initramfs" "$PLAN_DIR/qe/k/qubes.initrd"
VARIANTS=${XBENCH_VARIANTS:-ours qubes}
case " $VARIANTS " in *" plain "*)
	# a layout to try: ours with its compressed part decompressed, the
	# whole file uncompressed cpio (neither Xen nor the guest inflates)
	python3 - "$VARIANT_PVH_INITRD" "$PLAN_DIR/qe/k/plain.initrd" <<'PY' || die "cannot write the plain variant"
import sys, zlib
d = open(sys.argv[1], "rb").read()
off = d.index(b"\x1f\x8b\x08")          # the gzip'ed original, after the lead cpio
z = zlib.decompressobj(31)
body = z.decompress(d[off:]) + z.flush()
body += bytes(-len(body) % 512)        # the kernel wants each archive 4-aligned
open(sys.argv[2], "wb").write(d[:off] + body + z.unused_data.lstrip(b"\0"))
PY
	bnote "plain variant: $(stat -c %s "$PLAN_DIR/qe/k/plain.initrd") bytes" ;;
esac
bnote "initramfs: ours $(stat -c %s "$VARIANT_PVH_INITRD") bytes, the real Qubes one $(stat -c %s "$KFOLDER/initramfs") bytes"
echo "XSIZES ours=$(stat -c %s "$VARIANT_PVH_INITRD") qubes=$(stat -c %s "$KFOLDER/initramfs")"
COMMON=$(tr -d '\n' <"$KFOLDER/default-kernelopts-common.txt" | sed 's/ *$//')

# outer disks, seen in dom0 as vdX: root (read-only for QEMU too), each
# folder's modules.img, one private, one volatile per variant (Qubes gives a
# fresh one each start; Qubes' init.sh re-partitions it, ours keys it anew)
cp --sparse=always "$PRIVATE_TEMPLATE" "$RUN_DIR/private.img"
truncate -s 10G "$RUN_DIR/vol-ours.img" "$RUN_DIR/vol-qubes.img"
DRIVES=(-drive "file=$XB_ROOT,format=raw,if=virtio,readonly=on"
	-drive "file=$VARIANT_MODULES_IMG,format=raw,if=virtio,readonly=on"
	-drive "file=$KFOLDER/modules.img,format=raw,if=virtio,readonly=on")
for f in private vol-ours vol-qubes; do DRIVES+=(-drive "file=$RUN_DIR/$f.img,format=raw,if=virtio,cache=unsafe"); done
# vda root, vdb ours' modules, vdc Qubes' modules, vdd private, vde/vdf volatile

cfg() { # NAME TYPE VARIANT
	local name=$1 type=$2 v=$3 cmd priv=r vol=vde mod=vdb
	cmd="$COMMON qubes.ephemeral=1 $BOTH_OPTS"   # ours and plain
	if [ "$v" = qubes ]; then cmd="$COMMON $BOTH_OPTS" priv=w vol=vdf mod=vdc; fi
	write_cfg "$name" "$type" /qe/k/vmlinuz "/qe/k/$v.initrd" "$cmd" "$DOMU_MEM" \
		/dev/vda,xvda,r "/dev/vdd,xvdb,$priv" "/dev/$vol,xvdc,w" "/dev/$mod,xvdd,r"
}

# dom0's part (sourced by tests/xen/dom0-init.sh; dom0-lib.sh has dom_id, dom_state, say)
cat >"$PLAN_DIR/qe/plan.sh" <<EOF
DOMU_TIMEOUT=$DOMU_TIMEOUT
EOF
cat >>"$PLAN_DIR/qe/plan.sh" <<'EOF'
# One domain: stamp its console, time `xl create`, wait for the marker, then
# for the domain to go. -> "XEN xb NAME ..." and its stamped lines "S:NAME: MS text"
# A domain killed by QEMU's nested-SVM emulation fault (tests/xen's
# dom_emulation_fault) boots again, up to QE_FAULT_TRIES starts: each such
# try is said, not timed.
xb_boot() { # NAME [TRY]
	local name=$1 try=${2:-1} log=$QE_CONSOLE_DIR/guest-$1.log t0 t1 rc=0 id sp to=no n=0
	xenstamp follow "$log" >/run/st-"$name" 2>&1 &
	sp=$!
	t0=$(xenstamp now)
	timeout -s KILL 300 xl create /qe/"$name".cfg >"$QE_XEN_LOG_DIR"/create-"$name".log 2>&1 || rc=$?
	t1=$(xenstamp now)
	id=$(dom_id "$name")
	# 0.5 s polls of the stamp file (no xl calls while the guest boots); the
	# xl daemon's log says when the domain shut down (a triple fault, say)
	while [ -n "$id" ] && [ "$rc" = 0 ] && ! grep -q 'QE-BENCH uptime_s=' /run/st-"$name"; do
		grep -q 'FATAL' /run/st-"$name" && break
		grep -q 'has shut down' "$QE_XEN_LOG_DIR"/xl-"$name".log 2>/dev/null && break
		n=$((n + 1))
		[ $n -ge $((DOMU_TIMEOUT * 2)) ] && { to=yes; break; }
		sleep 0.5
	done
	n=0
	while [ -n "$id" ] && [ "$(dom_state "$id")" != gone ] && [ $n -lt 30 ]; do sleep 1; n=$((n + 1)); done
	[ -n "$id" ] && xl destroy "$id" 2>/dev/null
	sleep 0.3
	kill "$sp" 2>/dev/null
	if [ "$try" -lt "$QE_FAULT_TRIES" ] && [ "$rc" = 0 ] && [ -n "$id" ] && ! grep -q 'QE-BENCH sbin_init' /run/st-"$name" &&
		dom_emulation_fault "$name" "$id"; then
		qe_locked triple_fault_evidence "$name" "$id" "?" "$try"
		xb_boot "$name" $((try + 1))
		return
	fi
	say "xb $name rc=$rc timeout=$to t0=$t0 t1=$t1 tries=$try"
	grep -E 'QE-BENCH|Qubes initramfs script here|qubes-ephemeral|Qubes:|FATAL|Kernel panic|Run /init|rootfs|initrd|Freeing|xen_blk|xvd' /run/st-"$name" | sed "s/^/S:$name: /"
	if [ "$rc" != 0 ] || [ $to = yes ] || ! grep -q 'QE-BENCH sbin_init' /run/st-"$name"; then
		tail -40 /run/st-"$name" | sed "s/^/S:$name: /"
		tail -20 "$QE_XEN_LOG_DIR"/create-"$name".log | sed "s/^/XEN xb $name xl: /"
	fi
}
EOF
# order: rounds of PV then PVH; the variants rotate (ours first in odd
# rounds, Qubes' first in even ones)
for i in $(seq "$BOOTS"); do
	for t in $TYPES; do
		vs=$(awk -v r="$i" '{ for (k = 0; k < NF; k++) printf "%s ", $((k + r - 1) % NF + 1) }' <<<"$VARIANTS")
		for v in $vs; do
			cfg "xb-$t-$v-$i" "$t" "$v"
			echo "xb_boot xb-$t-$v-$i" >>"$PLAN_DIR/qe/plan.sh"
		done
	done
done

CONSOLE=$RUN_DIR/console.log
bnote "Xen boot: $BOOTS boot(s) each of ${TYPES// //} x ${VARIANTS// //} (console: $CONSOLE)"
t_xen=$(date +%s)
xen_boot "$RUN_DIR" "$PLAN_DIR" "$CONSOLE" "${DRIVES[@]}"
bnote "Xen run: $(( $(date +%s) - t_xen )) s, qemu exit $QEMU_RC"
grep -q "XEN dom0_done=yes" "$CONSOLE" || { bnote "dom0 did not finish; last lines:"; tail -30 "$CONSOLE" | tr -d '\r' >&2; }

# ---------------------------------------------------------------- results
tr -d '\r' <"$CONSOLE" | awk -v types="$TYPES" '
	function ms(a, b) { return (a == "" || b == "") ? "none" : sprintf("%.0f", a - b) }
	/^XEN xb / { n = $3; for (i = 4; i <= NF; i++) { split($i, kv, "="); v[n, kv[1]] = kv[2] } names[n] = 1 }
	/^S:xb-/ {
		n = substr($1, 3, length($1) - 3); t = $2
		line = $0; sub(/^[^ ]+ [^ ]+ /, "", line)
		if (line ~ /^QE-BENCH sbin_init/ && v[n, "marker"] == "") v[n, "marker"] = t
		if (line ~ /^QE-BENCH uptime_s=/) { v[n, "up"] = t; split(line, u, "="); v[n, "uptime"] = u[2] * 1000 }
		if (v[n, "first"] == "" && (line ~ /^Qubes initramfs script here/ || line ~ /^qubes-ephemeral: /)) v[n, "first"] = t
		if (line ~ /setup done in [0-9]+ ms/) {
			s = line; sub(/.*setup done in /, "", s); sub(/ ms.*/, "", s); v[n, "self"] = s
			s = line; sub(/.*steps in ms: /, "", s); steps[n] = s
		}
		if (line ~ /FATAL/) v[n, "fatal"] = 1
	}
	END {
		for (n in names) {
			split(n, p, "-")   # xb TYPE VARIANT N
			ks = (v[n, "up"] != "" && v[n, "uptime"] != "") ? v[n, "up"] - v[n, "uptime"] : ""
			ok = (v[n, "rc"] == 0 && v[n, "timeout"] == "no" && v[n, "marker"] != "" && !v[n, "fatal"]) ? "yes" : "no"
			printf "XBENCH type=%s variant=%s boot=%s ok=%s total_ms=%s create_ms=%s build_ms=%s kernel_ms=%s init_ms=%s self_ms=%s\n", \
				p[2], p[3], p[4], ok, ms(v[n, "marker"], v[n, "t0"]), ms(v[n, "t1"], v[n, "t0"]), \
				ms(ks, v[n, "t0"]), ms(v[n, "first"], ks), ms(v[n, "marker"], v[n, "first"]), \
				(v[n, "self"] == "" ? "none" : v[n, "self"])
			if (steps[n] != "") printf "XSTEPS type=%s boot=%s %s\n", p[2], p[4], steps[n]
		}
	}' | sort -t= -k2,2 -k4,4n
n_ok=$(tr -d '\r' <"$CONSOLE" | grep -c '^S:xb-[^ ]* [0-9.]* QE-BENCH sbin_init' || true)
bnote "$n_ok of $((BOOTS * NKINDS)) boots reached /sbin/init; console: $CONSOLE"
if [ "$n_ok" -ne $((BOOTS * NKINDS)) ]; then
	tr -d '\r' <"$CONSOLE" | grep -E '^(XEN|S:)' | tail -60 >&2
	exit 1
fi
exit 0
