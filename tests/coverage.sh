#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make coverage`: line coverage of src/ measured with gcov (gcc --coverage,
# objects in build/obj/cov): first by the unit tests alone, then by the whole
# fast tier: the unit tests + tests/dom0 run against build/cov/qvm-ephemeral +
# the init's host-runnable modes (build/cov/ephemeral-init: its refusal to run
# as a program, `status` on this machine, `--hook check`). Prints both
# percentages over all of src/, per file what each reaches, and the files the
# unit tests still reach little of, with why. The guest init's own runs (QEMU
# and Xen tiers) are not measured here (see tests/unit/README.md).
#   tests/coverage.sh UNIT_TEST_BINARY...   (make coverage passes them)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
OBJ=$B/obj/cov
T=$(mktemp -d /tmp/qe-cov.XXXXXX)
trap 'rm -rf "$T"' EXIT

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

find "$OBJ" -name '*.gcda' -delete
echo "== unit tests (coverage build)"
for t in "$@"; do "$t" >/dev/null 2>&1 || echo "coverage: $t failed (its coverage still counts)"; done
measure >"$T/unit"
echo "== tests/dom0 against $B/cov/qvm-ephemeral"
for t in tests/dom0/*.sh; do
	[ -x "$t" ] || continue
	QVM=$PWD/$B/cov/qvm-ephemeral "$t" 2>&1 | tail -1 | sed "s|^|$t: |"
done
echo "== $B/cov/ephemeral-init on this machine (host-runnable modes)"
INIT=$B/cov/ephemeral-init
bad=0
"$INIT" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "coverage: ephemeral-init ran as a program (not pid 1)"; bad=1; }
# this machine is no ephemeral VM: status must never say so (1 not, 2 cannot
# tell). Only where /dev/mapper/control exists: status would make the node.
if [ -e /dev/mapper/control ]; then
	"$INIT" status >/dev/null 2>&1; [ $? -ne 0 ] || { echo "coverage: ephemeral-init status said ephemeral on a host"; bad=1; }
	(exec -a ephemeral-status "$INIT") >/dev/null 2>&1; [ $? -ne 0 ] || { echo "coverage: ephemeral-status said ephemeral on a host"; bad=1; }
fi
if ! grep -q 'qubes.ephemeral=1' /proc/cmdline; then
	"$INIT" --hook check >/dev/null 2>&1; [ $? -eq 1 ] || { echo "coverage: --hook check said ephemeral"; bad=1; }
	"$INIT" --hook bogus >/dev/null 2>&1; [ $? -eq 2 ] || { echo "coverage: --hook bogus was not refused"; bad=1; }
fi
[ $bad -eq 0 ] && echo "ephemeral-init host modes: as expected"
measure >"$T/all"

echo "== per file: lines reached by the unit tests / by the whole fast tier (of N)"
join -1 3 -2 3 <(sort -k3 "$T/unit") <(sort -k3 "$T/all") |
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
awk '$2 > 0 && $1 * 2 < $2 { print $3 }' "$T/unit" | while read -r f; do printf "  %-36s %s\n" "$f" "$(why "$f")"; done
echo "coverage: unit tests $(total "$T/unit") of src/"
echo "coverage: whole fast tier (unit + dom0 + init host modes) $(total "$T/all") of src/"
