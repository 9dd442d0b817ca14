#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Time and Admin API calls of `qvm-ephemeral enable` and `status` on 100
# qubes against qubesd: $DOM0_SERVER (see tests/dom0/server.sh) = fake
# (default; tests/dom0/fake-qubesd, which also counts the calls) or
# real-master / real-release4.3 / real-release4.2 (the real Admin API server;
# calls are counted there too, by a socket relay in front of it). Not part
# of `make check`. Prints BENCH lines.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-100}
make -s build/qvm-ephemeral >/dev/null
T=$(mktemp -d /tmp/qvm-bench.XXXXXX)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
. tests/dom0/server.sh
RELAY=
trap 'dom0_server_stop; [ -n "$RELAY" ] && kill $RELAY 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
for k in 6.1.0 6.1.0-ephemeral; do dom0_kernel_dir "$T/vm-kernels" "$k"; done
dom0_server_start "$T" --many "$N"
SUFFIX=
if [ "$DOM0_REAL" = 1 ]; then
	SUFFIX=_${DOM0_VERSION//./}
	# count calls: a relay socket in front of the real one writes one line a call
	"$PY" - "$QUBESD_SOCKET" "$T/relay.sock" "$T/calls" <<-'PY' &
	import os, socket, sys, threading
	real, path, log = sys.argv[1:4]
	srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(64)
	def pump(a, b):
	    while True:
	        d = a.recv(65536)
	        if not d:
	            break
	        b.sendall(d)
	    b.shutdown(socket.SHUT_WR)
	def serve(c):
	    u = socket.socket(socket.AF_UNIX); u.connect(real)
	    with open(log, "a") as f:
	        f.write("call\n")
	    t = threading.Thread(target=pump, args=(c, u)); t.start()
	    pump(u, c); t.join(); c.close(); u.close()
	while True:
	    c, _ = srv.accept()
	    threading.Thread(target=serve, args=(c,), daemon=True).start()
	PY
	RELAY=$!
	for _ in $(seq 100); do [ -S "$T/relay.sock" ] && break; sleep 0.05; done
	export QUBESD_SOCKET=$T/relay.sock
fi

names=$(seq -f 'vm%03g' 1 "$N")
run() { # NAME CMD...: one timed run, calls counted
	local name=$1; shift
	: >"$T/calls"
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >"$T/out" 2>&1 || { cat "$T/out"; exit 1; }
	t1=$(date +%s.%N)
	printf 'BENCH dom0_%s_%d%s_s %.3f s\n' "$name" "$N" "$SUFFIX" "$(echo "$t1 - $t0" | bc -l)"
	printf 'BENCH dom0_%s_%d%s_calls %d calls\n' "$name" "$N" "$SUFFIX" "$(wc -l <"$T/calls")"
}
# shellcheck disable=SC2086
run enable build/qvm-ephemeral -q enable $names
run status build/qvm-ephemeral status
grep -c ' ephemeral$' "$T/out" | sed "s/^/bench: qubes ephemeral after enable ($DOM0_SERVER): /"
