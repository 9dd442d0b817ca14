#!/bin/bash
# `make check`: unit tests (ASan+UBSan), a short fuzz smoke run, then the QEMU
# end-to-end scenarios. Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0
count() { # $1 = output of a part; adds its "N passed, N failed" line
	local line; line=$(grep -E '[0-9]+ passed, [0-9]+ failed' <<<"$1" | tail -1)
	local p f
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

echo "== unit tests"
out=$(tests/run-unit.sh "$@" 2>&1); echo "$out" | grep -vE '^\[ *(RUN|OK) *\]'
count "$out"

echo "== make install into a scratch DESTDIR"
inst=$(mktemp -d)
installed() {
	local f
	for f in usr/lib/qubes-ephemeral/ephemeral-init usr/bin/qvm-ephemeral usr/share/man/man1/qvm-ephemeral.1 \
		usr/lib/systemd/system/qvm-ephemeral-watch.service; do
		[ -e "$inst/$f" ] || { echo "install: $f missing"; return 1; }
	done
}
make -s install DESTDIR="$inst" PREFIX=/usr >/dev/null 2>&1 && installed
one install $?
rm -rf "$inst"

echo "== fuzz smoke (each target briefly, must not crash)"
out=$(make -s fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-10} 2>&1); rc=$?
echo "$out"; one fuzz $rc

# dom0 tool tests (fixture kernel folders, fake qubesd), then the packages
# (rpmbuild and dpkg-deb on Debian, lintian) and the Salt states: each
# script under tests/dom0/ and tests/pkg/ ends with "N passed, N failed"
for t in tests/shipped-strings.sh tests/dom0/*.sh tests/pkg/*.sh; do
	[ -x "$t" ] || continue
	echo "== $t"
	out=$("$t" 2>&1); echo "$out"
	count "$out"
done

echo "== QEMU end-to-end scenarios"
out=$(tests/vm/run.sh all 2>&1); rc=$?
echo "$out"
vp=$(grep -c '^RESULT .*pass=yes' <<<"$out"); vf=$(grep -c '^RESULT .*pass=no' <<<"$out")
[ $rc -ne 0 ] && [ "$vf" -eq 0 ] && vf=1
passed=$((passed + vp)); failed=$((failed + vf))

# the README's storage-stack picture against this run's systemd boot
echo "== tests/docs/stack.sh"
run_dir=$(sed -n 's/.*console logs in \(.*\)$/\1/p' <<<"$out" | tail -1)
out=$(tests/docs/stack.sh ${run_dir:+"$run_dir/systemd/console.log"} 2>&1); echo "$out"
count "$out"

# every bench figure once at tiny sizes: a number for each (goals are not
# checked here; bench/run.sh --quick or the full run measure them)
echo "== bench smoke (bench/run.sh --smoke)"
out=$(bench/run.sh --smoke 2>&1); rc=$?
if [ $rc -eq 0 ]; then grep '^BENCH' <<<"$out"; else tail -20 <<<"$out"; fi
one bench $rc

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
