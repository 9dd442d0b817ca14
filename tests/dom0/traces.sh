#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# qvm-ephemeral traces on a fixture dom0 tree (tests/dom0/traces/mkfixture.sh)
# against the fake qubesd: what is listed, what --scrub removes and keeps,
# the journal count (fake journalctl over a text journal, and the real one on
# an empty root). Ends with "N passed, N failed".
DOM0_SERVER=fake   # the fixture qubes live in the fake server
. "$(dirname "$0")/common.sh"
dom0_build qvm-ephemeral-test
dom0_tmp qvm-traces
R=$T/root
export QVM_EPHEMERAL_JOURNALCTL=$ROOT/tests/dom0/traces/journalctl
unset QVM_EPHEMERAL_DOM0_ROOT QUBES_VM_KERNELS_DIR
WATCH_PID=
dom0_at_exit '[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null && wait "$WATCH_PID" 2>/dev/null'
tr_() { "$QVM" traces --root "$R" "$@"; }
files() { (cd "$R" && find . \( -type f -o -type l \) | LC_ALL=C sort); }

dom0_server_start "$T" || { echo "0 passed, 1 failed"; exit 1; }
tests/dom0/traces/mkfixture.sh "$R"

echo "== CLI"
check "traces --help" 0 "usage: qvm-ephemeral traces" -- "$QVM" traces --help
check "in the command list" 0 "traces \[--scrub\]" -- "$QVM" --help
check "nothing named is a usage error" 2 "usage" -- tr_
check "VM and --all-disposables together is a usage error" 2 "usage" -- tr_ --all-disposables disp7
check "a path is not a qube name" 2 "not a qube name" -- tr_ ../etc
check "unknown option" 2 "unknown option" -- tr_ --bogus disp7
complete_words() { # WORDS...: what bash completion offers for the last word
	bash -c '. completion/qvm-ephemeral.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _qvm_ephemeral; printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
check "completion: traces is a command" 0 "^traces$" -- complete_words qvm-ephemeral tr
check "completion: traces options" 0 "^--auto-scrub$" -- complete_words qvm-ephemeral traces --
check "completion: --auto-scrub on|off" 0 "^off$" -- complete_words qvm-ephemeral traces --auto-scrub o

echo "== --all-disposables: what is listed"
tr_ --all-disposables >"$T/all" 2>&1; rc=$?
sed "s|$R||; s/^/     /" "$T/all"
is "exit 0" "$rc" 0
is "gone disposables found (files, journal, record)" "$(grep -E '^[A-Za-z]' "$T/all" | grep -v '^note' | cut -d' ' -f1)" \
	"$(printf '%s\n' disp7 disp70 disp77 disp9 old-named LVM)"
for f in var/log/xen/console/guest-disp7.log var/log/xen/console/guest-disp7.log.1 var/log/xen/console/guest-disp7.log.2.gz \
	var/log/xen/console/guest-disp7-dm.log var/log/qubes/qrexec.disp7.log var/log/qubes/guid.disp7.log \
	var/log/qubes/qubesdb.disp7.log var/log/libvirt/libxl/disp7.log var/log/xen/console/guest-disp9.log-20240101.gz \
	var/log/qubes/qrexec.disp9.log var/log/xen/console/guest-old-named.log; do
	check "listed: $f" 0 "^  $R/$f \(" -- cat "$T/all"
done
check "journal lines counted per qube (vm.disp7:, 'disp7:', 'disp7' at the end)" 0 "^  journal: 3 lines" -- grep -A9 '^disp7 ' "$T/all"
check "a disposable seen only in the journal" 0 "^disp77 \(gone disposable\)" -- cat "$T/all"
check "LVM archive naming only gone volumes" 0 "qubes_dom0_00101-1001.vg: disp7$" -- cat "$T/all"
check "LVM archive also naming work: kept" 0 "qubes_dom0_00102-1002.vg: disp9; also existing work: kept" -- cat "$T/all"
absent "LVM archive of existing volumes only: not listed" "00103" -- cat "$T/all"
absent "running disposable disp42 not listed" "disp42" -- cat "$T/all"
absent "existing qubes not listed" "work\.log|named-disp|^work" -- cat "$T/all"
absent "gone AppVM not a disposable" "oldvm" -- cat "$T/all"
absent "symlink named like a trace skipped" "disp8" -- cat "$T/all"
absent "not a rotation suffix" "disp10" -- cat "$T/all"
absent "libxl-driver.log is not a qube's" "libxl-driver" -- cat "$T/all"
check "journal note explains why it is not scrubbed" 0 "shared by every service" -- cat "$T/all"
check "named disposables recorded while they exist" 0 "^named-disp$" -- cat "$R/var/lib/qubes-ephemeral/disposables"

echo "== one qube by name"
check "a gone AppVM by name" 0 "^oldvm \(gone\)" -- tr_ oldvm
check "... its console log" 0 "guest-oldvm.log" -- tr_ oldvm
check "an existing qube is refused" 1 "work exists \(AppVM, Halted\)" -- tr_ work
check "a running disposable is refused" 1 "disp42 exists \(DispVM, Running\)" -- tr_ disp42
check "a gone qube without traces" 0 "^  journal: 0 lines" -- tr_ nothing-here

echo "== named disposable removed later"
q admin.vm.Remove named-disp >/dev/null
check "found by its recorded name" 0 "^named-disp \(gone disposable\)" -- tr_ --all-disposables
check "... its libxl log" 0 "libxl/named-disp.log" -- tr_ --all-disposables

echo "== journal through the real journalctl (empty root: 0 lines, no error)"
check "real journalctl, no journal" 0 "^  journal: 0 lines" -- env -u QVM_EPHEMERAL_JOURNALCTL "$QVM" traces --root "$R" disp7
check "missing journalctl is reported, not fatal" 0 "journal: not counted \(/nonexistent not found\)" -- env QVM_EPHEMERAL_JOURNALCTL=/nonexistent "$QVM" traces --root "$R" disp7

echo "== --scrub"
files >"$T/before"
tr_ --all-disposables --scrub >"$T/scrub" 2>&1; rc=$?
sed "s|$R||; s/^/     /" "$T/scrub"
is "exit 0" "$rc" 0
files >"$T/after"
is "removed exactly the gone disposables' files" "$(comm -23 "$T/before" "$T/after")" "$(printf '%s\n' \
	./etc/lvm/archive/qubes_dom0_00101-1001.vg ./var/log/libvirt/libxl/disp7.log ./var/log/libvirt/libxl/named-disp.log \
	./var/log/qubes/guid.disp7.log ./var/log/qubes/qrexec.disp7.log ./var/log/qubes/qrexec.disp9.log \
	./var/log/qubes/qubesdb.disp7.log ./var/log/xen/console/guest-disp7-dm.log ./var/log/xen/console/guest-disp7.log \
	./var/log/xen/console/guest-disp7.log.1 ./var/log/xen/console/guest-disp7.log.2.gz \
	./var/log/xen/console/guest-disp9.log-20240101.gz ./var/log/xen/console/guest-old-named.log)"
is "added nothing" "$(comm -13 "$T/before" "$T/after")" ""
check "each removal printed" 0 "^removed $R/var/log/qubes/guid.disp7.log$" -- cat "$T/scrub"
check "says why unlink, not overwrite" 0 "unlinked, not overwritten: on an SSD" -- cat "$T/scrub"
check "kept the archive naming work" 0 "" -- test -f "$R/etc/lvm/archive/qubes_dom0_00102-1002.vg"
check "kept the running disposable's console" 0 "" -- test -f "$R/var/log/xen/console/guest-disp42.log"
check "kept the gone AppVM's log (not a disposable)" 0 "" -- test -f "$R/var/log/xen/console/guest-oldvm.log"
check "symlink left alone" 0 "" -- test -L "$R/var/log/xen/console/guest-disp8.log"
check "journal left alone" 0 "" -- test -f "$R/var/log/journal/fake.txt"
absent "scrubbed names dropped from the record" "old-named|^named-disp$" -- cat "$R/var/lib/qubes-ephemeral/disposables"
check "second run: only the kept archive and the journal" 0 "^disp9 \(gone disposable\)" -- tr_ --all-disposables
absent "... no files left of disp7" "guest-disp7" -- tr_ --all-disposables
check "a named gone qube can be scrubbed" 0 "^removed .*guest-oldvm.log$" -- tr_ --scrub oldvm

echo "== watch service: --auto-scrub"
logs() { # NAME: a console and a qrexec log, as dom0 writes them for a running qube
	mkdir -p "$R/var/log/xen/console" "$R/var/log/qubes"
	echo "console of $1" >"$R/var/log/xen/console/guest-$1.log"
	echo "qrexec-daemon: $1" >"$R/var/log/qubes/qrexec.$1.log"
}
gone_logs() { ! test -e "$R/var/log/xen/console/guest-$1.log" && ! test -e "$R/var/log/qubes/qrexec.$1.log"; }
wait_for() { # CMD...: up to 10 s
	for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1
}
check "--auto-scrub needs on|off" 2 "takes on or off" -- "$QVM" traces --auto-scrub maybe
check "--auto-scrub with a qube name is a usage error" 2 "takes on or off" -- "$QVM" traces --auto-scrub on disp7
check "--auto-scrub on" 0 "^automatic scrub on: qvm-ephemeral-watch removes" -- "$QVM" traces --auto-scrub on
check "... stored on dom0" 0 "^1$" -- q admin.vm.feature.Get dom0 qubes-ephemeral.scrub-traces
QVM_EPHEMERAL_DOM0_ROOT=$R "$QVM" watch --retry 0.2 >"$T/watch-scrub.log" 2>&1 &
WATCH_PID=$!
check "watch says it is on" 0 "" -- wait_for grep -q "automatic scrub of disposables' dom0 traces is on" "$T/watch-scrub.log"
d=$(q admin.vm.CreateDisposable dvm); logs "$d"
q admin.vm.Start "$d" >/dev/null; q admin.vm.Shutdown "$d" >/dev/null
check "disposable $d deleted: its logs removed" 0 "" -- wait_for gone_logs "$d"
check "... said so in the service log" 0 "" -- wait_for grep -q "^removed $R/var/log/xen/console/guest-$d.log$" "$T/watch-scrub.log"
q admin.vm.Create.DispVM dom0 dvm "name=mydisp label=red" >/dev/null; logs mydisp
sleep 0.3
q admin.vm.Remove mydisp >/dev/null
check "named disposable removed: its logs removed" 0 "" -- wait_for gone_logs mydisp
q admin.vm.Create.AppVM dom0 debian-12 "name=scratch label=red" >/dev/null; logs scratch
sleep 0.3
q admin.vm.Remove scratch >/dev/null
sleep 1
check "a removed AppVM (not a disposable) keeps its logs" 0 "" -- test -f "$R/var/log/xen/console/guest-scratch.log"
check "running disposable untouched" 0 "" -- test -f "$R/var/log/xen/console/guest-disp42.log"
check "--auto-scrub off" 0 "^automatic scrub off" -- "$QVM" traces --auto-scrub off
check "watch follows the feature" 0 "" -- wait_for grep -q "automatic scrub of disposables' dom0 traces is off" "$T/watch-scrub.log"
d=$(q admin.vm.CreateDisposable dvm); logs "$d"
q admin.vm.Start "$d" >/dev/null; q admin.vm.Shutdown "$d" >/dev/null
sleep 1
check "off: a deleted disposable keeps its logs" 0 "" -- test -f "$R/var/log/xen/console/guest-$d.log"
check "--auto-scrub off twice is fine" 0 "" -- "$QVM" traces --auto-scrub off
kill -TERM "$WATCH_PID"; wait "$WATCH_PID"; WATCH_PID=
echo "     watch log:"; sed "s|$R||; s/^/     | /" "$T/watch-scrub.log"

echo "== qubesd unreachable: nothing listed, nothing removed"
dom0_server_stop
files >"$T/before"
check "refuses" 1 "cannot tell which qubes exist" -- env PATH=/usr/bin:/bin "$QVM" traces --root "$R" --all-disposables --scrub
is "no file touched" "$(files)" "$(cat "$T/before")"

summary
