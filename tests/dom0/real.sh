#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every dom0 test against the real Qubes Admin API server (qubes-core-admin,
# unmodified, offline mode; tests/dom0/real-qubesd) of master, release4.3 and
# release4.2: tests/dom0/api.sh, tests/dom0/guide.sh, tests/pkg/salt.sh,
# tests/dom0/kernel-inuse.sh (kernel sync's "in use" check) and bench/dom0.sh
# (N=20, one check: it runs and every qube ends ephemeral), with
# DOM0_SERVER=real-VERSION. Prints a table, per version "N passed, N failed",
# and last the sum. A version whose sources cannot be had counts as skipped
# (printed SKIPPED), never as passed.
# Env: REAL_VERSIONS (default "master release4.3 release4.2"), REAL_JOBS
# (scripts run at once, default 15: they mostly wait on each other's
# processes, not on the CPU).
set -uo pipefail
cd "$(dirname "$0")/../.."
VERSIONS=${REAL_VERSIONS:-master release4.3 release4.2}
JOBS=${REAL_JOBS:-15}
SCRIPTS=(tests/dom0/api.sh tests/dom0/guide.sh tests/pkg/salt.sh tests/dom0/kernel-inuse.sh bench/dom0.sh)
for b in qvm-ephemeral ephemeral-init; do
	make -s "build/$b" >/dev/null || { echo "real: cannot build $b"; echo "0 passed, 1 failed"; exit 1; }
done
L=$(mktemp -d /tmp/qvm-real.XXXXXX)
trap 'rm -rf "$L"' EXIT
t0=$(date +%s)

# the upstream trees first, one at a time (each is cached under a lock)
for v in $VERSIONS; do
	out=$(tests/dom0/real-qubesd/get-upstream.sh "$v" 2>&1); rc=$?
	[ $rc -eq 0 ] || { echo "$out"; echo "$rc" >"$L/prep.$v"; }
done

run_one() { # VERSION SCRIPT LOG
	if [ -f "$L/prep.$1" ]; then
		if [ "$(cat "$L/prep.$1")" = 77 ]; then
			echo "SKIPPED: real qubesd $1: no upstream sources"; echo "0 passed, 0 failed, 1 skipped"
		else
			echo "real qubesd $1 could not be prepared"; echo "0 passed, 1 failed"
		fi
		return
	fi
	if [ "$2" = bench/dom0.sh ]; then
		local o
		o=$(DOM0_SERVER=real-$1 N=20 timeout 900 bench/dom0.sh 2>&1); local rc=$?
		echo "$o"
		if [ $rc -eq 0 ] && grep -q "ephemeral after enable (real-$1): 20$" <<<"$o"; then
			echo "1 passed, 0 failed"
		else
			echo "0 passed, 1 failed"
		fi
	else
		DOM0_SERVER=real-$1 timeout 900 "$2" 2>&1 || :
	fi
}
for v in $VERSIONS; do
	for s in "${SCRIPTS[@]}"; do
		while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
		{
			s0=$(date +%s)
			run_one "$v" "$s" >"$L/$v.${s//\//_}.log" 2>&1
			echo $(( $(date +%s) - s0 )) >"$L/$v.${s//\//_}.time"
		} &
	done
done
wait

tp=0 tf=0 ts=0
declare -A VP VF VS
printf '%-28s' "script"; for v in $VERSIONS; do printf '%-22s' "$v"; done; echo
for s in "${SCRIPTS[@]}"; do
	printf '%-28s' "$s"
	for v in $VERSIONS; do
		line=$(grep -E '^([A-Za-z0-9 ()._-]+: )?[0-9]+ passed, [0-9]+ failed' "$L/$v.${s//\//_}.log" | tail -1)
		p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+'); f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
		k=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+')
		[ -n "$line" ] || f=1   # no closing line: it broke
		printf '%-22s' "${p:-0}/${f:-0}${k:+ skip $k} ($(cat "$L/$v.${s//\//_}.time" 2>/dev/null || echo ?) s)"
		VP[$v]=$(( ${VP[$v]:-0} + ${p:-0} )) VF[$v]=$(( ${VF[$v]:-0} + ${f:-0} )) VS[$v]=$(( ${VS[$v]:-0} + ${k:-0} ))
	done
	echo
done
echo "(passed/failed per script and version, and its wall time)"
for v in $VERSIONS; do
	p=${VP[$v]:-0} f=${VF[$v]:-0} k=${VS[$v]:-0}
	for s in "${SCRIPTS[@]}"; do # the failures and skips, in full
		log=$L/$v.${s//\//_}.log
		if grep -qE '^FAIL|^SKIPPED' "$log" || ! grep -qE '[0-9]+ passed, [0-9]+ failed' "$log"; then
			echo "--- $v $s:"; grep -E -A8 '^FAIL|^SKIPPED' "$log" | head -60
			grep -qE '[0-9]+ passed, [0-9]+ failed' "$log" || tail -20 "$log"
		fi
	done
	if [ "$k" -gt 0 ]; then echo "real-$v: $p passed, $f failed, $k skipped"; else echo "real-$v: $p passed, $f failed"; fi
	tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + k))
done
echo "real qubesd: wall time $(( $(date +%s) - t0 )) s"
if [ $ts -gt 0 ]; then
	echo "SKIPPED: $ts script run(s) against a real qubesd could not run (see above)"
	echo "real: $tp passed, $tf failed, $ts skipped"
else
	echo "real: $tp passed, $tf failed"
fi
[ $tf -eq 0 ]
