#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The shipped ephemeral-init contains no test path: none of the strings of
# the qubes.ephemeral.test.* code (plain stack, key hash, injected failures,
# hangs). The test build must contain each, so the check can fail.
# Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/lib/assert.sh

FORBIDDEN=(
	"test.plain" "volatile data is NOT encrypted" "ephemeral-test-plain" "TEST keyhash"
	"injected failure" "test.fail" "test.hang" "TEST BUILD"
)
shipped=build/ephemeral-init test=build/ephemeral-init-test
for b in "$shipped" "$test"; do
	[ -x "$b" ] || { echo "shipped-strings: $b missing: run 'make all' first"; exit 1; }
done
s_shipped=$(strings -n 6 "$shipped") s_test=$(strings -n 6 "$test")
for f in "${FORBIDDEN[@]}"; do
	if grep -qF -- "$f" <<<"$s_test"; then ok "test build contains '$f' (the check can fail)"
	else bad "test build lacks '$f': the list is stale, so this check proves nothing"; fi
	if grep -qF -- "$f" <<<"$s_shipped"; then bad "shipped $shipped contains '$f'"
	else ok "shipped build lacks '$f'"; fi
done
summary
