#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/run.sh: performance figures of qubes-ephemeral, each measured side by
# side with a baseline in the same run (a ratio) or a count.
#
#   bench/run.sh           full run (about 17 minutes under TCG on a quiet 2-core machine,
#                          plus 10-16 for figure 8 at 5 boots of each kind)
#   bench/run.sh --quick   every figure, fewer boots, smaller sizes (a few minutes)
#   bench/run.sh --smoke   every figure once, tiny sizes (under 2 minutes, plus 2-3
#                          for figure 8's Xen boot); exits 0 only if every figure
#                          produced a number
#   --only=1,2             only these figures (3, 4 and 5 come from one boot pair)
#   figure 8 (the Xen ruler, bench/xen.sh) boots real Xen nested under QEMU
#   with tests/xen's dom0 (its cache: XEN_CACHE, default tests/xen/cache)
#
# stdout: one line per figure, `BENCH name value unit (baseline ...)`, then a
# summary table (lines `BENCH ...`, among them `BENCH init_time_ratio R`).
# stderr: progress and per-boot details. See bench/README.md.
# Environment: BENCH_CACHE=DIR (default bench/cache), BENCH_TIMEOUT=SECONDS per
# boot (default 900; 120 with --smoke; the full run's work boots get 3600),
# BENCH_ACCEL=tcg|kvm (default: kvm when /dev/kvm works), BENCH_BOOTS=N boots
# per init for figures 1 and 2, BENCH_APPEND="WORDS" added to every guest
# command line (e.g. initcall_debug), BENCH_INIT=PATH another build of
# ephemeral-init as "ours" (to compare two builds, each against the baseline),
# BENCH_KEEP=1 keeps the run folder's images; XBENCH_BOOTS=N boots of each of
# the 4 kinds of figure 8 (default BENCH_BOOTS, else full 5, quick 3, smoke 1).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
MODE=full ONLY=1,2,3,4,5,6,7,8
for a in "$@"; do
	case $a in
	--quick) MODE=quick ;;
	--smoke) MODE=smoke ;;
	--only=*) ONLY=${a#--only=} ;;
	*) echo "usage: $0 [--quick|--smoke] [--only=N,...]   (figures 1-8; 3, 4 and 5 share one boot)" >&2; exit 2 ;;
	esac
done
want() { case ,$ONLY, in *,"$1",*) return 0 ;; esac; return 1; }

export VM_CACHE=${BENCH_CACHE:-$BENCH_DIR/cache}
# shellcheck source=../tests/vm/lib.sh
. "$REPO/tests/vm/lib.sh"
bnote() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------- parameters
FIO_ALL="crypt4k-64k:plain-64k:crypt4k-nowq-64k:crypt512-64k:crypt4k-256k:crypt4k-1024k"
case $MODE in
full)  BOOTS=7 SIZE_BOOTS=5 XEN_BOOTS=5 MEM=1024:2048:4096 FILL=measured FIO_MIB=512 FIO_S=20 FIO=$FIO_ALL ;;
quick) BOOTS=5 SIZE_BOOTS=3 XEN_BOOTS=3 MEM=128:256:512 FILL=computed FIO_MIB=128 FIO_S=8 FIO=$FIO_ALL ;;
smoke) BOOTS=1 SIZE_BOOTS=1 XEN_BOOTS=1 MEM=32:64 FILL=computed FIO_MIB=16 FIO_S=2 FIO=crypt4k-64k:plain-64k:crypt4k-nowq-64k ;;
esac
BOOTS=${BENCH_BOOTS:-$BOOTS} SIZE_BOOTS=${BENCH_BOOTS:-$SIZE_BOOTS}
XEN_BOOTS=${XBENCH_BOOTS:-${BENCH_BOOTS:-$XEN_BOOTS}}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}
[ $MODE = smoke ] && BENCH_TIMEOUT=${BENCH_TIMEOUT_SMOKE:-120}
VOLATILE_GIB=12          # Qubes' default volatile of a disposable (10 + 2 GiB)
BIG_PRIVATE=16G          # private origin for figures 3-5: larger than the pool
ROOT_IMG_MIB=224         # the bench root carries fio and dmsetup with their libraries
BASELINE_MODULES=("${BASE_INITRD_MODULES[@]}" overlay)
CMDLINE="console=ttyS0 quiet panic=-1 mitigations=off root=/dev/mapper/dmroot ro"
CMDLINE+=" qubes.ephemeral.disks=vda,vdb,vdc,vdd trace_event=sched:sched_process_exec,sched:sched_process_fork"

# ---------------------------------------------------------------- images
# BIN with the shared libraries ldd names, into the tree ST (same paths).
copy_bin() { # ST BIN DEST
	local st=$1 bin=$2 dest=$3 lib
	install -D -m 755 "$(readlink -f "$bin")" "$st$dest"
	for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }'); do
		[ -e "$st$lib" ] || install -D -m 755 "$(readlink -f "$lib")" "$st$lib"
	done
}

# The baseline initramfs: busybox, util-linux sfdisk + mkswap, dmsetup, the
# stock modules (block driver, dm-snapshot, overlay) and baseline-init.sh.
_baseline_initrd_build() { # OUT
	local out=$1 tmp st m mods a
	[ -f "$out" ] && return 0
	bnote "building the baseline initramfs"
	vm_tmpdir tmp
	st=$tmp/root
	mkdir -p "$st"/{bin,sbin,dev,proc,sys,run,tmp,lib/modules/"$KVER"}
	copy_bin "$st" "$(command -v sfdisk)" /sbin/sfdisk
	copy_bin "$st" "$(command -v mkswap)" /sbin/mkswap
	copy_bin "$st" "$(command -v dmsetup)" /sbin/dmsetup
	cp /bin/busybox "$st/bin/busybox"
	for a in $(/bin/busybox --list); do
		case $a in busybox|init|linuxrc) continue ;; esac
		[ -e "$st/sbin/$a" ] || ln -s busybox "$st/bin/$a"
	done
	install -m 755 "$BENCH_DIR/baseline-init.sh" "$st/init"
	mknod "$st/dev/console" c 5 1
	mknod "$st/dev/null" c 1 3
	mods=$(module_closure "$KMODS" "${BASELINE_MODULES[@]}") || die "cannot resolve the baseline modules"
	for m in $mods; do
		mkdir -p "$st/lib/modules/$KVER/$(dirname "$m")"
		cp "$KMODS/$m" "$st/lib/modules/$KVER/$m"
	done
	for m in modules.builtin modules.builtin.modinfo modules.order; do
		[ -f "$KMODS/$m" ] && cp "$KMODS/$m" "$st/lib/modules/$KVER/"
	done
	depmod -b "$st" "$KVER"
	( cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 ) |
		gzip -9 -n >"$tmp/initrd"
	prune_cache "baseline-initramfs-*.cpio.gz" "$out"
	mv "$tmp/initrd" "$out"
	rm -rf "$tmp"
}
baseline_initrd() { # -> BASELINE_INITRD
	local key
	key=$(EXTRA_KEY="$KVER ${BASELINE_MODULES[*]}" inputs_hash _baseline_initrd_build copy_bin module_closure -- \
		"$BENCH_DIR/baseline-init.sh" /bin/busybox "$(command -v sfdisk)" "$(command -v mkswap)" "$(command -v dmsetup)")
	BASELINE_INITRD=$VM_CACHE/baseline-initramfs-$KVER-$key.cpio.gz
	with_cache_lock _baseline_initrd_build "$BASELINE_INITRD"
}

# The bench root: the harness' root image builder (lib.sh) with this tree.
_root_fs_tree() { # DIR
	local d=$1 a
	mkdir -p "$d"/{bin,sbin,etc,dev,proc,sys,run,rw,home,tmp,var/log,var/tmp,lib/modules,mnt,root,usr/bin,usr/sbin}
	chmod 1777 "$d/tmp" "$d/var/tmp"
	cp /bin/busybox "$d/bin/busybox"
	for a in $(/bin/busybox --list); do
		case $a in busybox|init|linuxrc) continue ;; esac
		ln -s busybox "$d/bin/$a"
	done
	install -m 755 "$BENCH_DIR/guest/init.sh" "$d/sbin/init"
	copy_bin "$d" "$(command -v fio)" /usr/bin/fio
	copy_bin "$d" "$(command -v dmsetup)" /sbin/dmsetup
	cat >"$d/etc/fstab" <<'EOF'
/dev/mapper/dmroot /    ext4 defaults,discard,noatime 1 1
/dev/vdb           /rw  auto noauto,defaults,discard,nosuid,nodev 1 2
/dev/vdc1          swap swap defaults 0 0
EOF
	echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
	echo "root:x:0:" >"$d/etc/group"
}
bench_root() { # -> BENCH_ROOT
	local key
	key=$(EXTRA_KEY=$ROOT_IMG_MIB inputs_hash _root_img_build _root_fs_tree copy_bin -- \
		"$BENCH_DIR/guest/init.sh" /bin/busybox "$(command -v fio)" "$(command -v dmsetup)")
	BENCH_ROOT=$VM_CACHE/root-$key.img
	with_cache_lock _root_img_build "$BENCH_ROOT"
}

# A sparse private disk larger than any pool here: ext4, few inodes, small journal.
_big_private_build() { # OUT
	local out=$1 tmp
	[ -f "$out" ] && return 0
	bnote "building the $BIG_PRIVATE private disk"
	vm_tmpdir tmp
	mkdir -p "$tmp/tree/home/user"
	truncate -s "$BIG_PRIVATE" "$tmp/p.img"
	mkfs.ext4 -q -F -b 4096 -i 4194304 -J size=32 -L private \
		-E nodiscard,lazy_itable_init=0,lazy_journal_init=0 -d "$tmp/tree" "$tmp/p.img" >/dev/null
	prune_cache "private-big-*.img" "$out"
	mv "$tmp/p.img" "$out"
	rm -rf "$tmp"
}
big_private() { # -> BIG_PRIVATE_IMG
	local key
	key=$(EXTRA_KEY=$BIG_PRIVATE inputs_hash _big_private_build)
	BIG_PRIVATE_IMG=$VM_CACHE/private-big-$BIG_PRIVATE-$key.img
	with_cache_lock _big_private_build "$BIG_PRIVATE_IMG"
}

# ---------------------------------------------------------------- boots
# KVM when /dev/kvm works (a probe boot of the baseline initramfs), else TCG.
choose_accel() {
	local want=${BENCH_ACCEL:-auto}
	ACCEL=(-accel tcg -cpu max) ACCEL_NAME=tcg
	[ "$want" = tcg ] && return 0
	if [ -c /dev/kvm ] && [ -w /dev/kvm ]; then
		if timeout 60 qemu-system-x86_64 -accel kvm -cpu host -machine q35 -m 256 -nographic -no-reboot \
			-nic none -kernel "$VMLINUZ" -initrd "$BASELINE_INITRD" \
			-append "console=ttyS0 quiet panic=-1 bench.probe=1" </dev/null 2>&1 | grep -q BENCH-PROBE; then
			ACCEL=(-accel kvm -cpu host) ACCEL_NAME=kvm
			return 0
		fi
		bnote "/dev/kvm is present but a probe boot failed: using TCG"
	fi
	[ "$want" = kvm ] && die "BENCH_ACCEL=kvm but KVM does not work here"
	return 0
}

# One boot. DISK: PATH or PATH:ro. Sets B_LOG (console) and B_S (wall seconds).
boot() { # NAME INITRD MEM_MIB OPTS DISK...
	local name=$1 initrd=$2 mem=$3 opts=$4 d drives=() t0 rc=0
	shift 4
	for d in "$@"; do
		case $d in
		*:ro) drives+=(-drive "file=${d%:ro},format=raw,if=virtio,readonly=on") ;;
		*) drives+=(-drive "file=$d,format=raw,if=virtio") ;;
		esac
	done
	B_LOG=$RUN_DIR/$name.log
	opts+=${BENCH_APPEND:+ $BENCH_APPEND}
	echo "$CMDLINE $opts" >"$RUN_DIR/$name.cmdline"
	t0=$(date +%s.%N)
	timeout -k 10 "${B_TIMEOUT:-$BENCH_TIMEOUT}" qemu-system-x86_64 "${ACCEL[@]}" -machine q35 -smp 2 -m "$mem" \
		-nographic -no-reboot -nic none -kernel "$VMLINUZ" -initrd "$initrd" \
		-append "$CMDLINE $opts" "${drives[@]}" </dev/null >"$B_LOG" 2>&1 || rc=$?
	B_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	[ $rc -eq 124 ] && bnote "$name: timed out after ${B_TIMEOUT:-$BENCH_TIMEOUT}s"
	[ $rc -eq 0 ] || bnote "$name: qemu exit $rc (console: $B_LOG)"
	return 0
}

# Value of KEY=value on the console's GUEST lines ("" when absent); with a
# third argument, only from lines that contain it.
gval() { # LOG KEY [FILTER]
	tr -d '\r' <"$1" | grep '^GUEST ' | grep -F -- "${3:-GUEST}" | sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" | tail -1 || true
}
# the init's own line "... setup done in N ms"
self_ms() { tr -d '\r' <"$1" | sed -n 's/.*setup done in \([0-9]*\) ms.*/\1/p' | tail -1 || true; }
# ours only: the per-step ms of the same line ("early 5, disks 20, ...")
steps() { tr -d '\r' <"$1" | sed -n 's/.*setup done in .*steps in ms: //p' | tail -1 || true; }

median() { # NUMBERS... (empty -> "")
	[ $# -gt 0 ] || { echo ""; return; }
	printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() { # A B [DIGITS] -> A/B or "" when either is missing
	[ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN { if (b == 0) exit 1; printf "%.*f", d, a / b }' || true
}
div() { # A B DIGITS -> A/B, or "" when A is empty
	[ -n "$1" ] && awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN { printf "%.*f", d, a / b }' || true
}

fresh_volatile() { # PATH SIZE
	rm -f "$1"
	truncate -s "$2" "$1"
}

# Figure lines, and the summary rows kept for the end.
SUMMARY=() MISSING=()
figure() { # NAME VALUE UNIT BASELINE-TEXT
	if [ -z "$2" ]; then
		MISSING+=("$1")
		echo "BENCH $1 none $3 (baseline $4; NOT MEASURED)"
	else
		echo "BENCH $1 $2 $3 (baseline $4)"
	fi
}
row() { SUMMARY+=("$(printf '%-28s %-16s %-20s %-10s %s' "$@")"); }

# ---------------------------------------------------------------- setup
[ "$(id -u)" = 0 ] || die "run as root (mknod in the initramfs, as tests/vm)"
need_tools qemu-system-x86_64 timeout sfdisk mkswap dmsetup fio ldd mkfs.ext4 cpio gzip python3 depmod flock awk
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || die "/bin/busybox must be busybox-static"
T_START=$(date +%s)
make -s -C "$REPO" build/ephemeral-init build/initramfs-append >/dev/null || die "make failed"
mkdir -p "$VM_CACHE/download"
# reuse the harness' kernel download when there is one (no second download)
for f in "$REPO"/tests/vm/cache/download/*.deb; do
	[ -f "$f" ] && [ ! -e "$VM_CACHE/download/$(basename "$f")" ] && { ln "$f" "$VM_CACHE/download/" 2>/dev/null || cp "$f" "$VM_CACHE/download/"; }
done
kernel_prepare
modules_img
base_initrd
private_template 4096
SMALL_PRIVATE=$PRIVATE_TEMPLATE
baseline_initrd
bench_root
big_private
choose_accel
vm_new_run_dir "$MODE"
OURS_INITRD=$RUN_DIR/ours-initrd.img
test_initrd "${BENCH_INIT:-$REPO/build/ephemeral-init}" "$OURS_INITRD"
bnote "mode $MODE, kernel $KVER, accel $ACCEL_NAME, run folder $RUN_DIR"
EMU="emulated (TCG)"
VOL=$RUN_DIR/volatile.img
[ "$ACCEL_NAME" = kvm ] && EMU="KVM"

# ---------------------------------------------------------------- figure 1
if want 1; then
bnote "figure 1: init time, $BOOTS boots each (ours, the real Qubes initramfs and the stock-steps shell baseline, in turn)"
o_us=() b_us=() o_self=() b_self=() o_forks=() b_forks=() o_umh=() b_umh=() o_execs=() b_execs=()
q_us=() q_self=() q_forks=() q_umh=() q_execs=()
# f1_boot NAME INITRD OPTS P LABEL: one boot; its figures appended to the
# arrays P_us, P_self, P_forks, P_execs, P_umh (P = o ours, b baseline)
f1_boot() {
	local name=$1 initrd=$2 opts=$3 p=$4 label=$5 v f
	fresh_volatile "$VOL" "${VOLATILE_GIB}G"
	boot "$name" "$initrd" 512 "$opts" \
		"$BENCH_ROOT:ro" "$SMALL_PRIVATE:ro" "$VOL" "$MODULES_IMG:ro"
	for f in us:init_us forks:init_forks execs:init_execs umh:kernel_helpers; do
		v=$(gval "$B_LOG" "${f#*:}")
		[ -n "$v" ] && eval "${p}_${f%%:*}+=(\"\$v\")"
	done
	v=$(self_ms "$B_LOG"); [ -n "$v" ] && eval "${p}_self+=(\"\$v\")"
	bnote "  $label: init $(gval "$B_LOG" init_us) us (self: $(self_ms "$B_LOG") ms), forks $(gval "$B_LOG" init_forks), helpers $(gval "$B_LOG" kernel_helpers), boot ${B_S}s"
}
for i in $(seq "$BOOTS"); do
	f1_boot "f1-ours-$i" "$OURS_INITRD" "qubes.ephemeral=1" o "ours #$i"
	bnote "    steps (ms): $(steps "$B_LOG")"
	# the real Qubes initramfs (tests/vm lib.sh qubes_initrd: dracut +
	# qubes-linux-utils dracut/simple, its own init.sh), nothing appended
	f1_boot "f1-qubes-$i" "$BASE_INITRD" "" q "qubes #$i"
	f1_boot "f1-base-$i" "$BASELINE_INITRD" "" b "shell #$i"
done
O_MS=$(div "$(median "${o_us[@]}")" 1000 0)
Q_MS=$(div "$(median "${q_us[@]}")" 1000 0)
B_MS=$(div "$(median "${b_us[@]}")" 1000 0)
INIT_RATIO=$(ratio "$O_MS" "$Q_MS" 2)
SHELL_RATIO=$(ratio "$O_MS" "$B_MS" 2)
O_FORKS=$(median "${o_forks[@]}") Q_FORKS=$(median "${q_forks[@]}") B_FORKS=$(median "${b_forks[@]}")
figure init_time_ms "$O_MS" ms "real Qubes initramfs /init (dracut/simple init.sh): ${Q_MS:-none} ms; ratio ${INIT_RATIO:-none}, goal <= 0.5; stock-steps shell /init: ${B_MS:-none} ms, ratio ${SHELL_RATIO:-none}; medians of $BOOTS boots each, exec of /init to exec of /sbin/init from kernel trace events; self-reported medians: ours $(median "${o_self[@]}") ms, shell baseline $(median "${b_self[@]}") ms"
figure init_processes "$O_FORKS" processes "real Qubes initramfs /init: ${Q_FORKS:-none} processes ($(median "${q_execs[@]}") programs exec'ed); stock-steps shell /init: ${B_FORKS:-none} processes ($(median "${b_execs[@]}") exec'ed); forks by /init and its children, trace events; kernel module helpers meanwhile: ours $(median "${o_umh[@]}"), Qubes $(median "${q_umh[@]}"), shell $(median "${b_umh[@]}")"
row "init time (ms)" "${O_MS:-none}" "${Q_MS:-none}" "${INIT_RATIO:-none}" "<= 0.5 (vs real Qubes initramfs; shell baseline ${B_MS:-none} ms)"
row "processes spawned by /init" "${O_FORKS:-none}" "${B_FORKS:-none}" "-" "-"
fi

# ---------------------------------------------------------------- figure 2
if want 2; then
bnote "figure 2: setup time with a 1 GiB and a 1 TiB volatile disk, $SIZE_BOOTS boots each"
s1=() s2=() w1='' w2=''
for i in $(seq "$SIZE_BOOTS"); do
	for sz in 1G 1T; do
		fresh_volatile "$VOL" "$sz"
		boot "f2-$sz-$i" "$OURS_INITRD" 512 "qubes.ephemeral=1 qubes.ephemeral.swap=256M" \
			"$BENCH_ROOT:ro" "$SMALL_PRIVATE:ro" "$VOL" "$MODULES_IMG:ro"
		v=$(gval "$B_LOG" init_us)
		if [ -n "$v" ]; then [ $sz = 1G ] && s1+=("$v") || s2+=("$v"); fi
		# what the boot wrote to the sparse image: setup only (the bench root's
		# init writes nothing without workloads and powers off at once)
		w=$(du -k "$VOL" | cut -f1)
		if [ -n "$v" ]; then [ $sz = 1G ] && w1=$w || w2=$w; fi
		bnote "  $sz #$i: init $v us, volatile image now $w KiB on the host"
		bnote "    steps (ms): $(steps "$B_LOG")"
	done
done
rm -f "$VOL"
M1=$(median "${s1[@]}") M2=$(median "${s2[@]}")
SIZE_RATIO=$(ratio "$M2" "$M1" 3)
figure setup_1tib_vs_1gib_ratio "$SIZE_RATIO" ratio "1 GiB volatile: $(div "$M1" 1000 0) ms, 1 TiB sparse: $(div "$M2" 1000 0) ms; medians of $SIZE_BOOTS boots; goal within 10 %"
row "setup 1 TiB / 1 GiB" "${SIZE_RATIO:-none}" "1.0" "-" "0.9 - 1.1"
figure setup_written_1tib_kib "$w2" KiB "1 GiB volatile: ${w1:-none} KiB; allocated in the sparse volatile image after one boot (du): a count, free of timing noise"
row "setup writes 1 TiB (KiB)" "${w2:-none}" "${w1:-none} (1 GiB)" "$(ratio "$w2" "$w1" 2 | grep . || echo none)" "-"
fi

# ---------------------------------------------------------------- work boots: figures 3, 4, 5
if want 3 || want 4 || want 5; then
bnote "figures 3-5: one boot of ours (mem $MEM MiB, fio $FIO, fill $FILL) and one of the community layout"
VDE=$RUN_DIR/scratch.img
rm -f "$VDE"
# written on the host first, so no variant pays for the host's block allocation
dd if=/dev/zero of="$VDE" bs=1M count=$(( 2 * FIO_MIB + 64 )) status=none
work_opts="bench.mem=$MEM"
B_TIMEOUT=$BENCH_TIMEOUT
[ "$FILL" = measured ] && work_opts+=" bench.fill=1" && B_TIMEOUT=$(( BENCH_TIMEOUT > 3600 ? BENCH_TIMEOUT : 3600 ))
fresh_volatile "$VOL" "${VOLATILE_GIB}G"
boot work-ours "$OURS_INITRD" 1024 "qubes.ephemeral=1 qubes.ephemeral.swap=1G $work_opts bench.fio=$FIO bench.fio_mib=$FIO_MIB bench.fio_s=$FIO_S" \
	"$BENCH_ROOT:ro" "$BIG_PRIVATE_IMG:ro" "$VOL" "$MODULES_IMG:ro" "$VDE" "$BIG_PRIVATE_IMG:ro"
WO=$B_LOG
bnote "  ours work boot: ${B_S}s"
rm -f "$VOL" "$VDE"
fresh_volatile "$VOL" "${VOLATILE_GIB}G"
boot work-community "$BASELINE_INITRD" 1024 "bench.community=1 $work_opts" \
	"$BENCH_ROOT:ro" "$BIG_PRIVATE_IMG:ro" "$VOL" "$MODULES_IMG:ro"
WC=$B_LOG
bnote "  community work boot: ${B_S}s"
B_TIMEOUT=
rm -f "$VOL"
tr -d '\r' <"$WO" | grep -E '^GUEST (mem|fio|fill|pool|error)' | sed 's/^/  ours: /' >&2 || true
tr -d '\r' <"$WC" | grep -E '^GUEST (mem|fill|cow|error)' | sed 's/^/  community: /' >&2 || true

# figure 3: unreclaimable slab (SUnreclaim) per GiB written: the slope between
# the first and the last size written (one-time costs of the first write left
# out); with one size, from before the first write. dm-bufio (the thin pool's
# metadata cache: capped, reclaimable) is reported beside it.
kmem_slope() { # LOG sunreclaim_kib|bufio_bytes -> MiB per GiB
	tr -d '\r' <"$1" | { grep '^GUEST mem_mib=' || true; } | awk -v key="$2" '
		{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		{ mib[NR] = v["mem_mib"]; x[NR] = (key == "bufio_bytes") ? v[key] / 1024 : v[key] }
		END {
			if (NR < 2) exit
			f = (NR >= 3) ? 2 : 1
			if (mib[NR] <= mib[f]) exit
			printf "%.2f", (x[NR] - x[f]) / 1024 / ((mib[NR] - mib[f]) / 1024)
		}'
}
kmem_series() { # LOG -> "MiB: +KiB ..." from before the first write
	tr -d '\r' <"$1" | { grep '^GUEST mem_mib=' || true; } | awk '
		{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		NR == 1 { u0 = v["sunreclaim_kib"]; b0 = v["bufio_bytes"] }
		NR > 1 { printf "%s%s MiB +%d KiB slab +%d KiB bufio", s, v["mem_mib"], v["sunreclaim_kib"] - u0, (v["bufio_bytes"] - b0) / 1024; s = ", " }'
}
KO=$(kmem_slope "$WO" sunreclaim_kib) KC=$(kmem_slope "$WC" sunreclaim_kib)
KOB=$(kmem_slope "$WO" bufio_bytes)
figure kmem_per_gib_written "$KO" MiB/GiB "community snapshot N 16: ${KC:-none} MiB/GiB; unreclaimable slab (SUnreclaim) slope over $MEM MiB of distinct 8 KiB blocks in random order written to /rw; ours also fills the dm-bufio metadata cache (capped, reclaimable) by ${KOB:-none} MiB/GiB; goal <= 0.5 for ours; ours: $(kmem_series "$WO"); community: $(kmem_series "$WC")"
row "kernel MiB per GiB written" "${KO:-none}" "${KC:-none}" "$(ratio "$KO" "$KC" 3 | grep . || echo none)" "ours <= 0.5"

# figure 4: usable scratch on /rw, 12 GiB volatile, 1 GiB swap
if [ "$FILL" = measured ]; then
	UO=$(div "$(gval "$WO" fill_mib)" 1024 2)
	UC=$(div "$(gval "$WC" fill_mib)" 1024 2)
	how="measured: bytes written to /rw (O_DIRECT files) until the first error; ours: $(gval "$WO" fill_error), community: $(gval "$WC" fill_error)"
else
	UO=$(div "$(gval "$WO" pool_free)" 1073741824 2)
	UC=$(div "$(gval "$WC" cow_bytes)" 1073741824 2)
	how="computed: free pool data bytes after boot (ours), size of the private COW partition (community); file system overhead not counted"
fi
figure usable_scratch_gib "$UO" GiB "community split (half of the volatile disk for private): ${UC:-none} GiB; ${VOLATILE_GIB} GiB volatile, 1 GiB swap, $BIG_PRIVATE private; $how; goal >= 10.5"
row "usable scratch (GiB)" "${UO:-none}" "${UC:-none}" "$(ratio "$UO" "$UC" 2 | grep . || echo none)" ">= 10.5"

# figure 5: fio, all variants in the ours boot
fio_val() { gval "$WO" "$2" "variant=$1 "; }
fio_ratio() { # A B KEY
	local a b
	a=$(fio_val "$1" "$3"); b=$(fio_val "$2" "$3")
	[ "$a" = none ] && a=''; [ "$b" = none ] && b=''
	ratio "$a" "$b" 3
}
mibs() { local v; v=$(fio_val "$1" seq_kibs); [ -n "$v" ] && [ "$v" != none ] && div "$v" 1024 1 || echo none; }
iops() { local v; v=$(fio_val "$1" rand_iops); echo "${v:-none}"; }
fio_pair() { # NAME A B WHAT-B
	local s r
	s=$(fio_ratio "$2" "$3" seq_kibs); r=$(fio_ratio "$2" "$3" rand_iops)
	figure "fio_seq_${1}_ratio" "$s" ratio "$4: $(mibs "$3") MiB/s vs $(mibs "$2") MiB/s; sequential 1 MiB writes, $FIO_MIB MiB, iodepth 4; $EMU"
	figure "fio_rand_${1}_ratio" "$r" ratio "$4: $(iops "$3") IOPS vs $(iops "$2") IOPS; random 4 KiB writes, ${FIO_S}s, iodepth 16, first writes to thin blocks; $EMU"
	row "fio seq $1" "$(mibs "$2") MiB/s" "$(mibs "$3") MiB/s" "${s:-none}" "$EMU"
	row "fio rand $1" "$(iops "$2") IOPS" "$(iops "$3") IOPS" "${r:-none}" "$EMU"
}
fio_pair crypt_vs_plain crypt4k-64k plain-64k "plain thin (linear, no dm-crypt)"
fio_pair nowq_vs_crypt crypt4k-nowq-64k crypt4k-64k "crypt+thin with default workqueues (ours)"
case $FIO in *crypt512-64k*)
	fio_pair sector512_vs_4k crypt512-64k crypt4k-64k "crypt 4096-byte sectors (ours)" ;; esac
case $FIO in *crypt4k-256k*)
	fio_pair block256k_vs_64k crypt4k-256k crypt4k-64k "thin block 64 KiB (ours)" ;; esac
case $FIO in *crypt4k-1024k*)
	fio_pair block1m_vs_64k crypt4k-1024k crypt4k-64k "thin block 64 KiB (ours)" ;; esac
fi

# ---------------------------------------------------------------- figure 6
if want 6; then
INIT_BYTES=$(stat -c %s "$REPO/build/ephemeral-init")
BASE_BYTES=$(stat -c %s "$BASE_INITRD")
APPEND_BYTES=$(( $(stat -c %s "$OURS_INITRD") - BASE_BYTES ))
GROWTH=$(awk -v a="$APPEND_BYTES" -v b="$BASE_BYTES" 'BEGIN { printf "%.1f", 100 * a / b }')
figure init_binary_bytes "$INIT_BYTES" bytes "none: static binary, no shared libraries; baseline initramfs carries sfdisk+mkswap+dmsetup with libraries: $(du -cb "$(command -v sfdisk)" "$(command -v mkswap)" "$(command -v dmsetup)" | tail -1 | cut -f1) bytes of binaries"
figure appended_cpio_bytes "$APPEND_BYTES" bytes "stand-in base initramfs (gzip, busybox + block/dm-snapshot modules): $BASE_BYTES bytes"
figure initramfs_growth_pct "$GROWTH" % "of the stand-in base initramfs ($BASE_BYTES bytes); a dom0 dracut initramfs is larger, so the real growth is smaller"
row "init binary (bytes)" "$INIT_BYTES" "-" "-" "-"
row "appended cpio (bytes)" "$APPEND_BYTES" "$BASE_BYTES" "$GROWTH %" "-"
fi

# ---------------------------------------------------------------- figure 7
if want 7; then
bnote "figure 7: bench/dom0.sh"
D0=$RUN_DIR/dom0.out
N=100 bash "$BENCH_DIR/dom0.sh" >"$D0" 2>&1 || bnote "bench/dom0.sh failed: $(tail -3 "$D0")"
for k in enable_100_s enable_100_calls status_100_s status_100_calls; do
	v=$(awk -v k="dom0_$k" '$1 == "BENCH" && $2 == k { print $3 }' "$D0")
	u=$(awk -v k="dom0_$k" '$1 == "BENCH" && $2 == k { print $4 }' "$D0")
	figure "dom0_$k" "$v" "${u:-?}" "none: count for 100 qubes against the fake qubesd (bench/dom0.sh)"
	row "dom0 $k" "${v:-none}" "-" "-" "-"
done
fi

# ---------------------------------------------------------------- figure 8
# The Xen ruler: bench/xen.sh boots real Xen (nested under QEMU) once and
# starts PV and PVH domains alternately, ours vs the real Qubes initramfs of
# the same kernel folder; each timed on dom0's clock from `xl create` to the
# first line of /sbin/init.
if want 8; then
bnote "figure 8: the Xen ruler (bench/xen.sh), $XEN_BOOTS boot(s) each of PV and PVH, ours and the real Qubes initramfs"
XO=$RUN_DIR/xen.out
t8=$(date +%s)
XBENCH_BOOTS=$XEN_BOOTS bash "$BENCH_DIR/xen.sh" >"$XO" 2>"$RUN_DIR/xen.err" ||
	bnote "bench/xen.sh failed: $(tail -5 "$RUN_DIR/xen.err")"
bnote "  the Xen run took $(( $(date +%s) - t8 )) s"
# KEY values of the ok boots of TYPE and VARIANT
xvals() { # TYPE VARIANT KEY
	awk -v t="$1" -v v="$2" -v k="$3" '$1 == "XBENCH" {
		delete f; for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		if (f["type"] == t && f["variant"] == v && f["ok"] == "yes" && f[k] != "none") print f[k] }' "$XO"
}
# shellcheck disable=SC2046
xmed() { median $(xvals "$@"); }
# ours / Qubes of each round (boots of the same round ran back to back:
# slow changes of the machine's load cancel), one per line
xpaired() { # TYPE
	awk -v t="$1" '$1 == "XBENCH" {
		delete f; for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		if (f["type"] == t && f["ok"] == "yes" && f["total_ms"] != "none") v[f["variant"], f["boot"]] = f["total_ms"]; b[f["boot"]] = 1 }
		END { for (n in b) if (v["ours", n] != "" && v["qubes", n] > 0) printf "%.3f\n", v["ours", n] / v["qubes", n] }' "$XO"
}
while read -r l; do bnote "  $l"; done < <(grep -E '^(XBENCH|XSTEPS)' "$XO" || true)
for t in pv pvh; do
	T=$(tr a-z A-Z <<<"$t")
	XOM=$(xmed "$t" ours total_ms) XQM=$(xmed "$t" qubes total_ms)
	XN=$(xvals "$t" ours total_ms | wc -l)
	XR=$(ratio "$XOM" "$XQM" 2)
	XIR=$(ratio "$(xmed "$t" ours init_ms)" "$(xmed "$t" qubes init_ms)" 2)
	# shellcheck disable=SC2046
	XPR=$(median $(xpaired "$t"))
	parts="xl create $(xmed "$t" ours create_ms) / $(xmed "$t" qubes create_ms) ms, xl create to the kernel's start $(xmed "$t" ours build_ms) / $(xmed "$t" qubes build_ms) ms, kernel to the initramfs' first line $(xmed "$t" ours kernel_ms) / $(xmed "$t" qubes kernel_ms) ms, that line to /sbin/init $(xmed "$t" ours init_ms) / $(xmed "$t" qubes init_ms) ms (ratio ${XIR:-none})"
	figure "xen_${t}_init_time_ratio" "$XR" ratio "real Qubes initramfs of the same kernel folder (its own init.sh, dm snapshot, private w): ${XQM:-none} ms, ours ${XOM:-none} ms, $XN boots each; xl create to the exec of /sbin/init on dom0's clock, medians; goal <= 0.5; median of the rounds' own ratios ${XPR:-none} ($(xpaired "$t" | sort -n | tr '\n' ' ' | sed 's/ $//')); ours / Qubes: $parts; ours' own setup $(xmed "$t" ours self_ms) ms"
	figure "xen_${t}_init_time_ms" "$XOM" ms "real Qubes initramfs: ${XQM:-none} ms; $T domain, 400 MiB, 1 vCPU, Xen 4.17 nested under QEMU $ACCEL_NAME, median of $XN"
	figure "xen_${t}_initramfs_time_ratio" "$XIR" ratio "the initramfs' first console line to /sbin/init (ours: after mounting /proc etc.; Qubes: init.sh's first echo): ours $(xmed "$t" ours init_ms) ms, Qubes $(xmed "$t" qubes init_ms) ms"
	row "Xen $T to /sbin/init (ms)" "${XOM:-none}" "${XQM:-none}" "${XR:-none}" "<= 0.5 (real Qubes initramfs; initramfs part ${XIR:-none})"
	eval "XEN_${T}_RATIO=\$XR"
done
# the variant's size: what `qvm-ephemeral kernel add` made of the real Qubes initramfs
XSO=$(sed -n 's/^XSIZES ours=\([0-9]*\) qubes=.*/\1/p' "$XO") XSQ=$(sed -n 's/^XSIZES ours=[0-9]* qubes=\([0-9]*\)$/\1/p' "$XO")
XSG=none
if [ -n "$XSO" ] && [ -n "$XSQ" ]; then XSG=$(awk -v a="$XSO" -v b="$XSQ" 'BEGIN { printf "%.1f", 100 * (a - b) / b }'); fi
figure xen_variant_initramfs_bytes "$XSO" bytes "the real Qubes initramfs it was made from (dracut, ${XBENCH_COMPRESS:-gzip}): ${XSQ:-none} bytes; growth $XSG % (our archive: ephemeral-init and the stack's carried modules)"
fi

# ---------------------------------------------------------------- summary
ELAPSED=$(( $(date +%s) - T_START ))
echo "BENCH summary mode=$MODE accel=$ACCEL_NAME kernel=$KVER seconds=$ELAPSED"
printf 'BENCH %-28s %-16s %-20s %-10s %s\n' figure ours baseline ratio goal/note
for r in "${SUMMARY[@]}"; do echo "BENCH $r"; done
want 8 && echo "BENCH xen_pv_init_time_ratio ${XEN_PV_RATIO:-none}" && echo "BENCH xen_pvh_init_time_ratio ${XEN_PVH_RATIO:-none}"
echo "BENCH init_time_ratio ${INIT_RATIO:-none}"
if [ "${BENCH_KEEP:-0}" != 1 ]; then rm -f "$RUN_DIR"/*.img; fi
bnote "console logs in $RUN_DIR; $ELAPSED s"
if [ ${#MISSING[@]} -gt 0 ]; then
	bnote "figures without a number: ${MISSING[*]}"
	exit 1
fi
exit 0
