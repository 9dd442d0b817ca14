#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The test tiers. Each part prints its own "N passed, N failed"; the run ends
# with ONE line summing every part of every tier run, and exits non-zero on
# any failure.
#   tests/check.sh TIER...    TIER: a name from TIERS, or all (every one, in order)
# Run through make (which builds first): `make check` (fast), `make check-vm`,
# `make check-pkg`, `make bench-smoke`, `make check-all` (scripts/test.sh).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# Every tier, in the order `all` runs them. A tier NAME is the function
# tier_NAME below, or else the script tests/NAME/run.sh (ending with
# "N passed, N failed"): adding a tier is one word here.
TIERS=(fast vm pkg bench)

passed=0 failed=0 COV_SUMMARY=
count() { # OUTPUT: adds its last "N passed, N failed" line (none: one failure)
	local line p f
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' <<<"$1" | tail -1)
	p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+'); f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
}
one() { # NAME RC: a part that counts as one check, passed when RC is 0
	if [ "$2" -eq 0 ]; then
		echo "$1: 1 passed, 0 failed"; passed=$((passed + 1))
	else
		echo "$1: 0 passed, 1 failed"; failed=$((failed + 1))
	fi
}
script() { # SCRIPT [ARGS...]: a test script ending with "N passed, N failed"
	local out
	echo "== $*"
	out=$("$@" 2>&1); echo "$out"
	count "$out"
}

tier_fast() {
	# line coverage of src/ comes from this tier's own runs (gcov counters in
	# the san objects): reset now, a snapshot after the unit tests, the whole
	# tier's at the end. COVERAGE=0 skips the figures.
	local cov=${COVERAGE:-1}
	[ "$cov" = 0 ] || tests/coverage.sh reset
	echo "== unit tests"
	local out rc t unit=()
	for t in tests/unit/test_*.c; do t=${t##*/}; unit+=("build/tests/${t%.c}"); done
	out=$(tests/run-unit.sh "${unit[@]}" 2>&1); echo "$out" | grep -vE '^\[ *(RUN|OK) *\]'
	count "$out"
	[ "$cov" = 0 ] || tests/coverage.sh snapshot unit

	echo "== make install into a scratch DESTDIR"
	local inst f
	inst=$(mktemp -d /tmp/qe-install.XXXXXX)
	rc=0
	make -s install DESTDIR="$inst" PREFIX=/usr >/dev/null 2>&1 || rc=$?
	for f in usr/lib/qubes-ephemeral/ephemeral-init usr/bin/qvm-ephemeral usr/share/man/man1/qvm-ephemeral.1 \
		usr/lib/systemd/system/qvm-ephemeral-watch.service; do
		[ -e "$inst/$f" ] || { echo "install: $f missing"; rc=1; }
	done
	one install $rc
	rm -rf --one-file-system "$inst"

	echo "== fuzz smoke (each target briefly, must not crash)"
	out=$(make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-10}" 2>&1); rc=$?
	echo "$out"; one fuzz $rc

	# the shipped init has no test path in it
	script tests/shipped-strings.sh
	# dom0 tool tests (fixture kernel folders, fake qubesd)
	for f in tests/dom0/*.sh; do [ -x "$f" ] && script "$f"; done
	# tests/xen's dom0 functions, on the host (the lanes' shared console)
	script tests/xen/dom0-lib-test.sh
	# the README's storage-stack picture against the committed tables
	script tests/docs/stack.sh

	[ "$cov" = 0 ] && return
	echo "== line coverage (gcov counters of this tier's runs)"
	local c0=$SECONDS
	out=$({ tests/coverage.sh init-host && tests/coverage.sh snapshot all && tests/coverage.sh report; } 2>&1); rc=$?
	grep -E '^coverage: .*(failed|said|ran|refused)' <<<"$out"
	sed -n '/^== reached little/,$p' <<<"$out"
	[ $rc -eq 0 ] || tail -20 <<<"$out"
	COV_SUMMARY=$(grep -E '^coverage: (unit tests|whole fast tier) ' <<<"$out")
	echo "coverage: measured in $((SECONDS - c0)) s"
	one coverage $rc
}

tier_vm() {
	# the harness' own guards first: they keep the scenarios from harming the machine
	script tests/vm/guard-test.sh
	echo "== QEMU end-to-end scenarios"
	local out rc vp vf run_dir
	out=$(tests/vm/run.sh all 2>&1); rc=$?
	echo "$out"
	vp=$(grep -c '^RESULT .*pass=yes' <<<"$out"); vf=$(grep -c '^RESULT .*pass=no' <<<"$out")
	[ $rc -ne 0 ] && [ "$vf" -eq 0 ] && vf=1
	echo "vm: $vp passed, $vf failed"
	passed=$((passed + vp)); failed=$((failed + vf))
	# the README's storage-stack picture against this run's systemd boot
	run_dir=$(sed -n 's/.*console logs in \(.*\)$/\1/p' <<<"$out" | tail -1)
	script tests/docs/stack.sh ${run_dir:+"$run_dir/systemd/console.log"}
	# real Xen nested under QEMU: PV/PVH domains, the balloon test and its control
	# (one Xen boot; xen-hvm by name only, see tests/xen/README.md)
	script tests/xen/run.sh all
}

tier_pkg() {
	# the packages (rpmbuild and dpkg-deb on Debian, lintian) and the Salt states
	for f in tests/pkg/*.sh; do [ -x "$f" ] && script "$f"; done
	# the dom0 tool built with Debian's hardening flags passes its tests
	script tests/buildflags.sh
}

tier_bench() {
	# every bench figure once at tiny sizes: a number for each (goals are not
	# checked here; bench/run.sh --quick or the full run measure them)
	echo "== bench smoke (bench/run.sh --smoke)"
	local out rc
	out=$(bench/run.sh --smoke 2>&1); rc=$?
	if [ $rc -eq 0 ]; then grep '^BENCH' <<<"$out"; else tail -20 <<<"$out"; fi
	one bench $rc
}

[ $# -gt 0 ] || set -- fast
want=()
for t in "$@"; do
	if [ "$t" = all ]; then want+=("${TIERS[@]}"); else want+=("$t"); fi
done
for t in "${want[@]}"; do
	p0=$passed f0=$failed s0=$SECONDS
	echo "==== tier $t"
	if declare -F "tier_$t" >/dev/null; then
		"tier_$t"
	elif [ -x "tests/$t/run.sh" ]; then
		script "tests/$t/run.sh"
	else
		echo "check: unknown tier '$t' (known: ${TIERS[*]})"; failed=$((failed + 1))
	fi
	echo "==== tier $t: $((passed - p0)) passed, $((failed - f0)) failed in $((SECONDS - s0)) s"
done

[ -n "${COV_SUMMARY:-}" ] && echo "$COV_SUMMARY"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
