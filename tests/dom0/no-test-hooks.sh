#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The shipped build/qvm-ephemeral holds none of the test-only environment
# hooks (TEST_ENV("NAME") in src/qvm-ephemeral, compiled in only with
# -DTEST_HOOKS=1 into build/qvm-ephemeral-test); every other getenv of the
# tool is a documented contract (allowlist below). The test build must
# have them all (so the check can fail). And no weak-symbol scaffolding
# ships: no object of the shipped binaries (build/obj/host, build/obj/guest)
# defines or references a weak symbol, and the shipped host binaries hold no
# weak symbol beyond the C runtime's. Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/assert.sh
SHIPPED=${SHIPPED:-build/qvm-ephemeral}
make -s build/qvm-ephemeral build/qvm-ephemeral-test build/initramfs-append build/ephemeral-init >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
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
# weak symbols: nm types w/W (functions) and v/V (objects)
weak_of() { gcc-nm "$@" 2>/dev/null | awk 'NF >= 2 && $(NF-1) ~ /^[vVwW]$/ {print $NF}' | sort -u; }
for flavour in host guest; do
	objs=$(find build/obj/$flavour/src -name '*.o' | sort)
	if [ -z "$objs" ]; then bad "no objects under build/obj/$flavour/src (check cannot run)"; continue; fi
	# shellcheck disable=SC2086
	w=$(weak_of $objs | tr '\n' ' ')
	[ -z "$w" ] && ok "objects of the shipped $flavour build: no weak symbol" || bad "weak symbols in build/obj/$flavour/src: $w"
done
T=$(mktemp -d /tmp/no-test-hooks.XXXXXX)
trap 'rm -rf "$T"' EXIT
echo 'int main(void) { return 0; }' >"$T/empty.c"
if ${CC:-cc} -o "$T/empty" "$T/empty.c"; then
	runtime=$(weak_of "$T/empty")
	for b in build/qvm-ephemeral build/initramfs-append; do
		extra=$(comm -23 <(weak_of "$b") <(echo "$runtime") | tr '\n' ' ')
		[ -z "$extra" ] && ok "$b: no weak symbol beyond the C runtime's" || bad "$b has weak symbols: $extra"
	done
else
	bad "cannot build an empty program to learn the C runtime's weak symbols"
fi
summary
