#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/xen/run.sh: ephemeral qubes under real Xen (nested under QEMU TCG).
#
#   tests/xen/run.sh SCENARIO...   run these scenarios (in one Xen boot)
#   tests/xen/run.sh all           run every scenario but the NAMED_ONLY ones
#   tests/xen/run.sh --list        print every scenario name, one per line
#
# Boots Debian's Xen with a minimal dom0 made from Debian packages; dom0
# starts Qubes-shaped domains with `xl` from a kernel folder made by
# `qvm-ephemeral kernel add`, scans their disks, and the host scans the same
# disk images afterwards. Each scenario ends with one line on stdout
#   RESULT scenario=NAME marker_hits=N origins_unchanged=yes|no swap_used=yes|no ... pass=yes|no
# in the format of tests/vm/run.sh, and the script ends with "N passed, N failed".
# Environment: XEN_TIMEOUT=SECONDS bounds the whole Xen boot (default 1800),
# XEN_KEEP=1 keeps the run's images, XEN_CACHE=DIR moves the cache.
# See tests/xen/README.md.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

SCENARIOS=(xen-pv xen-pvh xen-hvm xen-pvh-stock xen-pvh-fault xen-balloon xen-balloon-control xen-pvh-systemd)
# run by name only, not by `all` (README.md says why): xen-hvm was not seen
# passing here. xen-pvh-systemd runs alone, after the others (README.md)
NAMED_ONLY=(xen-hvm)
XEN_TIMEOUT=${XEN_TIMEOUT:-1800}
DOMU_TIMEOUT=${DOMU_TIMEOUT:-600}
# a systemd root takes minutes more under TCG in nested Xen
DOMU_TIMEOUT_SYSTEMD=${DOMU_TIMEOUT_SYSTEMD:-900}
# two domains run side by side (balloon scenarios alone): 2 x 320 MiB + dom0's 512 fit in 1536
DOMU_MEM=320 BALLOON_MEM=384
EPHEMERAL_OPTS="qubes.ephemeral=1"
# test-only words: for the guest script, 24 MiB through its 16 MiB cgroup is
# enough to reach swap and saves a minute per PVH domain under TCG;
# mitigations=off saves 15-25 % of a guest's time under TCG (TEST-ENV.md)
GUEST_OPTS="qe.swapfill=24 mitigations=off"

usage() {
	echo "usage: $0 SCENARIO... | all | --list" >&2
	echo "scenarios: ${SCENARIOS[*]}" >&2
	exit 2
}

# ---------------------------------------------------------------- scenarios
# S_TYPE pv|pvh|hvm; S_OPTS kernelopts after the folder's common ones;
# S_ROOT_MODE, S_PRIV_MODE, S_MOD_MODE r|w (as dom0 attaches them); S_VOLATILE 1|0; S_BALLOON MiB (0: none); S_EXPECT words;
# S_ROOT busybox (the shared root disk) | agent (its own copy of the agent root);
# S_ALONE 1: runs with no other domain beside it (after the lanes)
scenario_config() {
	S_TYPE=pvh S_OPTS=$EPHEMERAL_OPTS S_ROOT_MODE=r S_PRIV_MODE=r S_MOD_MODE=r S_VOLATILE=1 S_BALLOON=0
	S_ROOT=busybox S_TIMEOUT=$DOMU_TIMEOUT S_ALONE=0
	case $1 in
	xen-pv) S_TYPE=pv; S_EXPECT="userspace done no_hits unchanged swap status_ok scrub1" ;;
	xen-pvh) S_EXPECT="userspace done no_hits unchanged swap status_ok scrub1" ;;
	xen-hvm)
		# upstream libxl emulates an HVM's xvd* as IDE too and refuses read-only
		# IDE disks: root, private and modules go in writable, the init must
		# make root and private read-only itself (BLKROSET) and mount modules
		# read-only, and "unchanged" checks that nothing was written
		S_TYPE=hvm S_ROOT_MODE=w S_PRIV_MODE=w S_MOD_MODE=w
		S_EXPECT="userspace done no_hits unchanged swap status_ok scrub1" ;;
	xen-pvh-stock)
		# no qubes.ephemeral: the stock behaviour, private writable as Qubes attaches it
		S_OPTS="" S_PRIV_MODE=w
		S_EXPECT="userspace done hits changed scrub1" ;;
	xen-pvh-fault)
		# no volatile disk: the init must stop the boot and power off
		S_VOLATILE=0 S_OPTS="$EPHEMERAL_OPTS qubes.ephemeral.timeout=10"
		S_EXPECT="no_userspace fatal no_hits unchanged console:volatile_disk_/dev/xvdc_did_not_appear" ;;
	xen-balloon)
		# marker pages freed, ballooned out; the next domain must not see them
		S_BALLOON=200 S_OPTS="$EPHEMERAL_OPTS init_on_alloc=0"
		S_EXPECT="userspace no_hits unchanged scrub1 probe_ran balloon_clean" ;;
	xen-balloon-control)
		# the same with scrubbing turned off again in the guest: must leak
		S_BALLOON=200 S_OPTS="$EPHEMERAL_OPTS init_on_alloc=0 qe.scrub=0"
		S_EXPECT="userspace no_hits unchanged probe_ran balloon_leak" ;;
	xen-pvh-systemd)
		# the systemd root with the real Qubes agent (tests/vm/agent-root.sh
		# xen: its files name xvd* as shipped), a disposable's qubesdb (stub);
		# qe.agent=basic: the agent report stops after the mounts. Alone: beside
		# xen-pvh both PVH domains died of a triple fault (README.md, gotchas)
		S_ROOT=agent S_TIMEOUT=$DOMU_TIMEOUT_SYSTEMD S_ALONE=1
		S_OPTS="$EPHEMERAL_OPTS qe.qdb=dispvm qe.agent=basic"
		S_EXPECT="userspace done no_hits unchanged swap status_ok scrub1 no_failed_units no_device_waits private_mounted agent_mounts agent_fsck" ;;
	*) die "unknown scenario '$1' (try --list)" ;;
	esac
}

# Value of KEY=value in PREFIX-ed lines of the console ("" if absent).
xval() { # PREFIX KEY
	tr -d '\r' <"$CONSOLE" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' | grep -F -- "$1" |
		sed -n "s/.*[ :]$2=\([^ ]*\).*/\1/p" | tail -1 || true
}

# The words tests/vm/lib.sh's expect_common knows, and these: LOG = the domain's console.
check_expect() { # LOG
	local e
	FAILS=()
	for e in $S_EXPECT; do
		case $e in
		scrub1) [ "$R_SCRUB" = 1 ] || FAILS+=("scrub_pages inside the guest is ${R_SCRUB:-unknown} (want 1)") ;;
		probe_ran) [ "${R_KCORE_BYTES:-0}" -gt 0 ] || FAILS+=("the probe domain did not scan its RAM") ;;
		balloon_clean) [ "${R_BALLOON:-x}" = 0 ] || FAILS+=("marker copies in ballooned-out memory: ${R_BALLOON:-unknown} (want 0)") ;;
		balloon_leak) [ "${R_BALLOON:-0}" -gt 0 ] 2>/dev/null || FAILS+=("control: no marker in ballooned-out memory (the probe cannot see it?)") ;;
		*) expect_common "$e" "$1" || die "internal: unknown expectation $e" ;;
		esac
	done
	[ "$R_TIMEOUT" = no ] || FAILS+=("the domain did not stop within ${S_TIMEOUT}s")
	[ "$R_INFLATE" = 0 ] || FAILS+=("xl create logged 'inflate failed' $R_INFLATE times")
	case $R_SHUTDOWN in crash|reboot)
		FAILS+=("Xen shut the domain down: $R_SHUTDOWN (a triple fault when its xl-dmesg lines say so)") ;;
	esac
	[ "$R_CREATE_RC" = 0 ] || FAILS+=("xl create failed (rc ${R_CREATE_RC:-none})")
	return 0
}

# ---------------------------------------------------------------- plan
# Outer disks: vda root (shared, xvda of every domain), vdb the variant's
# modules.img (xvdd), then each scenario's private and volatile.
DISKS=() NEXT_DEV=0
add_disk() { # FILE -> DEV (vdX)
	DISKS+=("$1")
	DEV=vd$(printf "\\x$(printf %x $((97 + NEXT_DEV)))")
	NEXT_DEV=$((NEXT_DEV + 1))
}

plan_scenario() { # NAME
	local name=$1 priv vol seed cmd disks=() root=vda
	scenario_config "$name"
	local d=$RUN_DIR/$name
	mkdir -p "$d"
	if [ "$S_ROOT" = agent ]; then
		# its own copy of the agent root (GPT, "Root filesystem" = xvda3)
		cp --sparse=always "$AGENT_ROOT" "$d/root.img"
		sha256sum <"$d/root.img" | cut -d' ' -f1 >"$d/root.sha0"
		add_disk "$d/root.img"; root=$DEV
	fi
	cp --sparse=always "$PRIVATE_TEMPLATE" "$d/private.img"
	add_disk "$d/private.img"; priv=$DEV
	disks=("phy:/dev/$root,xvda,$S_ROOT_MODE" "phy:/dev/$priv,xvdb,$S_PRIV_MODE")
	if [ "$S_VOLATILE" = 1 ]; then
		truncate -s 2G "$d/volatile.img"
		add_disk "$d/volatile.img"; vol=$DEV
		disks+=("phy:/dev/$vol,xvdc,w")
	fi
	disks+=("phy:/dev/vdb,xvdd,$S_MOD_MODE")
	seed=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	echo "$seed" >"$d/seed"
	sha256sum <"$d/private.img" | cut -d' ' -f1 >"$d/private.sha0"
	# what qubesd gives: the folder's default-kernelopts-common.txt, then kernelopts
	cmd="$(tr -d '\n' <"$KFOLDER/default-kernelopts-common.txt" | sed 's/ *$//')${S_OPTS:+ $S_OPTS} $GUEST_OPTS qe.seed=$seed"
	# a balloon domain skips the swap push (not what it tests): qe.swapfill=0 comes last and wins
	[ "$S_BALLOON" -gt 0 ] && cmd="$cmd qe.balloon=$S_BALLOON qe.swapfill=0"
	echo "$cmd" >"$d/cmdline"
	local rd=/qe/k/initramfs
	[ "$S_TYPE" = hvm ] && rd=/qe/k/hvm-initramfs
	local mem=$DOMU_MEM
	[ "$S_BALLOON" -gt 0 ] && mem=$BALLOON_MEM
	write_cfg "$name" "$S_TYPE" /qe/k/vmlinuz "$rd" "$cmd" "$mem" "${disks[@]}"
	local scan="/dev/$root /dev/vdb /dev/$priv${vol:+ /dev/$vol}"
	# each scenario is a function of the plan; run_plan decides what runs side by side
	{
		echo "sc_${name//-/_}() {"
		echo "local t0=\$(date +%s)"
		echo "say \"scenario=$name start\""
		if [ "$S_BALLOON" -gt 0 ]; then
			write_cfg "$name-probe" pv /qe/k/vmlinuz /qe/probe.initrd \
				"console=hvc0 init_on_alloc=0 qe.seed=$seed" 256
			echo "qe_run $name /qe/$name.cfg $DOMU_TIMEOUT 'balloon_ready=yes'"
			echo "qe_balloon $name 160"
			echo "qe_run $name-probe /qe/$name-probe.cfg $DOMU_TIMEOUT"
			echo "qe_console $name-probe"
			echo "qe_destroy $name"
		else
			echo "qe_run $name /qe/$name.cfg $S_TIMEOUT"
			echo "qe_destroy $name"
		fi
		echo "qe_console $name"
		echo "qe_scan $name $seed $scan"
		echo "say \"$name wall_s=\$((\$(date +%s) - t0))\""
		echo "}"
	} >>"$PLAN_DIR/qe/plan.sh"
	if [ "$S_BALLOON" -gt 0 ] || [ "$S_ALONE" = 1 ]; then PLAN_ALONE+=("sc_${name//-/_}"); else PLAN_PAIRED+=("sc_${name//-/_}"); fi
}

# Two lanes of ordinary scenarios side by side (each lane one after the
# other: a short one does not wait for the long one of a pair), then the
# balloon ones alone (another domain being built would take the frames the
# probe must get), and xen-pvh-systemd alone. The pairing matters: two PVH
# domains running side by side for long died of triple faults here (README,
# gotchas); in the order of SCENARIOS, xen-pv runs beside xen-pvh, and
# xen-pvh-stock beside the short xen-pvh-fault.
run_plan() {
	local i lane=(":" ":")
	for ((i = 0; i < ${#PLAN_PAIRED[@]}; i++)); do
		lane[i % 2]="${lane[i % 2]}; ${PLAN_PAIRED[i]}"
	done
	echo "lane0() { ${lane[0]}; }"
	echo "lane1() { ${lane[1]}; }"
	echo "lane0 & lane1 & wait"
	for i in "${PLAN_ALONE[@]+"${PLAN_ALONE[@]}"}"; do echo "$i"; done
}

# ---------------------------------------------------------------- results
report_scenario() { # NAME
	local name=$1 d=$RUN_DIR/$1 seed tok h_priv=0 h_vol=0
	scenario_config "$name"
	seed=$(cat "$d/seed")
	tok="QEM-$(printf '%s' "$seed" | sha256sum | cut -c1-44)"
	local counts root_img=$ROOT_IMG root_changed=no
	if [ "$S_ROOT" = agent ]; then
		root_img=$d/root.img
		[ "$(sha256sum <"$root_img" | cut -d' ' -f1)" = "$(cat "$d/root.sha0")" ] || root_changed=yes
	else
		[ "$ROOT_SHA_AFTER" = "$ROOT_SHA" ] || root_changed=yes
	fi
	if [ -f "$d/volatile.img" ]; then
		counts=$(python3 "$VM_DIR/scan.py" "$tok" "$root_img" "$d/private.img" "$d/volatile.img" "$MODULES") || die "scan.py failed"
		{ read -r h_root _; read -r h_priv _; read -r h_vol _; read -r h_mod _; } <<<"$counts"
	else
		counts=$(python3 "$VM_DIR/scan.py" "$tok" "$root_img" "$d/private.img" "$MODULES") || die "scan.py failed"
		{ read -r h_root _; read -r h_priv _; read -r h_mod _; } <<<"$counts"
	fi
	# dom0's own scan of the same disks (through blkback's devices)
	local dom0_line dom0_hits=0 v
	dom0_line=$(tr -d '\r' <"$CONSOLE" | sed -n "s/^XEN $name dom0_scan //p" | tail -1)
	if [ -z "$dom0_line" ]; then
		dom0_hits=none
	else
		for v in $dom0_line; do
			case ${v#*=} in ''|*[!0-9]*) dom0_hits=error; break ;; esac
			dom0_hits=$((dom0_hits + ${v#*=}))
		done
	fi
	R_HITS=$((h_root + h_priv + h_vol + h_mod))
	[ "$dom0_hits" = 0 ] || { [[ $dom0_hits =~ ^[0-9]+$ ]] && R_HITS=$((R_HITS > dom0_hits ? R_HITS : dom0_hits)); }
	R_UNCHANGED=no
	[ "$(sha256sum <"$d/private.img" | cut -d' ' -f1)" = "$(cat "$d/private.sha0")" ] &&
		[ "$root_changed" = no ] && [ "$MOD_SHA_AFTER" = "$MOD_SHA" ] && R_UNCHANGED=yes
	# the domain's own console, from dom0's copy of it ("G:NAME: " lines)
	local log=$d/console.log
	tr -d '\r' <"$CONSOLE" | sed -n "s/^G:$name: //p" >"$log"
	guest_results "$log" # R_USERSPACE R_DONE R_SWAP R_STATUS_RC R_FATAL R_FAILED_UNITS R_DEVICE_WAITS
	R_SCRUB=$(guest_val "$log" scrub_pages)
	R_CREATE_RC=$(xval "XEN $name " create_rc)
	R_TIMEOUT=$(xval "XEN $name " timeout); R_TIMEOUT=${R_TIMEOUT:-yes}
	R_RUN_S=$(xval "XEN $name " run_s)
	R_INFLATE=$(xval "XEN $name " inflate_errors); R_INFLATE=${R_INFLATE:-none}
	R_SHUTDOWN=$(xval "XEN $name " shutdown) R_TRIES=$(xval "XEN $name " tries)
	R_BALLOON='' R_KCORE_BYTES='' R_PROBE_INFLATE=none
	if [ "$S_BALLOON" -gt 0 ]; then
		R_BALLOON=$(xval "G:$name-probe: PROBE" kcore_copies)
		R_KCORE_BYTES=$(xval "G:$name-probe: PROBE" kcore_bytes)
		R_PROBE_INFLATE=$(xval "XEN $name-probe " inflate_errors)
	fi
	if grep -qF "$tok" "$CONSOLE"; then echo "xen: WARNING: the marker appeared on the console of $name" >&2; fi
	check_expect "$log"
	local pass=yes
	[ ${#FAILS[@]} -eq 0 ] || pass=no
	{
		echo "== $name ($S_TYPE): marker copies root=$h_root private=$h_priv volatile=$h_vol modules=$h_mod; dom0's scan: $dom0_line"
		grep -E 'GUEST (userspace|scrub|swap_used|status_rc|done|balloon|markers|system_state|failed|device_waits|wait:|boot_ms|analyze|blame|rw_source|agent_mounts|agent_fsck|agent-journal)|qubes-ephemeral|STATUS:|Reached target.*Multi-User' "$log" | sed 's/^/   | /' || true
		grep -E "^XEN $name(-probe)? " "$CONSOLE" | tr -d '\r' | sed 's/^/   | /' || true
		[ "$S_BALLOON" -gt 0 ] && grep -F "G:$name-probe: PROBE" "$CONSOLE" | tr -d '\r' | sed 's/^/   | /' || true
		[ "${R_TRIES:-1}" = 1 ] || echo "   started $R_TRIES times: each earlier try was killed by QEMU's nested-SVM emulation fault (tryN lines above; README.md, gotchas)"
		if [ $pass = no ]; then
			printf '   FAILED: %s\n' "${FAILS[@]}"
			echo "   --- last 30 console lines of $name"
			tail -n 30 "$log" | sed 's/^/   /' || true
		fi
	} >&2
	[ $pass = yes ] && PASSED=$((PASSED + 1)) || FAILED+=("$name")
	echo "RESULT scenario=$name marker_hits=$R_HITS origins_unchanged=$R_UNCHANGED swap_used=$R_SWAP" \
		"userspace=$R_USERSPACE boot_s=${R_RUN_S:-none} hits_root=$h_root hits_private=$h_priv" \
		"hits_volatile=$h_vol hits_modules=$h_mod status_rc=${R_STATUS_RC:-none} fatal=$R_FATAL" \
		"killed=no qemu_rc=$QEMU_RC failed_units=${R_FAILED_UNITS:-none} device_waits=${R_DEVICE_WAITS:-none}" \
		"boot_ms=$(guest_val "$log" boot_ms | grep . || echo none) exhaust_bytes=none" \
		"key_copies=none control_copies=none qubes_cow=no scrub_pages=${R_SCRUB:-none} dom0_hits=$dom0_hits" \
		"inflate_errors=$R_INFLATE balloon_copies=${R_BALLOON:-none} probe_inflate_errors=${R_PROBE_INFLATE:-none} pass=$pass"
}

# ---------------------------------------------------------------- main
# (a function: bash reads all of it before it runs, so an edit of this file
# during a run cannot change what the run does next)
main() {
	[ $# -ge 1 ] || usage
	case $1 in
	--list) printf '%s\n' "${SCENARIOS[@]}"; exit 0 ;;
	-h|--help) usage ;;
	esac
	want=()
	for a in "$@"; do
		if [ "$a" = all ]; then
			for s in "${SCENARIOS[@]}"; do
				[[ " ${NAMED_ONLY[*]} " == *" $s "* ]] || want+=("$s")
			done
			continue
		fi
		ok=0
		for s in "${SCENARIOS[@]}"; do [ "$s" = "$a" ] && ok=1; done
		[ $ok = 1 ] || die "unknown scenario '$a'; known: ${SCENARIOS[*]} (or all, --list)"
		want+=("$a")
	done
	# a scenario named twice (e.g. "all xen-pv") runs once: its disks are its own
	local -A seen=()
	local uniq=()
	for s in "${want[@]}"; do [ -n "${seen[$s]:-}" ] || uniq+=("$s"); seen[$s]=1; done
	want=("${uniq[@]}")
	[ "$(id -u)" = 0 ] || die "needs root (mknod, chroot for dom0's initramfs)"
	need_tools qemu-system-x86_64 timeout mkfs.ext4 mkfs.ext3 debugfs cpio gzip python3 sha256sum flock od
	for b in ephemeral-init initramfs-append qvm-ephemeral; do
		[ -x "$XEN_REPO/build/$b" ] || die "build/$b is missing: run 'make -C $XEN_REPO all'"
	done

	t_all=$(date +%s)
	kernel_prepare
	xen_base_initrd
	# the root disk: tests/vm's busybox root with the Qubes fstab's real names (xvd*)
	eval "_vm_root_fs_tree() $(declare -f _root_fs_tree | tail -n +2)"
	_root_fs_tree() { _vm_root_fs_tree "$1"; sed -i 's#^/dev/vd#/dev/xvd#' "$1/etc/fstab"; }
	key=$(EXTRA_KEY="$ROOT_IMG_MIB xvd" inputs_hash _root_img_build _root_fs_tree _vm_root_fs_tree -- "$VM_DIR/guest/init.sh" /bin/busybox)
	ROOT_TEMPLATE=$VM_CACHE/root-$key.img
	with_cache_lock _root_img_build "$ROOT_TEMPLATE"
	private_template 4096
	for s in "${want[@]}"; do
		scenario_config "$s"
		if [ "$S_ROOT" = agent ] && [ -z "${AGENT_ROOT:-}" ]; then xen_agent_root; fi
	done
	xen_prepare
	xen_qescan

	# tests/vm's run folders: each live run holds its folder's lock, and the
	# pruning of old ones (newest 9 kept) passes over another run's live folder
	VM_CACHE=$XEN_CACHE VM_KEEP_RUNS=${XEN_KEEP_RUNS:-9} vm_new_run_dir || die "cannot make a run folder in $XEN_CACHE/runs"
	PLAN_DIR=$RUN_DIR/plan
	cleanup() { rm -rf "$PLAN_DIR"; }
	trap cleanup EXIT
	mkdir -p "$PLAN_DIR/qe/k" "$PLAN_DIR/usr/bin"

	# the kernel folder as Qubes has it (gzip initramfs, as older dracut makes
	# it), made ephemeral by `qvm-ephemeral kernel add`
	eval "$(bash "$XEN_REPO/tests/dom0/kernel-boot-fixture.sh" --make "$BASE_INITRD" "$VMLINUZ" "$KMODS" \
		"$RUN_DIR/kernels" "$KVER" "$RUN_DIR" --compress gzip)" || die "cannot make the kernel variant fixture"
	KFOLDER=$(dirname "$VARIANT_VMLINUZ")
	cp "$VARIANT_VMLINUZ" "$PLAN_DIR/qe/k/vmlinuz"
	cp "$VARIANT_PVH_INITRD" "$PLAN_DIR/qe/k/initramfs"
	cp "$VARIANT_HVM_INITRD" "$PLAN_DIR/qe/k/hvm-initramfs"
	xen_probe_initrd "$PLAN_DIR/qe/probe.initrd"
	cp "$QESCAN" "$PLAN_DIR/usr/bin/qescan"
	MODULES=$VARIANT_MODULES_IMG
	ROOT_IMG=$RUN_DIR/root.img
	cp --sparse=always "$ROOT_TEMPLATE" "$ROOT_IMG"
	add_disk "$ROOT_IMG"
	add_disk "$MODULES"
	ROOT_SHA=$(sha256sum <"$ROOT_IMG" | cut -d' ' -f1)
	MOD_SHA=$(sha256sum <"$MODULES" | cut -d' ' -f1)
	: >"$PLAN_DIR/qe/plan.sh"
	PLAN_PAIRED=() PLAN_ALONE=()
	for s in "${want[@]}"; do plan_scenario "$s"; done
	run_plan >>"$PLAN_DIR/qe/plan.sh"

	drives=()
	for f in "${DISKS[@]}"; do drives+=(-drive "file=$f,format=raw,if=virtio,cache=unsafe"); done
	CONSOLE=$RUN_DIR/console.log
	note "Xen boot with ${#want[@]} scenario(s): ${want[*]} (console: $CONSOLE)"
	t0=$(date +%s)
	xen_boot "$RUN_DIR" "$PLAN_DIR" "$CONSOLE" "${drives[@]}"
	note "Xen run: $(( $(date +%s) - t0 )) s, qemu exit $QEMU_RC; dom0 ready at $(xval "XEN " uptime) s of dom0 uptime"
	grep -q "XEN dom0_done=yes" "$CONSOLE" || { echo "xen: dom0 did not finish; last lines:" >&2; tail -40 "$CONSOLE" | tr -d '\r' >&2; }
	grep "^XEN .*error=" "$CONSOLE" | tr -d '\r' | sed 's/^/xen: dom0: /' >&2 || true

	ROOT_SHA_AFTER=$(sha256sum <"$ROOT_IMG" | cut -d' ' -f1)
	MOD_SHA_AFTER=$(sha256sum <"$MODULES" | cut -d' ' -f1)
	PASSED=0 FAILED=()
	for s in "${want[@]}"; do report_scenario "$s"; done
	echo "xen: ${#want[@]} scenario(s) in $(( $(date +%s) - t_all )) s wall; run folder $RUN_DIR" >&2
	if [ ${#FAILED[@]} -eq 0 ] && [ "${XEN_KEEP:-0}" != 1 ]; then
		# (each scenario's images: private, volatile, an agent root's copy)
		rm -rf "$RUN_DIR"/*/*.img "$RUN_DIR"/root.img "$RUN_DIR"/kernels "$RUN_DIR"/dom0.initrd
	else
		echo "xen: images kept in $RUN_DIR${FAILED[*]:+ (failed: ${FAILED[*]})}" >&2
	fi
	echo "$PASSED passed, ${#FAILED[@]} failed"
	[ ${#FAILED[@]} -eq 0 ]
}

main "$@"
