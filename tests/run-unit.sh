#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs cmocka unit-test programs; prints each one's output and ends with
# "unit: N passed, N failed" counting individual test cases.
set -uo pipefail
passed=0 failed=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	echo "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	# a crash (sanitizer abort) counts as a failure even if cmocka printed nothing
	if [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); echo "unit: $t exited $rc"; fi
done
echo "unit: $passed passed, $failed failed"
[ $failed -eq 0 ]
