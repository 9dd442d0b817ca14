#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make coverage`: line coverage of src/ measured with gcov (gcc --coverage,
# objects in build/obj/cov): first by the unit tests alone, then by the unit
# tests + tests/dom0 run against build/cov/qvm-ephemeral. Prints both
# percentages over all of src/ and, per file, what the unit tests reach; files
# the unit tests do not reach at all are listed. The guest init's own run
# (QEMU scenarios) is not measured here.
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
measure >"$T/all"

echo "== per file: lines reached by the unit tests / by unit + dom0 tests (of N)"
join -1 3 -2 3 <(sort -k3 "$T/unit") <(sort -k3 "$T/all") |
	awk '{ if ($3 < 0) printf "  %-40s not compiled\n", $1; else printf "  %-40s %5.1f%%  %5.1f%%  (%d)\n", $1, $3 ? 100*$2/$3 : 0, $5 ? 100*$4/$5 : 0, $3 }'
echo "== not reached at all by the unit tests:"
awk '$2 > 0 && $1 == 0 { print "  " $3 }' "$T/unit"
echo "coverage: unit tests $(total "$T/unit") of src/"
echo "coverage: unit + dom0 tests $(total "$T/all") of src/"
