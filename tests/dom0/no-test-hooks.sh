#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The shipped build/qvm-ephemeral holds none of the test-only environment
# hooks (TEST_ENV("NAME") in src/qvm-ephemeral, compiled in only with
# -DTEST_HOOKS=1 into build/qvm-ephemeral-test); every other getenv of the
# tool is a documented contract (allowlist below). The test build must
# have them all (so the check can fail). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/assert.sh
SHIPPED=${SHIPPED:-build/qvm-ephemeral}
make -s build/qvm-ephemeral build/qvm-ephemeral-test >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
CONTRACT="QUBESD_SOCKET PATH"   # getenv()s that ship: the qubesd socket, finding tools

mapfile -t hooks < <(grep -ohE 'TEST_ENV\("[A-Za-z0-9_]+"\)' src/qvm-ephemeral/*.[ch] | sed -E 's/TEST_ENV\("(.*)"\)/\1/' | sort -u)
[ ${#hooks[@]} -ge 8 ] && ok "test hooks found in the sources: ${hooks[*]}" || bad "only ${#hooks[@]} test hooks found in the sources"
shipped=$(strings "$SHIPPED") testbuild=$(strings build/qvm-ephemeral-test)
for h in "${hooks[@]}"; do
	if grep -q -- "$h" <<<"$shipped"; then bad "$SHIPPED contains the test hook $h"; else ok "$SHIPPED has no $h"; fi
	grep -qx -- "$h" <<<"$testbuild" && ok "test build has $h" || bad "test build lacks $h (check cannot fail)"
done
# any other getenv must be a contract, not a hook that escaped TEST_ENV
while read -r name; do
	case " $CONTRACT " in *" $name "*) ok "getenv($name) is a contract" ;; *) bad "getenv(\"$name\") outside TEST_ENV: a test hook in the shipped tool?" ;; esac
done < <(grep -ohE '[^_A-Z]getenv\("[A-Za-z0-9_]+"\)' src/qvm-ephemeral/*.c | sed -E 's/.*getenv\("(.*)"\)/\1/' | sort -u)
summary
