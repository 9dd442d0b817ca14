# SPDX-License-Identifier: GPL-2.0-or-later
# The common start of the dom0 test scripts (tests/dom0, tests/pkg/salt.sh).
# Source it first: it goes to the repository's root and sets
#   ROOT   the repository
#   QVM    the dom0 tool under test: build/qvm-ephemeral-test (test hooks,
#          ASan) unless QVM=... names another build
#   FAKE   tests/dom0/fake-qubesd;  PY  python3
# sources tests/lib/assert.sh and tests/dom0/server.sh (dom0_server_start
# DIR, ...: the Admin API server chosen by $DOM0_SERVER), and gives
#   dom0_build BIN...  make build/BIN (qvm-ephemeral-test only when QVM is
#                      the default); a failed build ends the script failed
#   dom0_tmp NAME      T = a new /tmp/NAME.XXXXXX; at exit (any exit) the
#                      commands of dom0_at_exit run (last first), then the
#                      server stops, children are waited for and T removed
#   dom0_at_exit CMD   one more cleanup command (e.g. kill a watch service)
#   q METHOD DEST [ARG [PAYLOAD]]  one Admin API call to the running server
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
ROOT=$PWD
QVM=${QVM:-$ROOT/build/qvm-ephemeral-test}
FAKE=$ROOT/tests/dom0/fake-qubesd
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
# shellcheck source=tests/lib/assert.sh
. tests/lib/assert.sh
# shellcheck source=tests/dom0/server.sh
. tests/dom0/server.sh

dom0_build() {
	local b
	for b in "$@"; do
		[ "$b" = qvm-ephemeral-test ] && [ "$QVM" != "$ROOT/build/qvm-ephemeral-test" ] && continue
		make -s "build/$b" >/dev/null || { echo "cannot build build/$b"; echo "0 passed, 1 failed"; exit 1; }
	done
}

_DOM0_AT_EXIT=()
dom0_at_exit() { _DOM0_AT_EXIT+=("$*"); }
_dom0_exit() {
	local i
	for ((i = ${#_DOM0_AT_EXIT[@]} - 1; i >= 0; i--)); do eval "${_DOM0_AT_EXIT[i]}"; done
	dom0_server_stop
	wait 2>/dev/null
	[ -n "${T:-}" ] && rm -rf "$T"
}
dom0_tmp() {
	T=$(mktemp -d "/tmp/$1.XXXXXX") || { echo "cannot make a temp folder"; echo "0 passed, 1 failed"; exit 1; }
	trap _dom0_exit EXIT
}

q() { "$PY" "$FAKE/qcall.py" "$@"; }
