#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Tests dom0-lib.sh (the functions of tests/xen's dom0) on the host, under
# busybox sh as in dom0: two lanes dumping whole domain consoles at once and
# a third saying short lines must give only whole lines, each console
# complete (CI once lost xen-pvh's GUEST lines to a dump cut mid-line by the
# other lane's); what Xen logged is filtered to the domain; an empty console
# is said; a domain is gone only when a whole listing lacks it; why Xen shut
# a domain down; a domain killed by QEMU's nested-SVM emulation fault
# starts again (at most QE_FAULT_TRIES times), one whose kernel reported its
# own failure first not.
# Fast tier. Ends with "N passed, N failed".
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAILED: $1"; fail=$((fail + 1)); }
BB=$(command -v busybox) || { echo "busybox is missing: apt-get install busybox-static"; echo "0 passed, 1 failed"; exit 1; }
command -v flock >/dev/null || { echo "flock is missing: apt-get install util-linux"; echo "0 passed, 1 failed"; exit 1; }
T=$(mktemp -d /tmp/qe-dom0-lib.XXXXXX) || { echo "cannot make a temp folder"; echo "0 passed, 1 failed"; exit 1; }
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/console" "$T/run" "$T/bin"

# two consoles of 4000 lines (CRLF, as xenconsoled writes them), about 400 KiB each
for n in a b; do
	awk -v n="$n" 'BEGIN { for (i = 0; i < 4000; i++) printf "[%8d.%06d] console of %s line %d: some kernel text to make it long enough %s\r\n", i, i, n, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxx" }' >"$T/console/guest-$n.log"
done
echo 3 >"$T/run/domid-a"
echo 4 >"$T/run/domid-b"
# xl of the test: "dmesg" is Xen's log with lines of domains 3 and 4
# and "list" lists domain 3 when $T/run/alive-3 exists, but fails for one
# domain asked by ID (as a lookup may while another domain is torn down)
cat >"$T/bin/xl" <<EOF
#!/bin/sh
case "\$1 \${2:-}" in
"dmesg ") printf '(XEN) d3v0 Triple fault - invoking HVM shutdown action 1\\n(XEN) d4v0 something of domain 4\\n(XEN) a line of no domain\\n' ;;
"list ") echo "Name ID Mem VCPUs State Time(s)"; echo "Domain-0 0 512 1 r----- 10.0"
	[ -e "$T/run/alive-3" ] && echo "xen-pvh 3 400 1 -b---- 5.0"; exit 0 ;;
*) exit 1 ;;
esac
EOF
chmod 755 "$T/bin/xl"

# COMMAND... in busybox sh with dom0-lib.sh sourced and its folders in $T;
# BIN_DIR holds the test's xl
dom0_sh() { # BIN_DIR XEN_LOG_DIR COMMAND...
	local bin=$1 xlog=$2
	shift 2
	QE_CONSOLE_DIR=$T/console QE_CONSOLE_LOCK=$T/run/lock QE_RUN_DIR=$T/run QE_XEN_LOG_DIR=$xlog \
		PATH=$bin:$PATH "$BB" sh -c '. "$1"; shift; "$@"' sh "$DIR/dom0-lib.sh" "$@"
}

dom0_sh "$T/bin" "$T/xl" eval 'qe_console a & qe_console b &
	i=0; while [ $i -lt 300 ]; do say "lane-c line=$i"; i=$((i + 1)); done &
	wait
	qe_console c' | cat >"$T/out"

strange=$(grep -cvE '^(G:[ab]: \[ *[0-9]+\.[0-9]{6}\] console of [ab] line [0-9]+: some kernel text to make it long enough x{28}|XEN .*)$' "$T/out")
[ "$strange" = 0 ] && ok "only whole lines on the shared console" ||
	bad "$strange lines cut or mixed, e.g.: $(grep -vE '^(G:[ab]: |XEN )' "$T/out" | head -1 | cut -c1-120)"
for n in a b; do
	if sed -n "s/^G:$n: //p" "$T/out" | cmp -s - <(tr -d '\r' <"$T/console/guest-$n.log"); then
		ok "console of $n complete, in order, without CR"
	else
		bad "console of $n differs from its log ($(grep -c "^G:$n: " "$T/out") of 4000 lines)"
	fi
done
[ "$(grep -c '^XEN lane-c line=' "$T/out")" = 300 ] && ok "the said lines all there" ||
	bad "said lines: $(grep -c '^XEN lane-c line=' "$T/out") of 300"
grep -qx 'XEN a xl-dmesg: (XEN) d3v0 Triple fault - invoking HVM shutdown action 1' "$T/out" &&
	! grep -q '^XEN a xl-dmesg: .*d4v0' "$T/out" && ok "Xen's log for a: its own lines only" ||
	bad "Xen's log for a: $(grep '^XEN a xl-dmesg' "$T/out" | tr '\n' '|')"
grep -qx 'XEN c console_empty=yes' "$T/out" && [ "$(grep -c '^XEN c xl-dmesg: ' "$T/out")" = 3 ] &&
	ok "an empty console is said, with Xen's last lines" || bad "empty console: $(grep '^XEN c ' "$T/out" | tr '\n' '|')"

# a domain is gone only when a whole listing lacks it, not when a lookup fails
lib() { dom0_sh "$T/bin" "$T/xl" "$@"; }
touch "$T/run/alive-3"
[ "$(lib dom_state 3)" = here ] && ok "a listed domain is here (though xl list 3 fails)" || bad "a listed domain looked gone"
rm "$T/run/alive-3"
[ "$(lib dom_state 3)" = gone ] && ok "an unlisted domain is gone" || bad "an unlisted domain did not look gone"
# why Xen shut a domain down, from the xl daemon's log
mkdir -p "$T/xl"
printf 'Waiting for domain a (domid 3) to die [pid 9]\nDomain 3 has shut down, reason code 3 0x3\nAction for shutdown reason code 3 is destroy\n' >"$T/xl/xl-a.log"
printf 'Domain 4 has shut down, reason code 0 0x0\n' >"$T/xl/xl-b.log"
[ "$(lib dom_shutdown_reason a) $(lib dom_shutdown_reason b) $(lib dom_shutdown_reason c)" = "crash poweroff none" ] &&
	ok "shutdown reasons: crash, poweroff, none" ||
	bad "shutdown reasons: $(lib dom_shutdown_reason a) $(lib dom_shutdown_reason b) $(lib dom_shutdown_reason c)"

# a domain killed by QEMU's nested-SVM emulation fault (Xen's dump shows its
# own RIP, code segment e008, or the guest's own RIP with no failure report
# of its kernel on the console) is started again, up to QE_FAULT_TRIES
# starts; a triple fault after the guest's kernel reported a BUG, and a
# plain reboot, are not
mkdir -p "$T/b2" "$T/x2"
# the xl of this test: create gives domids 7, 8, ... and a console line;
# each domain's xl daemon logs a reboot or a poweroff and Xen's log what
# killed it, by name: "tf" dies of the emulation fault on its first two
# starts, "always" on every start, "guest" of a triple fault after its
# kernel's BUG report, "early" of one before its console came up (once),
# "late" of one after ordinary console lines (once), "plain" reboots;
# the domains are gone at once
cat >"$T/b2/xl" <<EOF
#!/bin/sh
n=\$(cat "$T/x2/n" 2>/dev/null || echo 6)
case "\$1" in
-v) n=\$((n + 1)); echo \$n >"$T/x2/n"; name=\$(basename "\$3" .cfg)
	c=\$((\$(cat "$T/x2/c-\$name" 2>/dev/null || echo 0) + 1)); echo \$c >"$T/x2/c-\$name"
	code=1 rip=
	case \$name in
	tf) if [ \$c -le 2 ]; then rip=e008:ffff82d0402044a5; else code=0; fi ;;
	always) rip=e008:ffff82d0402044a5 ;;
	guest) rip=0010:ffffffff81000000 ;;
	early) if [ \$c = 1 ]; then rip=0010:ffffffff8103b152; else code=0; fi ;;
	late) if [ \$c = 1 ]; then rip=0010:ffffffff8106a13b; else code=0; fi ;;
	esac
	if [ "\$name" = early ] && [ \$c = 1 ]; then : >"$T/console/guest-\$name.log"
	else echo "early line of domain \$n" >"$T/console/guest-\$name.log"; fi
	[ "\$name" = guest ] && echo "[    9.1] BUG: unable to handle page fault for address: 0000000000000008" >>"$T/console/guest-\$name.log"
	echo "Domain \$n has shut down, reason code \$code 0x\$code" >>"$T/x2/xl-\$name.log"
	[ -n "\$rip" ] && printf '(XEN) d%sv0 Triple fault - invoking HVM shutdown action 1\n(XEN) *** Dumping Dom%s vcpu#0 state: ***\n(XEN) ----[ Xen-4.17.7  x86_64  debug=n  Not tainted ]----\n(XEN) CPU:    0\n(XEN) RIP:    %s\n(XEN) RFLAGS: 0000000000000246   CONTEXT: hvm guest (d%sv0)\n' \$n \$n "\${rip%%:*}:[<\${rip#*:}>]" \$n >>"$T/x2/dmesg" ;;
domid) echo \$n ;;
list) echo "Name ID Mem VCPUs State Time(s)"; echo "Domain-0 0 512 1 r----- 10.0" ;;
dmesg) cat "$T/x2/dmesg" 2>/dev/null ;;
esac
exit 0
EOF
chmod 755 "$T/b2/xl"
run2() { dom0_sh "$T/b2" "$T/x2" "$@" 2>&1; }
out=$(run2 qe_run tf /qe/tf.cfg 60)
if grep -q '^XEN tf try1 triple_fault=yes emulation_fault=yes domid=7 ' <<<"$out" &&
	grep -q '^XEN tf try2 triple_fault=yes emulation_fault=yes domid=8 ' <<<"$out" &&
	grep -q '^XEN tf create_rc=0 .* shutdown=poweroff tries=3$' <<<"$out" &&
	grep -qx 'XEN tf try1-console: early line of domain 7' <<<"$out" &&
	grep -qx 'XEN tf try2-xl-dmesg: (XEN) RIP:    e008:\[<ffff82d0402044a5>\]' <<<"$out" &&
	[ "$(cat "$T/console/guest-tf.log")" = "early line of domain 9" ]; then
	ok "a domain killed by the emulation fault twice is started a third time, each try said"
else
	bad "emulation-fault retry: $(tr '\n' '|' <<<"$out")"
fi
out=$(run2 qe_run always /qe/always.cfg 60)
[ "$(grep -c '^XEN always try[0-9] triple_fault=yes' <<<"$out")" = 4 ] &&
	grep -q '^XEN always create_rc=0 .* shutdown=reboot tries=5$' <<<"$out" &&
	ok "at most QE_FAULT_TRIES (5) starts, the last fault stands" || bad "always faulting: $(tr '\n' '|' <<<"$out")"
out=$(run2 qe_run guest /qe/guest.cfg 60)
grep -q '^XEN guest create_rc=0 .* shutdown=reboot tries=1$' <<<"$out" && ! grep -q try1 <<<"$out" &&
	ok "a triple fault of the guest itself (its own RIP, its kernel's BUG report before) is not retried" || bad "guest triple fault: $(tr '\n' '|' <<<"$out")"
out=$(run2 qe_run late /qe/late.cfg 60)
grep -q '^XEN late try1 triple_fault=yes .* console_lines=1; ' <<<"$out" && grep -q '^XEN late create_rc=0 .* shutdown=poweroff tries=2$' <<<"$out" &&
	ok "a late triple fault with the guest's RIP and no failure report before it is retried" || bad "late triple fault: $(tr '\n' '|' <<<"$out")"
out=$(run2 qe_run early /qe/early.cfg 60)
grep -q '^XEN early try1 triple_fault=yes .* console_lines=0; ' <<<"$out" && grep -q '^XEN early create_rc=0 .* shutdown=poweroff tries=2$' <<<"$out" &&
	ok "a triple fault before the guest's console came up (its own RIP) is retried" || bad "early triple fault: $(tr '\n' '|' <<<"$out")"
out=$(run2 qe_run plain /qe/plain.cfg 60)
grep -q '^XEN plain create_rc=0 .* shutdown=reboot tries=1$' <<<"$out" && ! grep -q try1 <<<"$out" &&
	ok "a reboot without a triple fault is not retried" || bad "plain reboot: $(tr '\n' '|' <<<"$out")"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
