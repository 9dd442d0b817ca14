#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# enable, disable and apply are all-or-nothing per qube. Against the fake
# qubesd (test.FailNth: the Nth write call is refused), for every N until a
# run makes fewer writes: afterwards every qube equals its state before the
# run or its state after a complete run, never half, and the refused qube is
# exactly as before and says so. Also: what qubesd would refuse (kernelopts
# over 512 characters) is refused before the first write.
# Ends with "N passed, N failed".
DOM0_SERVER=fake   # the scenarios inject faults: the fake server only
. "$(dirname "$0")/common.sh"
dom0_build qvm-ephemeral-test
dom0_tmp qvm-atomic
unset QUBES_VM_KERNELS_DIR   # the fake's linux-kernel pool says where
state() { "$PY" tests/dom0/atomic-state.py dump "$1"; }
start_fake() { dom0_server_start "$T" || exit 1; }
stop_fake() { dom0_server_stop; }
fresh() { stop_fake; rm -f "$T/qubes.json"; start_fake; }

mkdir -p "$T/vm-kernels"
for k in 6.1.0 6.1.0-ephemeral; do
	mkdir -p "$T/vm-kernels/$k"; : >"$T/vm-kernels/$k/vmlinuz"; echo nopat >"$T/vm-kernels/$k/default-kernelopts-common.txt"
done

# scenario NAME SETUP -- CMD...: SETUP (shell, run on a fresh fake) makes the
# state before; CMD is run once whole, then once for each N with the Nth
# write call refused.
scenario() {
	local name=$1 setup=$2; shift 3
	fresh; eval "$setup"; q test.Checkpoint dom0 >/dev/null; state "$T/before"
	"$@" >"$T/out" 2>&1
	state "$T/done"
	cmp -s "$T/before" "$T/done" && { bad "$name: a complete run changed nothing"; return; }
	local n=1 fired bad=0
	while :; do
		q test.Rollback dom0 >/dev/null   # the state before; qubes done whole by the last run too
		q test.FailNth dom0 "" "$n" >/dev/null
		"$@" >"$T/out" 2>&1
		fired=$(q test.FailNthFired dom0)
		[ "$fired" = 1 ] || break
		state "$T/after"
		mapfile -t refused < <(sed -n 's/^qvm-ephemeral: \([^:]*\): nothing changed: .*/\1/p' "$T/out")
		if ! "$PY" tests/dom0/atomic-state.py check "$T/before" "$T/done" "$T/after" "${refused[@]}" >"$T/why"; then
			bad "$name: write call $n refused"; sed 's/^/     | /' "$T/why" "$T/out"; bad=1
			break
		fi
		n=$((n + 1))
	done
	[ $bad -eq 0 ] && [ $n -gt 2 ] && ok "$name: each of its $((n - 1)) write calls refused in turn: every qube as before or done, the refused one as before" ||
		{ [ $bad -eq 0 ] && bad "$name: only $((n - 1)) write call(s) seen"; }
}

echo "== all-or-nothing: every write call refused in turn"
scenario "enable work" "" -- "$QVM" enable work
scenario "enable --dom0-crypt vault" "" -- "$QVM" enable --dom0-crypt vault
scenario "enable personal (explicit kernelopts)" "" -- "$QVM" enable personal
scenario "enable dvm (brings its named disposable)" "" -- "$QVM" enable dvm
scenario "enable --dom0-crypt dvm" "" -- "$QVM" enable --dom0-crypt dvm
scenario "enable --dom0-crypt on an enabled qube (extends its record)" '"$QVM" enable work >/dev/null' -- "$QVM" enable --dom0-crypt work
scenario "disable work" '"$QVM" enable work >/dev/null' -- "$QVM" disable work
scenario "disable vault (--dom0-crypt)" '"$QVM" enable --dom0-crypt vault >/dev/null' -- "$QVM" disable vault
scenario "disable dvm (and its named disposable)" '"$QVM" enable --dom0-crypt dvm >/dev/null' -- "$QVM" disable dvm
scenario "disable --force (no record)" '"$QVM" enable work >/dev/null; q admin.vm.feature.Remove work qubes-ephemeral.saved >/dev/null' -- "$QVM" disable --force work
scenario "apply after a qubesd restart (R4.2 drift)" '"$QVM" enable work personal >/dev/null; stop_fake; start_fake' -- "$QVM" apply
scenario "apply under --all-disposables (enables a new disposable template)" \
	'"$QVM" enable --all-disposables --exclude named-busy >/dev/null; q admin.vm.Create.AppVM dom0 debian-12 "name=dvm2 label=red" >/dev/null; q admin.vm.property.Set dvm2 template_for_dispvms True >/dev/null' -- "$QVM" apply

echo "== checked before the first write"
fresh
LONG=$(printf 'opt%03d=x ' $(seq 100)); LONG=${LONG% }   # 499 characters
q admin.vm.property.Set personal kernelopts "${LONG:0:500}" >/dev/null
state "$T/before"
q test.FailNth dom0 "" 1 >/dev/null
check "kernelopts + the flag over 512: refused with why" 1 "personal: its kernelopts plus \" qubes.ephemeral=1\" would be over 512 characters.*Kernelopts value too long \(512 chars max\)" -- "$QVM" enable personal
is "... before any write call" "$(q test.FailNthFired dom0)" 0
state "$T/after"
check "... the qube is as before" 0 "" -- cmp "$T/before" "$T/after"
check "... and apply under the policy says so too, writing nothing" 1 "personal: not enabled by the --all-disposables policy: its kernelopts" -- bash -c "'$QVM' enable --all-disposables --exclude named-busy >/dev/null 2>&1; q() { '$PY' '$FAKE/qcall.py' \"\$@\"; }; q admin.vm.property.Set personal template_for_dispvms True >/dev/null; '$QVM' apply"
check "... no record on it" 1 "QubesFeatureNotFoundError" -- q admin.vm.feature.Get personal qubes-ephemeral.saved

summary
