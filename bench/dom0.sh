#!/bin/bash
# Time and Admin API calls of `qvm-ephemeral enable` and `status` on 100
# qubes against the fake qubesd (tests/dom0/fake-qubesd). Not part of
# `make check`. Prints BENCH lines.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100}
make -s build/qvm-ephemeral >/dev/null
T=$(mktemp -d /tmp/qvm-bench.XXXXXX)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
export QUBESD_SOCKET=$T/qubesd.sock FAKE_QUBESD_SOCKET=$T/qubesd.sock QUBES_VM_KERNELS_DIR=$T/kernels
mkdir -p "$T/kernels/6.1.0" "$T/kernels/6.1.0-ephemeral"
: >"$T/kernels/6.1.0/vmlinuz"; : >"$T/kernels/6.1.0-ephemeral/vmlinuz"
"$PY" tests/dom0/fake-qubesd/fake_qubesd.py "$T/qubesd.sock" "$T/state.json" --kernels "$T/kernels" \
	--log "$T/calls" --many "$N" >"$T/fake.log" 2>&1 &
FAKE=$!
trap 'kill $FAKE 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do "$PY" tests/dom0/fake-qubesd/qcall.py test.Ping dom0 >/dev/null 2>&1 && break; sleep 0.05; done

names=$(seq -f 'vm%03g' 1 "$N")
run() { # NAME CMD...: one timed run, calls counted in the fake's log
	local name=$1; shift
	: >"$T/calls"
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >"$T/out" 2>&1 || { cat "$T/out"; exit 1; }
	t1=$(date +%s.%N)
	printf 'BENCH dom0_%s_%d_s %.3f s\n' "$name" "$N" "$(echo "$t1 - $t0" | bc -l)"
	printf 'BENCH dom0_%s_%d_calls %d calls\n' "$name" "$N" "$(wc -l <"$T/calls")"
}
# shellcheck disable=SC2086
run enable build/qvm-ephemeral -q enable $names
run status build/qvm-ephemeral status
grep -c ' ephemeral$' "$T/out" | sed "s/^/bench: qubes ephemeral after enable: /"
