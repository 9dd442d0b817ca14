#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
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
SCENARIOS=(ephemeral control stock no-carry ext4-1k no-aesni drift crash keys exhaust discard variant-pvh variant-hvm systemd systemd-stock)
# the real Qubes agent's boot scripts and units (agent-root.sh)
SCENARIOS+=(agent-dispvm agent-appvm agent-blank agent-noswap)
NAMED_ONLY=()
# the variant booted without qubes.ephemeral (its stock mode) next to `stock`
SCENARIOS+=(variant-stock)
# in-VM kernels: kernel + initramfs generated inside the template (invm-root.sh)
SCENARIOS+=(invm-initramfs-tools invm-initramfs-tools-stock invm-initramfs-tools-fault invm-dracut invm-dracut-fault)
# Qubes' real dracut COW script (stock mode) loads xen_blkfront itself and
# reads the root disk at pre-trigger; invm-root.sh's test-only modprobe.d
# makes that load the virtio drivers
SCENARIOS+=(invm-dracut-stock)
for f in "${FAIL_STEPS[@]}"; do SCENARIOS+=("fault-$f"); done
# faults from the outside (no injection): each must stop the boot with a line naming it
SCENARIOS+=(fault-no-volatile fault-small-volatile fault-bad-option fault-disk-timeout)
# a module neither the initramfs nor the modules disk carries
SCENARIOS+=(fault-no-dm-crypt fault-no-thin)
# a step that never returns (test build): the watchdog must stop the boot
SCENARIOS+=(fault-watchdog)
VM_TIMEOUT=${VM_TIMEOUT:-300}
# systemd userlands (systemd*, invm-*) boot 3-6 times longer under TCG
VM_TIMEOUT_SYSTEMD=${VM_TIMEOUT_SYSTEMD:-600}
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
	S_ROOT=busybox S_MEM=512 S_VOL_SIZE=$VOLATILE_IMG_SIZE S_PRIV_MIB=$PRIVATE_IMG_MIB
	S_MODULES=$MODULES_IMG S_DUMP=0 S_VARIANT=
	S_PRIV_BS=4096 S_ROOT_RO=1 S_PRIV_RO=1
	S_KILL_ON= S_CPU=max S_INITRD= S_PRIV_BLANK= S_BASE=$BASE_INITRD S_RESIZE=0 S_CARRY=1
	case $1 in
	ephemeral)
		# the stack's modules are carried: the modules disk is not mounted before the stack
		S_EXPECT="userspace done no_hits unchanged swap status_ok fstab_replaced no_console:_moddisk_" ;;
	control)
		# test build, dm-crypt replaced by a linear mapping: the scan must find it
		S_INIT=$VM_REPO/build/ephemeral-init-test
		S_OPTS="$EPHEMERAL_OPTS qubes.ephemeral.test.plain=1"
		S_EXPECT="userspace done hits volatile_hits unchanged" ;;
	stock)
		# the real Qubes initramfs untouched (nothing of ours appended): the
		# stock behaviour this project fixes, private writable as Qubes attaches it
		S_OPTS="" S_INITRD=qubes
		S_PRIV_RO=0
		S_EXPECT="userspace done hits changed" ;;
	no-carry)
		# our archive without the carried stack modules: what the base
		# initramfs lacks (AES-NI) must come from the modules disk
		S_CARRY=0
		S_EXPECT="userspace done no_hits unchanged swap status_ok console:_moddisk_" ;;
	ext4-1k)
		# private ext4 with 1 KiB blocks: the init must pick 512-byte crypt sectors
		S_PRIV_BS=1024
		S_EXPECT="userspace done no_hits unchanged swap status_ok" ;;
	no-aesni)
		# a CPU without AES-NI: aesni-intel cannot load, the xts and ecb
		# templates over the generic AES must be loaded instead
		S_CPU=max,aes=off
		S_EXPECT="userspace done no_hits unchanged swap status_ok console:no_AES-NI_(aesni-intel:_No_such_device)" ;;
	drift)
		# dom0 attached root and private writable (the rw=False-lost-on-restart
		# bug): the init must set them read-only itself. Then the guest makes
		# the stack not ephemeral on purpose (private origin writable again, a
		# plain swap on a loop device) and ephemeral-status must say so.
		S_ROOT_RO=0 S_PRIV_RO=0
		S_OPTS="$EPHEMERAL_OPTS qe.negative=1"
		S_EXPECT="userspace done no_hits unchanged swap status_ok status_forced status_negatives" ;;
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
	agent-dispvm|agent-appvm|agent-blank|agent-noswap)
		# the real agent (qubes-core-agent-linux) in a systemd root: its
		# mount-dirs/setup-rwdev/setup-rw, swap unit, fstab, udev block rules
		S_ROOT=agent S_MEM=1024
		# (agent-root.sh gives dev-vdb.device a 600 s job timeout: TCG)
		AGENT_OPTS=
		S_EXPECT="userspace done no_hits unchanged status_ok no_failed_units no_device_waits private_mounted agent_mounts agent_fsck no_qdb_block"
		case $1 in
		agent-dispvm) S_OPTS="$EPHEMERAL_OPTS $AGENT_OPTS qe.qdb=dispvm"; S_EXPECT="$S_EXPECT swap persistence:none" ;;
		agent-appvm)
			# also: dom0 grows root and private while it runs (QMP block_resize,
			# so attached writable: our init sets them read-only) and calls
			# qubes.ResizeDisk
			S_OPTS="$EPHEMERAL_OPTS $AGENT_OPTS qe.qdb=appvm qe.resize=1" S_RESIZE=1 S_ROOT_RO=0 S_PRIV_RO=0
			S_EXPECT="$S_EXPECT swap persistence:rw-only resize_safe fstab_reinstall" ;;
		agent-blank) S_OPTS="$EPHEMERAL_OPTS $AGENT_OPTS qe.qdb=dispvm" S_PRIV_BLANK=1; S_EXPECT="$S_EXPECT swap agent_mkfs" ;;
		agent-noswap) S_OPTS="qubes.ephemeral=1 qubes.ephemeral.swap=0 $AGENT_OPTS qe.qdb=appvm" ;;
		esac ;;
	invm-initramfs-tools|invm-dracut)
		# the template's own kernel and initramfs (made in it by initramfs-tools
		# or dracut with our hook); Qubes' real COW hook is in it too
		# and must not run
		S_ROOT=${1#invm-} S_MEM=1024
		S_EXPECT="userspace done no_hits unchanged swap status_ok no_failed_units no_device_waits private_mounted no_qubes_cow" ;;
	invm-initramfs-tools-stock|invm-dracut-stock)
		# same image without qubes.ephemeral: Qubes' COW hook runs
		S_ROOT=${1#invm-} S_ROOT=${S_ROOT%-stock} S_MEM=1024 S_OPTS="" S_PRIV_RO=0
		S_EXPECT="userspace done hits changed no_failed_units no_device_waits qubes_cow" ;;
	invm-initramfs-tools-fault|invm-dracut-fault)
		# hook mode fails closed too: a volatile disk too small, the setup
		# must stop the boot (power off) and Qubes' COW hook must not step in
		S_ROOT=${1#invm-} S_ROOT=${S_ROOT%-fault} S_MEM=1024 S_VOL_SIZE=256M
		S_EXPECT="no_userspace fatal no_hits unchanged no_qubes_cow console:too_small_for_256_MiB_swap" ;;
	variant-stock)
		# the variant without qubes.ephemeral: ephemeral-init runs the original
		# initramfs' /init (kept by the variant builder), which is Qubes' real
		# init.sh here: it must behave as `stock` does (userspace, the leak,
		# private written) and say that it ran
		S_VARIANT=pvh S_OPTS="" S_PRIV_RO=0
		S_EXPECT="userspace done hits changed console:stock_mode:_running_the_initramfs'_own_/init console:Qubes_initramfs_script_here:" ;;
	variant-pvh|variant-hvm)
		# a kernel folder laid out as Qubes does (zstd initramfs behind an early
		# cpio), made ephemeral by `qvm-ephemeral kernel add`; PVH boots the
		# variant's initramfs, HVM the copy inside its modules.img (the stubdomain's)
		S_VARIANT=${1#variant-}
		S_EXPECT="userspace done no_hits unchanged swap status_ok" ;;
	keys)
		# the key: only a keyring reference in tables, gone from /proc/keys, and
		# in a dump of guest memory only where dm-crypt holds it (test build
		# prints the key's sha256, never the key)
		S_INIT=$VM_REPO/build/ephemeral-init-test
		S_OPTS="$EPHEMERAL_OPTS qubes.ephemeral.test.keyhash=1 qe.dump=1"
		S_KILL_ON="GUEST dump_now=yes" S_DUMP=1
		S_EXPECT="userspace no_hits unchanged status_ok key_refonly key_copies" ;;
	exhaust)
		# more than the pool holds: writes must fail at once, no hang, no panic
		S_VOL_SIZE=512M S_PRIV_MIB=768
		S_OPTS="qubes.ephemeral=1 qubes.ephemeral.swap=64M qe.exhaust=1"
		S_EXPECT="userspace done no_hits unchanged exhausted" ;;
	discard)
		# 1 GiB written, deleted, trimmed: the pool must get the space back
		S_PRIV_MIB=1536 S_OPTS="$EPHEMERAL_OPTS qe.discard=1"
		S_EXPECT="userspace done no_hits unchanged discarded" ;;
	fault-no-volatile)
		S_OPTS="$EPHEMERAL_OPTS qubes.ephemeral.disks=vda,vdb,vdx,vdd qubes.ephemeral.timeout=5"
		S_EXPECT="no_userspace fatal no_hits unchanged console:volatile_disk_/dev/vdx_did_not_appear" ;;
	fault-disk-timeout)
		S_OPTS="$EPHEMERAL_OPTS qubes.ephemeral.disks=vdy,vdb,vdc,vdd qubes.ephemeral.timeout=3"
		S_EXPECT="no_userspace fatal no_hits unchanged console:root_disk_/dev/vdy_did_not_appear_within_3_s" ;;
	fault-small-volatile)
		S_VOL_SIZE=256M
		S_EXPECT="no_userspace fatal no_hits unchanged console:too_small_for_256_MiB_swap" ;;
	fault-no-dm-crypt|fault-no-thin)
		# the module nowhere: not carried, not in the (real Qubes) initramfs, which
		# carries dm-crypt and dm-thin-pool itself, nor on the modules disk
		local m=dm-crypt
		[ "$1" = fault-no-thin ] && m=dm-thin-pool
		modules_img_without "${1#fault-}" "$m"; S_MODULES=$MODULES_FAULT_IMG
		base_initrd_without "${1#fault-}" "$m"; S_BASE=$BASE_FAULT_INITRD
		S_CARRY=0   # nor carried in our archive
		S_EXPECT="no_userspace fatal no_hits unchanged powered_off console:cannot_load_kernel_module_${m}:"
		S_EXPECT+=" console:on_the_modules_disk;_refusing_to_boot_without_full_encryption,_powering_off" ;;
	fault-bad-option)
		S_OPTS="$EPHEMERAL_OPTS qubes.ephemeral.swap=12Q"
		S_EXPECT="no_userspace fatal no_hits unchanged console:bad_value_in_\"qubes.ephemeral.swap=12Q\"" ;;
	fault-watchdog)
		# the modules step hangs (test build): after qubes.ephemeral.watchdog
		# (at least the 5 s disk wait + 30 s) the boot must stop, not hang
		S_INIT=$VM_REPO/build/ephemeral-init-test
		S_OPTS="$EPHEMERAL_OPTS qubes.ephemeral.timeout=5 qubes.ephemeral.watchdog=5 qubes.ephemeral.test.hang=modules"
		S_EXPECT="no_userspace fatal no_hits unchanged console:setup_made_no_progress_for_35_s_after_step_\"origins\"" ;;
	fault-*)
		# fault injection (test build): the boot must stop before userspace
		local step=${1#fault-}
		step=${step//-/_}
		S_INIT=$VM_REPO/build/ephemeral-init-test
		S_OPTS="$EPHEMERAL_OPTS qubes.ephemeral.test.fail=$step"
		S_EXPECT="no_userspace fatal no_hits unchanged" ;;
	*) die "unknown scenario '$1' (try --list)" ;;
	esac
	if [ "$S_ROOT" = busybox ]; then S_TIMEOUT=$VM_TIMEOUT; else S_TIMEOUT=$VM_TIMEOUT_SYSTEMD; fi
}

# Fills FAILS with the expectations that the measured values miss.
check_expect() {
	local e
	FAILS=()
	for e in $S_EXPECT; do
		case $e in
		powered_off) [ "$R_RC" = 0 ] && [ "$R_KILLED" = no ] || FAILS+=("QEMU did not end by the guest's power-off (exit $R_RC)") ;;
		held) [ "$R_KILLED" = yes ] || FAILS+=("guest never reported holding; QEMU was not killed") ;;
		volatile_hits) [ "$R_HITS_VOLATILE" -gt 0 ] || FAILS+=("marker not in the volatile image (want > 0)") ;;
		agent_mkfs) [ "$(guest_val "$log" agent_mkfs)" = 1 ] || FAILS+=("the agent did not create the private file system (first boot)") ;;
		no_qdb_block) [ "$(guest_val "$log" agent_qdb_block_ours_boot)" = 0 ] && [ "$(guest_val "$log" agent_qdb_block_ours_after)" = 0 ] ||
			FAILS+=("a /qubes-block-devices/ qubesdb write names one of our devices")
			[ "$(guest_val "$log" agent_qdb_block_probe_hidden)" = 0 ] ||
				FAILS+=("a probe device with our dm uuid was offered to dom0 (hidden=$(guest_val "$log" agent_qdb_block_probe_hidden))")
			[ "$(guest_val "$log" agent_qdb_block_probe_control)" -gt 0 ] 2>/dev/null ||
				FAILS+=("control: without our udev rule the probe was not offered either (the check cannot fail: $(guest_val "$log" agent_qdb_block_probe_control))") ;;
		fstab_reinstall)
			tr -d '\r' <"$log" | grep -qE "^GUEST agent_fstab_reinstall=ok mount_a_rc=0 swapon_a_rc=0 vdb=ephemeral-private vdc1=ephemeral-swap failed_after=0 swaps_after=[^ ,]+,$" ||
				FAILS+=("reinstalling the packaged /etc/fstab (rename, daemon-reload, mount -a, swapon -a) did not keep everything on our devices: $(tr -d '\r' <"$log" | grep -o 'agent_fstab_reinstall=.*' | tail -1)") ;;
		resize_safe)
			[ "$(guest_val "$log" resize_seen)" = yes ] || FAILS+=("the guest did not see root and private grow (QMP block_resize)")
			[ "$(guest_val "$log" resize_tables_same)" = yes ] || FAILS+=("qubes.ResizeDisk changed a device-mapper table or size")
			local v
			for v in private root; do
				tr -d '\r' <"$log" | grep -q "^GUEST resize_qrexec_$v rc=1: qubes-ephemeral: '$v' not resized inside this ephemeral qube" ||
					FAILS+=("qubes.ResizeDisk $v through qrexec's path: not our clear refusal")
			done ;;
		persistence:*) [ "$(guest_val "$log" persistence)" = "${e#persistence:}," ] || FAILS+=("agent persistence is not ${e#persistence:}") ;;
		qubes_cow) [ "$R_QUBES_COW" = yes ] && tr -d '\r' <"$log" | grep -qE '^GUEST dm-table: dmroot: 0 [0-9]+ snapshot ' ||
			FAILS+=("Qubes' COW hook did not make dmroot (a dm-snapshot)") ;;
		no_qubes_cow) [ "$R_QUBES_COW" = no ] || FAILS+=("Qubes' COW hook ran in ephemeral mode") ;;
		exhausted) [ "$(guest_val "$log" exhaust_error)" = yes ] || FAILS+=("writes past the pool did not fail") ;;
		discarded) discard_ok "$log" || FAILS+=("pool space not given back: $(grep -o 'discard_before=.*' "$log" | tr -d '\r')") ;;
		key_refonly) grep -q "held by the kernel only (table shows a keyring reference, no key bytes); no longer in any keyring" "$log" ||
			FAILS+=("ephemeral-status did not confirm a keyring-only, unlinked key") ;;
		key_copies)
			[ "${R_CTL_COPIES:-0}" -ge 1 ] || FAILS+=("the memory scan did not find its control pattern (scan broken?)")
			# dm-crypt's own cipher context may hold one copy; none may be elsewhere
			[ -n "$R_KEY_COPIES" ] && [ "$R_KEY_COPIES" -le 1 ] ||
				FAILS+=("key copies in the memory dump: ${R_KEY_COPIES:-not scanned} (want at most dm-crypt's own)") ;;
		status_forced) grep -q "were writable at boot: root yes, private yes; forced read-only" "$log" ||
			FAILS+=("ephemeral-status did not report origins forced read-only") ;;
		fstab_replaced) [ "$(guest_val "$log" fstab_replace)" = ok ] || FAILS+=("replacing /etc/fstab by rename (as dpkg does) failed") ;;
		status_negatives)
			# each bad situation made on purpose must turn the verdict, with its reason
			[ "$(guest_val "$log" neg_origin_rc)" = 1 ] && grep -q "verdict:  NOT ephemeral: the private origin is writable" "$log" ||
				FAILS+=("ephemeral-status did not refuse a writable private origin")
			[ "$(guest_val "$log" neg_swap_rc)" = 1 ] && grep -q "verdict:  NOT ephemeral: swap on 7:" "$log" ||
				FAILS+=("ephemeral-status did not refuse a plain swap ($(guest_val "$log" neg_swap_rc))")
			[ "$(guest_val "$log" neg_restored_rc)" = 0 ] || FAILS+=("ephemeral-status did not confirm again once restored") ;;
		*) expect_common "$e" "$log" || die "internal: unknown expectation $e" ;;
		esac
	done
	[ "$R_TIMEOUT" = no ] || FAILS+=("boot timed out after ${S_TIMEOUT}s")
	return 0
}

# Pool usage after fill minus before must be >= 900 MiB, after trim within 64 MiB of before.
discard_ok() { # LOG
	local b f a
	b=$(guest_val "$1" discard_before); f=$(guest_val "$1" discard_full); a=$(guest_val "$1" discard_after)
	[ -n "$b" ] && [ -n "$f" ] && [ -n "$a" ] || return 1
	[ $(( f - b )) -ge $(( 900 << 20 )) ] && [ $(( a - b )) -le $(( 64 << 20 )) ]
}

# Value of "GUEST KEY=value" from the console log ("" when absent).
# Reads the console as it comes; on a line containing TEXT kills QEMU
# (the "killed" scenario) and leaves FLAGFILE behind.
watch_console() { # TEXT PIDFILE FLAGFILE
	local line d
	d=$(dirname "$2")
	while IFS= read -r line; do
		# qe.resize=1: grow root and private by 64 MiB, as dom0 does to a running qube
		if [ "$S_RESIZE" = 1 ] && [ ! -e "$d/resized" ] && [[ $line == *"GUEST resize_now=yes"* ]]; then
			touch "$d/resized"
			python3 "$VM_DIR/qmp_resize.py" "$d/qmp.sock" 64 "$d/root.img" "$d/private.img" >&2 ||
				echo "vm: QMP block_resize failed" >&2
		fi
		if [ -n "$1" ] && [ ! -e "$3" ] && [[ $line == *"$1"* ]]; then
			if [ "$S_DUMP" = 1 ]; then
				python3 "$VM_DIR/qmp_dump.py" "$(dirname "$2")/qmp.sock" "$(dirname "$2")/memory.dump" >&2 ||
					echo "vm: memory dump failed" >&2
			fi
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
		timeout -k 10 "$S_TIMEOUT" \
			qemu-system-x86_64 -accel tcg -machine q35 -cpu "$S_CPU" -smp 2 -m "$S_MEM" \
			-nographic -no-reboot -nic none -pidfile "$dir/qemu.pid" \
			-qmp "unix:$dir/qmp.sock,server=on,wait=off" \
			-kernel "$S_KERNEL" -initrd "$dir/initrd.img" -append "$cmdline" \
			-drive "file=$dir/root.img,format=raw,if=virtio$ro_root" \
			-drive "file=$dir/private.img,format=raw,if=virtio$ro_priv" \
			-drive "file=$dir/volatile.img,format=raw,if=virtio" \
			-drive "file=$S_MODULES,format=raw,if=virtio,readonly=on" \
			</dev/null 2>&1 | tee "$dir/console.log" | watch_console "$S_KILL_ON" "$dir/qemu.pid" "$dir/killed"
		exit "${PIPESTATUS[0]}"
	) 2>/dev/null || R_RC=$?
	t1=$(date +%s.%N)
	R_BOOT_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
}

run_scenario() {
	local name=$1 dir log seed tok
	scenario_config "$name"
	[ -x "$S_INIT" ] || die "$S_INIT is missing: run 'make -C $VM_REPO all test-bins'"
	private_template "$S_PRIV_BS" "$S_PRIV_MIB"

	dir=$RUN_DIR/$name
	mkdir -p "$dir"
	log=$dir/console.log
	echo "== scenario $name (console: $log)" >&2

	local invm=()
	if [ "$S_ROOT" = systemd ]; then
		[ -n "${SYSTEMD_ROOT:-}" ] || SYSTEMD_ROOT=$("$VM_DIR/systemd-root.sh" "$VM_CACHE") || die "cannot build the systemd root"
		cp --sparse=always "$SYSTEMD_ROOT" "$dir/root.img"
	elif [ "$S_ROOT" = agent ]; then
		[ -n "${AGENT_ROOT:-}" ] || AGENT_ROOT=$("$VM_DIR/agent-root.sh" "$VM_CACHE") || die "cannot build the agent root (tests/vm/agent-root.sh)"
		cp --sparse=always "$AGENT_ROOT" "$dir/root.img"
	elif [ "$S_ROOT" = initramfs-tools ] || [ "$S_ROOT" = dracut ]; then
		local deb="" d
		for d in "$VM_CACHE"/download/linux-image-"$KVER"_*.deb; do [ -f "$d" ] && deb=$d; done
		[ -n "$deb" ] || die "no .deb of $KVER in $VM_CACHE/download"
		mapfile -t invm < <("$VM_DIR/invm-root.sh" "$S_ROOT" "$VM_CACHE" "$deb" "$KVER")
		[ ${#invm[@]} -eq 3 ] || die "cannot build the $S_ROOT template root (tests/vm/invm-root.sh)"
		cp --sparse=always "${invm[0]}" "$dir/root.img"
	else
		cp --sparse=always "$ROOT_TEMPLATE" "$dir/root.img"
	fi
	if [ -n "$S_PRIV_BLANK" ]; then
		# a never-used private volume: all zeros (the agent makes the file system)
		truncate -s "${S_PRIV_MIB}M" "$dir/private.img"
	else
		cp --sparse=always "$PRIVATE_TEMPLATE" "$dir/private.img"
	fi
	truncate -s "$S_VOL_SIZE" "$dir/volatile.img"
	S_KERNEL=$VMLINUZ
	if [ ${#invm[@]} -eq 3 ]; then
		S_KERNEL=${invm[1]}
		cp "${invm[2]}" "$dir/initrd.img"
	elif [ "$S_INITRD" = qubes ]; then
		cp "$BASE_INITRD" "$dir/initrd.img"
	elif [ -n "$S_VARIANT" ]; then
		[ -x "$VM_REPO/build/qvm-ephemeral" ] || die "build/qvm-ephemeral is missing: run 'make -C $VM_REPO all'"
		eval "$(bash "$VM_REPO/tests/dom0/kernel-boot-fixture.sh" --make "$BASE_INITRD" "$VMLINUZ" "$KMODS" \
			"$dir/kernels" "$KVER" "$dir" --compress zstd --early-cpio)" || die "cannot make the kernel variant fixture"
		S_KERNEL=$VARIANT_VMLINUZ S_MODULES=$VARIANT_MODULES_IMG
		if [ "$S_VARIANT" = pvh ]; then cp "$VARIANT_PVH_INITRD" "$dir/initrd.img"; else cp "$VARIANT_HVM_INITRD" "$dir/initrd.img"; fi
	else
		CARRY=$S_CARRY test_initrd "$S_INIT" "$dir/initrd.img" "$S_BASE"
	fi

	local sum_root0 sum_priv0 sum_root1 sum_priv1 size_root0 size_priv0
	sum_root0=$(sha256sum <"$dir/root.img" | cut -d' ' -f1)
	sum_priv0=$(sha256sum <"$dir/private.img" | cut -d' ' -f1)
	size_root0=$(stat -c %s "$dir/root.img") size_priv0=$(stat -c %s "$dir/private.img")

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

	# an origin grown on purpose (qe.resize): its old bytes the same, the new ones zeros
	sum_root1=$(head -c "$size_root0" "$dir/root.img" | sha256sum | cut -d' ' -f1)
	sum_priv1=$(head -c "$size_priv0" "$dir/private.img" | sha256sum | cut -d' ' -f1)
	R_UNCHANGED=no
	[ "$sum_root0" = "$sum_root1" ] && [ "$sum_priv0" = "$sum_priv1" ] &&
		[ "$(tail -c +$((size_root0 + 1)) "$dir/root.img" | tr -d '\0' | wc -c)" = 0 ] &&
		[ "$(tail -c +$((size_priv0 + 1)) "$dir/private.img" | tr -d '\0' | wc -c)" = 0 ] && R_UNCHANGED=yes
	[ "$(stat -c %s "$dir/root.img")" = "$size_root0" ] && [ "$(stat -c %s "$dir/private.img")" = "$size_priv0" ] ||
		echo "   origins grown: root $size_root0 -> $(stat -c %s "$dir/root.img"), private $size_priv0 -> $(stat -c %s "$dir/private.img") bytes" >&2

	local counts h_root h_priv h_vol h_mod
	counts=$(python3 "$VM_DIR/scan.py" "$tok" "$dir/root.img" "$dir/private.img" "$dir/volatile.img" "$S_MODULES") ||
		die "scan.py failed"
	{ read -r h_root _; read -r h_priv _; read -r h_vol _; read -r h_mod _; } <<<"$counts"
	R_HITS=$(( h_root + h_priv + h_vol + h_mod ))
	R_HITS_VOLATILE=$h_vol

	guest_results "$log" # R_USERSPACE R_DONE R_SWAP R_STATUS_RC R_FATAL R_FAILED_UNITS R_DEVICE_WAITS
	R_KEY_COPIES= R_CTL_COPIES=
	if [ "$S_DUMP" = 1 ] && [ -f "$dir/memory.dump" ]; then
		local kh
		kh=$(tr -d '\r' <"$log" | sed -n 's/.*TEST keyhash=\([0-9a-f]*\).*/\1/p' | tail -1)
		[ -n "$kh" ] && R_KEY_COPIES=$("$VM_REPO/build/keyscan" "$kh" "$dir/memory.dump")
		# positive control: 64 bytes the guest left in its memory must be found
		local ch
		ch=$(printf 'QEMKEYCTL-%s%s' "$seed" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 64 | sha256sum | cut -c1-64)
		R_CTL_COPIES=$("$VM_REPO/build/keyscan" "$ch" "$dir/memory.dump")
		rm -f "$dir/memory.dump"
	fi
	R_BOOT_MS=$(guest_val "$log" boot_ms)
	# Qubes' own COW hook (qubes-linux-utils qubes_cow_setup) says when it runs
	R_QUBES_COW=no
	grep -qE 'Qubes: Doing (COW|R/W) setup' "$log" && R_QUBES_COW=yes
	# (dracut's systemd initramfs logs it to the journal: the guest counts it there)
	[ "$(guest_val "$log" qubes_cow_journal)" -gt 0 ] 2>/dev/null && R_QUBES_COW=yes
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
		"device_waits=${R_DEVICE_WAITS:-none} boot_ms=${R_BOOT_MS:-none}" \
		"exhaust_bytes=$(guest_val "$log" exhaust_bytes | grep . || echo none) key_copies=${R_KEY_COPIES:-none} control_copies=${R_CTL_COPIES:-none} qubes_cow=$R_QUBES_COW pass=$pass"

	if [ $pass = yes ] && [ "${VM_KEEP:-0}" != 1 ]; then
		rm -f "$dir"/*.img
		rm -rf "$dir/kernels"
	else
		KEPT+=("$dir")
	fi
}

# ---------------------------------------------------------------- main
[ $# -ge 1 ] || usage
case $1 in
--list) printf '%s\n' "${SCENARIOS[@]}" "${NAMED_ONLY[@]}"; exit 0 ;;
-h|--help) usage ;;
esac
want=()
for a in "$@"; do
	if [ "$a" = all ]; then want+=("${SCENARIOS[@]}"); continue; fi
	ok=0
	for s in "${SCENARIOS[@]}" "${NAMED_ONLY[@]}"; do [ "$s" = "$a" ] && ok=1; done
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

# console logs, images of failed runs; the newest VM_KEEP_RUNS (5) are kept
vm_new_run_dir
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
