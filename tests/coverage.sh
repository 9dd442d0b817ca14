#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Line coverage of src/ measured with gcov. The counters live in the san
# objects (build/obj/san: ASan + UBSan + --coverage), so the fast tier's own
# runs are what is measured: the unit tests alone, then the whole tier (+
# tests/dom0 against build/qvm-ephemeral-test + the init's host-runnable
# modes, build/ephemeral-init-host: its refusal to run as a program, `status`
# on this machine, `--hook check`). Prints both percentages over all of src/,
# per file what each reaches, and the files the unit tests still reach little
# of, with why. The guest init's own runs (QEMU and Xen tiers) are not
# measured here (see tests/unit/README.md).
#   tests/coverage.sh reset            drop the counters (before the unit tests)
#   tests/coverage.sh snapshot NAME    record per-file figures as NAME (unit, all)
#   tests/coverage.sh init-host        run the init's host-runnable modes
#   tests/coverage.sh report           compare the unit and all snapshots
#   tests/coverage.sh run UNIT_TEST... all of it alone (make coverage)
# tests/check.sh's fast tier calls reset, snapshot unit, ..., init-host,
# snapshot all, report around its own parts.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
OBJ=$B/obj/san
SNAP=$B/coverage
# per-file "LINES_EXECUTED LINES FILE" for every .c under src/ (gcov -n: no .gcov files)
measure() {
	local f
	for f in $(find src -name '*.c' | sort); do
		gcov -n -o "$OBJ/$(dirname "$f")" "$f" 2>/dev/null |
			awk -v want="$f" '
				/^File / { gsub(/\x27/, "", $2); file = $2 }
				/^Lines executed:/ && file == want {
					split($2, a, ":"); pct = a[2]; sub(/%/, "", pct); n = $4
					printf "%d %d %s\n", (pct * n / 100) + 0.5, n, file; found = 1; exit }
				END { if (!found) print "0 -1 " want }'
	done
}
total() { awk '$2 > 0 { e += $1; n += $2 } END { printf "%.1f%% (%d of %d lines)", n ? 100 * e / n : 0, e, n }' "$1"; }

init_host() {
	local init=$B/ephemeral-init-host bad=0
	echo "== $init on this machine (host-runnable modes)"
	"$init" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "coverage: ephemeral-init ran as a program (not pid 1)"; bad=1; }
	# this machine is no ephemeral VM: status must never say so (1 not, 2 cannot
	# tell). Only where /dev/mapper/control exists: status would make the node.
	if [ -e /dev/mapper/control ]; then
		"$init" status >/dev/null 2>&1; [ $? -ne 0 ] || { echo "coverage: ephemeral-init status said ephemeral on a host"; bad=1; }
		(exec -a ephemeral-status "$init") >/dev/null 2>&1; [ $? -ne 0 ] || { echo "coverage: ephemeral-status said ephemeral on a host"; bad=1; }
	fi
	if ! grep -q 'qubes.ephemeral=1' /proc/cmdline; then
		"$init" --hook check >/dev/null 2>&1; [ $? -eq 1 ] || { echo "coverage: --hook check said ephemeral"; bad=1; }
		"$init" --hook bogus >/dev/null 2>&1; [ $? -eq 2 ] || { echo "coverage: --hook bogus was not refused"; bad=1; }
	fi
	[ $bad -eq 0 ] && echo "ephemeral-init host modes: as expected"
	return $bad
}

report() {
	echo "== per file: lines reached by the unit tests / by the whole fast tier (of N)"
	join -1 3 -2 3 <(sort -k3 "$SNAP/unit") <(sort -k3 "$SNAP/all") |
		awk '{ if ($3 < 0) printf "  %-40s not compiled\n", $1; else printf "  %-40s %5.1f%%  %5.1f%%  (%d)\n", $1, $3 ? 100*$2/$3 : 0, $5 ? 100*$4/$5 : 0, $3 }'
	# why the unit tests reach little of a file (one line each; files under 50 %)
	why() {
		case $1 in
		src/ephemeral-init/main.c) echo "/init itself: runs only as pid 1 on an initramfs (QEMU/Xen tiers); its refusal as a program runs here" ;;
		src/ephemeral-init/switch_root.c) echo "moves /dev,/proc,/sys,/run and execs the new root's init: QEMU tiers; its refusals are unit-tested" ;;
		src/ephemeral-init/stock.c) echo "stock mode partitions a real volatile disk (BLKRRPART) and loads a dm snapshot: QEMU tiers" ;;
		src/ephemeral-init/fatal.c) echo "powers the VM off: only its refusal outside an initramfs is unit-tested" ;;
		src/ephemeral-init/devices.c) echo "block ioctls and netlink waits need real disks: QEMU tiers; the fake root covers the rule and refusals" ;;
		src/lib/dm.c) echo "raw ioctls on /dev/mapper/control need root and a kernel: QEMU tiers (status reads the host's table list)" ;;
		src/initramfs-append/*) echo "the dom0 appender program: run by tests/vm and tests/pkg, not by a unit test" ;;
		src/qvm-ephemeral/*) echo "dom0 tool commands: exercised by tests/dom0 through a fake qubesd" ;;
		*) echo "not yet tested by a unit test" ;;
		esac
	}
	echo "== reached little (< 50 %) by the unit tests, and why:"
	awk '$2 > 0 && $1 * 2 < $2 { print $3 }' "$SNAP/unit" | while read -r f; do printf "  %-36s %s\n" "$f" "$(why "$f")"; done
	echo "coverage: unit tests $(total "$SNAP/unit") of src/"
	echo "coverage: whole fast tier (unit + dom0 + init host modes) $(total "$SNAP/all") of src/"
}

cmd=${1:-}; [ $# -gt 0 ] && shift
case $cmd in
reset) find "$OBJ" -name '*.gcda' -delete 2>/dev/null; rm -rf "$SNAP" ;;
snapshot)
	[ $# -eq 1 ] || { echo "coverage: snapshot needs a NAME (unit or all)" >&2; exit 2; }
	mkdir -p "$SNAP" && measure >"$SNAP/$1" ;;
init-host) init_host ;;
report)
	[ -s "$SNAP/unit" ] && [ -s "$SNAP/all" ] || { echo "coverage: no unit/all snapshot in $SNAP: run reset, snapshot unit, snapshot all first" >&2; exit 2; }
	report ;;
run)
	find "$OBJ" -name '*.gcda' -delete 2>/dev/null; rm -rf "$SNAP"; mkdir -p "$SNAP"
	echo "== unit tests"
	for t in "$@"; do "$t" >/dev/null 2>&1 || echo "coverage: $t failed (its coverage still counts)"; done
	measure >"$SNAP/unit"
	echo "== tests/dom0 against $B/qvm-ephemeral-test"
	for t in tests/dom0/*.sh; do
		[ -x "$t" ] || continue
		"$t" 2>&1 | tail -1 | sed "s|^|$t: |"
	done
	rc=0; init_host || rc=1
	measure >"$SNAP/all"
	report; exit $rc ;;
*) echo "usage: tests/coverage.sh reset|snapshot NAME|init-host|report|run UNIT_TEST..." >&2; exit 2 ;;
esac
