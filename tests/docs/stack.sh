#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's storage-stack picture stays true: the committed SVG is what
# docs/stack/storage-stack.py draws from the committed tables, those tables
# show the stack DESIGN.md promises, and (given the console log of a fresh
# `systemd` boot, as tests/check.sh passes it) today's boot has the same
# devices, targets and links. Ends with "N passed, N failed".
#   tests/docs/stack.sh [CONSOLE_LOG]
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
S="$PY docs/stack/storage-stack.py"
. tests/lib/assert.sh
T=$(mktemp -d /tmp/qe-stack.XXXXXX)
trap 'rm -rf "$T"' EXIT

if $S svg docs/stack/stack.txt >"$T/svg" && cmp -s "$T/svg" docs/stack/storage-stack.svg; then
	ok "committed SVG = drawing of the committed tables"
else
	bad "committed SVG differs from docs/stack/storage-stack.py svg docs/stack/stack.txt (run docs/stack/make.sh)"
fi
$S signature docs/stack/stack.txt >"$T/sig" || bad "signature of the committed tables"
want() { # DESC LINE: the committed stack has this device line
	if grep -qxF -- "$2" "$T/sig"; then ok "$1"; else bad "$1 (no line '$2')"; sed 's/^/     | /' "$T/sig"; fi
}
want "dm-crypt over the whole volatile disk" "ephemeral-crypt crypt vdc(on)"
want "swap is a slice of the crypt device" "ephemeral-swap linear ephemeral-crypt(on)"
want "pool metadata inside the crypt device" "ephemeral-pool-meta linear ephemeral-crypt(on)"
want "pool data inside the crypt device" "ephemeral-pool-data linear ephemeral-crypt(on)"
want "thin pool on those two" "ephemeral-pool thin-pool ephemeral-pool-meta(metadata),ephemeral-pool-data(data)"
want "root: thin with the root partition as read-only origin" "dmroot thin ephemeral-pool(on),vda3(origin)"
want "private: thin with xvdb as origin" "ephemeral-private thin ephemeral-pool(on),vdb(origin)"
want "/ mounted from dmroot" "mount / mount dmroot(on)"
want "/rw and /home from the private thin" "mount /rw, /home mount ephemeral-private(on)"
want "swap in use on the crypt slice" "swap mount ephemeral-swap(on)"
if grep -q "dm-table: ephemeral-crypt: .* :64:logon:" docs/stack/stack.txt; then
	ok "crypt table names a keyring key, no key bytes"
else
	bad "crypt table in docs/stack/stack.txt does not show a keyring reference"
fi
if [ -n "${1:-}" ]; then
	if $S signature "$1" >"$T/fresh" 2>"$T/err" && cmp -s "$T/sig" "$T/fresh"; then
		ok "today's systemd boot has the drawn stack ($1)"
	else
		bad "today's systemd boot differs from the picture (run docs/stack/make.sh and commit)"
		cat "$T/err"; diff "$T/sig" "$T/fresh" | sed 's/^/     | /'
	fi
fi
summary
