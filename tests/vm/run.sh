#!/bin/bash
# tests/vm/run.sh: QEMU end-to-end scenarios for ephemeral-init.
#
#   tests/vm/run.sh SCENARIO...   run these scenarios
#   tests/vm/run.sh all           run every scenario
#   tests/vm/run.sh --list        print every scenario name, one per line
#
# Each scenario ends with exactly one line on stdout
#   RESULT scenario=NAME marker_hits=N origins_unchanged=yes|no swap_used=yes|no ... pass=yes|no
# (progress and diagnostics go to stderr), and the script exits non-zero if
# any scenario missed its expectation.
# Environment: VM_KEEP=1 keeps every run's scratch images, VM_TIMEOUT=SECONDS
# (default 300) bounds each boot, VM_CACHE=DIR moves the cache.
# See tests/vm/README.md.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

FAIL_STEPS=(readonly key crypt pool thin swapon mount switch-root)
SCENARIOS=(ephemeral control stock ext4-1k drift crash systemd systemd-stock)
for f in "${FAIL_STEPS[@]}"; do SCENARIOS+=("fault-$f"); done
VM_TIMEOUT=${VM_TIMEOUT:-300}
BASE_CMDLINE="console=ttyS0 panic=-1 mitigations=off root=/dev/mapper/dmroot ro qubes.ephemeral.disks=vda,vdb,vdc,vdd"
EPHEMERAL_OPTS="qubes.ephemeral=1 qubes.ephemeral.swap=256M"

usage() {
	cat >&2 <<EOF
usage: $0 SCENARIO... | all | --list
scenarios: ${SCENARIOS[*]}
EOF
	exit 2
}

# ---------------------------------------------------------------- scenarios
# Sets, for scenario $1:
#   S_INIT       the init binary appended to the base initramfs
#   S_OPTS       kernel options added to BASE_CMDLINE
#   S_PRIV_BS    block size of the private ext4
#   S_ROOT_RO / S_PRIV_RO   attach root / private with readonly=on (1) or writable (0)
#   S_KILL_ON    console text on which the host kills QEMU (SIGKILL); empty: none
#   S_EXPECT     expectation words checked by check_expect
scenario_config() {
	S_INIT=$VM_REPO/build/ephemeral-init
	S_OPTS=$EPHEMERAL_OPTS
	S_ROOT=busybox S_MEM=512
	S_PRIV_BS=4096 S_ROOT_RO=1 S_PRIV_RO=1
	S_KILL_ON=
	case $1 in
	ephemeral)
		S_EXPECT="userspace done no_hits unchanged swap status_ok" ;;
	control)
		# test build, dm-crypt replaced by a linear mapping: the scan must find it
		S_INIT=$VM_REPO/build/ephemeral-init-test
		S_OPTS="$EPHEMERAL_OPTS qubes.ephemeral.test.plain=1"
		S_EXPECT="userspace done hits volatile_hits unchanged" ;;
	stock)
		# no qubes.ephemeral: the stock Qubes behaviour (private writable, as Qubes attaches it)
		S_OPTS=""
		S_PRIV_RO=0
		S_EXPECT="userspace done hits changed" ;;
	ext4-1k)
		# private ext4 with 1 KiB blocks: the init must pick 512-byte crypt sectors
		S_PRIV_BS=1024
		S_EXPECT="userspace done no_hits unchanged swap status_ok" ;;
	drift)
		# dom0 attached root and private writable (the rw=False-lost-on-restart
		# bug): the init must set them read-only itself
		S_ROOT_RO=0 S_PRIV_RO=0
		S_EXPECT="userspace done no_hits unchanged swap status_ok status_forced" ;;
	crash)
		# QEMU killed (SIGKILL) while the guest keeps writing, no clean shutdown
		S_OPTS="$EPHEMERAL_OPTS qe.hold=1"
		S_KILL_ON="GUEST holding=yes"
		S_EXPECT="userspace held no_hits unchanged swap" ;;
	systemd)
		# a Debian 12 systemd root with Qubes-like units (guest-systemd/)
		S_ROOT=systemd S_MEM=1024
		S_EXPECT="userspace done no_hits unchanged swap status_ok no_failed_units no_device_waits private_mounted" ;;
	systemd-stock)
		S_ROOT=systemd S_MEM=1024 S_OPTS="" S_PRIV_RO=0
		S_EXPECT="userspace done hits changed no_failed_units no_device_waits" ;;
	fault-*)
		# fault injection (test build): the boot must stop before userspace
		local step=${1#fault-}
		step=${step//-/_}
		S_INIT=$VM_REPO/build/ephemeral-init-test
		S_OPTS="$EPHEMERAL_OPTS qubes.ephemeral.test.fail=$step"
		S_EXPECT="no_userspace fatal no_hits unchanged" ;;
	*) die "unknown scenario '$1' (try --list)" ;;
	esac
}

# Fills FAILS with the expectations that the measured values miss.
check_expect() {
	local e
	FAILS=()
	for e in $S_EXPECT; do
		case $e in
		userspace) [ "$R_USERSPACE" = yes ] || FAILS+=("userspace not reached") ;;
		no_userspace) [ "$R_USERSPACE" = no ] || FAILS+=("userspace reached (want a stop before it)") ;;
		fatal) [ "$R_FATAL" = yes ] || FAILS+=("no 'qubes-ephemeral: FATAL' line on the console") ;;
		done) [ "$R_DONE" = yes ] || FAILS+=("guest script did not finish") ;;
		held) [ "$R_KILLED" = yes ] || FAILS+=("guest never reported holding; QEMU was not killed") ;;
		no_hits) [ "$R_HITS" -eq 0 ] || FAILS+=("marker found $R_HITS times (want 0)") ;;
		hits) [ "$R_HITS" -gt 0 ] || FAILS+=("marker not found (want > 0)") ;;
		volatile_hits) [ "$R_HITS_VOLATILE" -gt 0 ] || FAILS+=("marker not in the volatile image (want > 0)") ;;
		unchanged) [ "$R_UNCHANGED" = yes ] || FAILS+=("an origin image changed") ;;
		changed) [ "$R_UNCHANGED" = no ] || FAILS+=("origins unchanged (stock mode should write private)") ;;
		swap) [ "$R_SWAP" = yes ] || FAILS+=("no pages reached swap") ;;
		no_failed_units) [ "$R_FAILED_UNITS" = 0 ] || FAILS+=("failed units: ${R_FAILED_UNITS:-unknown}") ;;
		no_device_waits) [ "$R_DEVICE_WAITS" = 0 ] || FAILS+=("jobs waited for devices: ${R_DEVICE_WAITS:-unknown}") ;;
		private_mounted) grep -q "GUEST rw_source=/dev/mapper/ephemeral-private home_source=/dev/mapper/ephemeral-private" "$log" ||
			FAILS+=("/rw and /home are not on the encrypted private device") ;;
		status_forced) grep -q "were writable at boot: root yes, private yes; forced read-only" "$log" ||
			FAILS+=("ephemeral-status did not report origins forced read-only") ;;
		status_ok) [ "$R_STATUS_RC" = 0 ] || FAILS+=("ephemeral-status did not confirm (exit ${R_STATUS_RC:-none})") ;;
		*) die "internal: unknown expectation $e" ;;
		esac
	done
	[ "$R_TIMEOUT" = no ] || FAILS+=("boot timed out after ${VM_TIMEOUT}s")
	return 0
}

# Value of "GUEST KEY=value" from the console log ("" when absent).
guest_val() { # LOG KEY
	tr -d '\r' <"$1" | sed -n "s/^GUEST .*\b$2=\([^ ]*\).*/\1/p" | tail -1
}

# Reads the console as it comes; on a line containing TEXT kills QEMU
# (the "killed" scenario) and leaves FLAGFILE behind.
watch_console() { # TEXT PIDFILE FLAGFILE
	local line
	while IFS= read -r line; do
		if [ -n "$1" ] && [ ! -e "$3" ] && [[ $line == *"$1"* ]]; then
			kill -KILL "$(cat "$2")" 2>/dev/null && touch "$3"
		fi
	done
	return 0
}

# One boot; sets R_RC (QEMU's exit status through timeout) and R_BOOT_S.
boot_vm() { # DIR CMDLINE
	local dir=$1 cmdline=$2 t0 t1 ro_root="" ro_priv=""
	[ "$S_ROOT_RO" = 1 ] && ro_root=,readonly=on
	[ "$S_PRIV_RO" = 1 ] && ro_priv=,readonly=on
	t0=$(date +%s.%N)
	# in a subshell whose stderr is /dev/null: bash would report "Killed"
	# for the killed scenario (timeout re-raises its child's signal)
	R_RC=0
	(
		set +e
		timeout -k 10 "$VM_TIMEOUT" \
			qemu-system-x86_64 -accel tcg -machine q35 -cpu max -smp 2 -m "$S_MEM" \
			-nographic -no-reboot -nic none -pidfile "$dir/qemu.pid" \
			-kernel "$VMLINUZ" -initrd "$dir/initrd.img" -append "$cmdline" \
			-drive "file=$dir/root.img,format=raw,if=virtio$ro_root" \
			-drive "file=$dir/private.img,format=raw,if=virtio$ro_priv" \
			-drive "file=$dir/volatile.img,format=raw,if=virtio" \
			-drive "file=$MODULES_IMG,format=raw,if=virtio,readonly=on" \
			</dev/null 2>&1 | tee "$dir/console.log" | watch_console "$S_KILL_ON" "$dir/qemu.pid" "$dir/killed"
		exit "${PIPESTATUS[0]}"
	) 2>/dev/null || R_RC=$?
	t1=$(date +%s.%N)
	R_BOOT_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
}

run_scenario() {
	local name=$1 dir log seed tok
	scenario_config "$name"
	[ -x "$S_INIT" ] || die "$S_INIT is missing: run 'make -C $VM_REPO all'"
	private_template "$S_PRIV_BS"

	dir=$RUN_DIR/$name
	mkdir -p "$dir"
	log=$dir/console.log
	echo "== scenario $name (console: $log)" >&2

	if [ "$S_ROOT" = systemd ]; then
		[ -n "${SYSTEMD_ROOT:-}" ] || SYSTEMD_ROOT=$("$VM_DIR/systemd-root.sh" "$VM_CACHE") || die "cannot build the systemd root"
		cp --sparse=always "$SYSTEMD_ROOT" "$dir/root.img"
	else
		cp --sparse=always "$ROOT_TEMPLATE" "$dir/root.img"
	fi
	cp --sparse=always "$PRIVATE_TEMPLATE" "$dir/private.img"
	truncate -s "$VOLATILE_IMG_SIZE" "$dir/volatile.img"
	test_initrd "$S_INIT" "$dir/initrd.img"

	local sum_root0 sum_priv0 sum_root1 sum_priv1
	sum_root0=$(sha256sum <"$dir/root.img" | cut -d' ' -f1)
	sum_priv0=$(sha256sum <"$dir/private.img" | cut -d' ' -f1)

	# The guest derives the marker from the seed (see guest/init.sh), so the
	# marker itself never appears on the command line or the console.
	seed=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	tok="QEM-$(printf '%s' "$seed" | sha256sum | cut -c1-44)"
	local cmdline="$BASE_CMDLINE${S_OPTS:+ $S_OPTS} qe.seed=$seed"
	echo "$cmdline" >"$dir/cmdline"

	boot_vm "$dir" "$cmdline"
	R_KILLED=no
	[ -e "$dir/killed" ] && R_KILLED=yes
	R_TIMEOUT=no
	if [ "$R_RC" -eq 124 ] || { [ "$R_RC" -eq 137 ] && [ "$R_KILLED" = no ]; }; then
		R_TIMEOUT=yes
	fi

	sum_root1=$(sha256sum <"$dir/root.img" | cut -d' ' -f1)
	sum_priv1=$(sha256sum <"$dir/private.img" | cut -d' ' -f1)
	R_UNCHANGED=no
	[ "$sum_root0" = "$sum_root1" ] && [ "$sum_priv0" = "$sum_priv1" ] && R_UNCHANGED=yes

	local counts h_root h_priv h_vol h_mod
	counts=$(python3 "$VM_DIR/scan.py" "$tok" "$dir/root.img" "$dir/private.img" "$dir/volatile.img" "$MODULES_IMG") ||
		die "scan.py failed"
	{ read -r h_root _; read -r h_priv _; read -r h_vol _; read -r h_mod _; } <<<"$counts"
	R_HITS=$(( h_root + h_priv + h_vol + h_mod ))
	R_HITS_VOLATILE=$h_vol

	R_USERSPACE=no
	[ "$(guest_val "$log" userspace)" = yes ] && R_USERSPACE=yes
	R_DONE=no
	[ "$(guest_val "$log" "done")" = yes ] && R_DONE=yes
	R_SWAP=no
	[ "$(guest_val "$log" swap_used)" = yes ] && R_SWAP=yes
	R_STATUS_RC=$(guest_val "$log" status_rc)
	R_FAILED_UNITS=$(guest_val "$log" failed_units)
	R_DEVICE_WAITS=$(guest_val "$log" device_waits)
	R_BOOT_MS=$(guest_val "$log" boot_ms)
	R_FATAL=no
	grep -q 'qubes-ephemeral: FATAL' "$log" && R_FATAL=yes
	if grep -qF "$tok" "$log"; then
		echo "vm: WARNING: the marker appeared on the console of $name" >&2
	fi

	check_expect
	local pass=yes
	[ ${#FAILS[@]} -eq 0 ] || pass=no
	# A summary for humans on stderr, then the contract line on stdout.
	{
		echo "   sha256 root:    $sum_root0 -> $( [ "$sum_root0" = "$sum_root1" ] && echo same || echo "$sum_root1")"
		echo "   sha256 private: $sum_priv0 -> $( [ "$sum_priv0" = "$sum_priv1" ] && echo same || echo "$sum_priv1")"
		echo "   marker copies: root=$h_root private=$h_priv volatile=$h_vol modules=$h_mod (one marker file = 32768 copies)"
		tr -d '\r' <"$log" | grep -E '^(GUEST|STATUS:)|qubes-ephemeral' | grep -v 'GUEST api_mount' | sed 's/^/   | /' || true
		[ "$R_KILLED" = yes ] && echo "   QEMU killed (SIGKILL) on '$S_KILL_ON'"
	} >&2
	if [ $pass = no ]; then
		FAILED+=("$name")
		{
			printf '   FAILED: %s\n' "${FAILS[0]}"
			[ ${#FAILS[@]} -lt 2 ] || printf '           %s\n' "${FAILS[@]:1}"
			echo "   --- last 30 lines of $log"
			tail -n 30 "$log" | tr -d '\r' | sed 's/^/   /'
			echo "   ---"
		} >&2
	fi
	echo "RESULT scenario=$name marker_hits=$R_HITS origins_unchanged=$R_UNCHANGED swap_used=$R_SWAP" \
		"userspace=$R_USERSPACE boot_s=$R_BOOT_S hits_root=$h_root hits_private=$h_priv" \
		"hits_volatile=$h_vol hits_modules=$h_mod status_rc=${R_STATUS_RC:-none} fatal=$R_FATAL" \
		"killed=$R_KILLED qemu_rc=$R_RC failed_units=${R_FAILED_UNITS:-none}" \
		"device_waits=${R_DEVICE_WAITS:-none} boot_ms=${R_BOOT_MS:-none} pass=$pass"

	if [ $pass = yes ] && [ "${VM_KEEP:-0}" != 1 ]; then
		rm -f "$dir"/*.img
	else
		KEPT+=("$dir")
	fi
}

# ---------------------------------------------------------------- main
[ $# -ge 1 ] || usage
case $1 in
--list) printf '%s\n' "${SCENARIOS[@]}"; exit 0 ;;
-h|--help) usage ;;
esac
want=()
for a in "$@"; do
	if [ "$a" = all ]; then want+=("${SCENARIOS[@]}"); continue; fi
	ok=0
	for s in "${SCENARIOS[@]}"; do [ "$s" = "$a" ] && ok=1; done
	[ $ok = 1 ] || die "unknown scenario '$a'; known: ${SCENARIOS[*]} (or all, --list)"
	want+=("$a")
done

need_tools qemu-system-x86_64 timeout sfdisk mkfs.ext4 mkfs.ext3 cpio gzip python3 sha256sum depmod flock od tee
[ -x /bin/busybox ] || die "/bin/busybox is missing (install busybox-static)"
! ldd /bin/busybox >/dev/null 2>&1 || die "/bin/busybox is dynamically linked (install busybox-static)"
[ -x "$VM_REPO/build/initramfs-append" ] || die "build/initramfs-append is missing: run 'make -C $VM_REPO all'"

kernel_prepare
modules_img
base_initrd
root_template
note "kernel $KVER; cache $VM_CACHE"

mkdir -p "$VM_CACHE/runs"
# keep the 20 newest runs (console logs; images of failed runs)
{ ls -1dt "$VM_CACHE"/runs/*/ 2>/dev/null || true; } | tail -n +20 | xargs -r rm -rf
RUN_DIR=$(mktemp -d "$VM_CACHE/runs/$(date +%Y%m%d-%H%M%S).XXXX")
FAILED=() KEPT=()
t_all=$(date +%s)
for s in "${want[@]}"; do
	run_scenario "$s"
done
echo "vm: ${#want[@]} scenario(s) in $(( $(date +%s) - t_all )) s; console logs in $RUN_DIR" >&2
if [ ${#KEPT[@]} -gt 0 ]; then
	echo "vm: scratch images kept in: ${KEPT[*]} (delete them when done)" >&2
fi
if [ ${#FAILED[@]} -gt 0 ]; then
	echo "vm: FAILED: ${FAILED[*]}" >&2
	exit 1
fi
