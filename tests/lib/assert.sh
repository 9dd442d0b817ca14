# SPDX-License-Identifier: GPL-2.0-or-later
# Assertions for the shell test scripts (tests/dom0, tests/docs, tests/pkg).
# Source it; each script ends with `summary`, which prints the line
# "N passed, N failed" that tests/check.sh counts and returns non-zero on a
# failure.
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
# check DESC EXPECTED_RC PATTERN -- CMD...: runs CMD, wants its exit code and
# PATTERN (grep -E) in its stdout+stderr; PATTERN "" = anything
check() {
	local desc=$1 want=$2 pat=$3; shift 4
	local out rc
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" -ne "$want" ]; then bad "$desc (exit $rc, wanted $want)"; echo "$out" | sed 's/^/     | /'; return 1; fi
	if [ -n "$pat" ] && ! grep -qE -- "$pat" <<<"$out"; then bad "$desc (no /$pat/)"; echo "$out" | sed 's/^/     | /'; return 1; fi
	ok "$desc"
}
# absent DESC PATTERN -- CMD...: PATTERN must NOT be in CMD's output
absent() {
	local desc=$1 pat=$2; shift 3
	if "$@" 2>&1 | grep -qE -- "$pat"; then bad "$desc (found /$pat/)"; else ok "$desc"; fi
}
# is DESC A B: A and B equal (a diff is shown when not)
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1"; diff <(echo "$2") <(echo "$3") | head -20 | sed 's/^/     | /'; fi
}
summary() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
