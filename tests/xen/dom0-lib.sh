#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The functions of the tests' minimal dom0 (tests/xen), sourced by its /init
# (dom0-init.sh) and by this run's /qe/plan.sh. Apart from the init so that
# the host can test them (tests/xen/dom0-lib-test.sh).

QE_CONSOLE_DIR=${QE_CONSOLE_DIR:-/var/log/xen/console}
QE_CONSOLE_LOCK=${QE_CONSOLE_LOCK:-/run/qe-console.lock}
QE_RUN_DIR=${QE_RUN_DIR:-/run} # its domid-NAME files
QE_XEN_LOG_DIR=${QE_XEN_LOG_DIR:-/var/log/xen} # xl-NAME.log (the xl daemon of each domain), create-NAME.log, ...
# starts a domain gets when QEMU's nested SVM, not the guest, kills it
# (dom_emulation_fault): CI saw one domain die so twice in a row; an
# early one costs 10-20 s
QE_FAULT_TRIES=${QE_FAULT_TRIES:-5}

# Everything dom0 tells the host goes to one console, from the plan's two
# lanes at once. A whole domain console written in 4 KiB blocks met the other
# lane's lines mid-line (CI: xen-pvh's GUEST lines were cut and lost), so
# every writer holds this lock for all it writes.
qe_locked() { # COMMAND...: runs it holding the console lock
	{ flock 8 || echo "XEN error=cannot lock $QE_CONSOLE_LOCK"; "$@"; } 8>>"$QE_CONSOLE_LOCK"
}

say() { qe_locked echo "XEN $*"; }

xl_crash_evidence() { # ID RC
	echo "XEN error=xl list $1 crashed 20 times in a row (rc $2)"
	dmesg | grep -i segfault | tail -3 | sed "s/^/XEN segv: /"
	xl list 2>&1 | sed "s/^/XEN xl-list: /"
	xenstore-ls -f /local/domain 2>&1 | grep -E '/name |/domid ' | sed "s/^/XEN xenstore: /"
}

# "gone" when domain ID is not a domain any more, else "here". By domid, not
# by name: `xl domid NAME` (and any lookup by name) segfaults while another
# domain is being built side by side (libxl meets a domain without a name
# yet), and three such crashes in a row once made a running domain look gone.
# Only a whole listing that worked and lacks the domid counts (3 of them):
# `xl list ID` failing (CI: xen-pvh "gone" after 21 s, in the second xen-pv
# was torn down beside it, console cut after the init's first lines) does not.
# 20 failed listings in a row: "gone" too, with the evidence (which binary, what xl sees).
dom_state() { # ID
	local n=0 k=0 rc out
	while :; do
		rc=0
		out=$(xl list 2>/dev/null) || rc=$?
		if [ $rc = 0 ]; then
			echo "$out" | awk -v id="$1" 'NR > 1 && $2 == id { f = 1 } END { exit !f }' && { echo here; return; }
			n=$((n + 1))
			[ $n -ge 3 ] && { echo gone; return; }
		else
			k=$((k + 1))
			if [ $k -ge 20 ]; then
				qe_locked xl_crash_evidence "$1" "$rc" >&2
				echo gone
				return
			fi
		fi
		sleep 1
	done
}

# Why Xen shut NAME down, from its xl daemon's log: poweroff, reboot,
# suspend, crash (a triple fault, say), watchdog, soft_reset; none if unknown.
dom_shutdown_reason() { # NAME
	local c
	c=$(sed -n 's/.*has shut down, reason code \([0-9]*\).*/\1/p' "$QE_XEN_LOG_DIR"/xl-"$1".log 2>/dev/null | tail -1)
	case $c in
	0) echo poweroff ;; 1) echo reboot ;; 2) echo suspend ;; 3) echo crash ;;
	4) echo watchdog ;; 5) echo soft_reset ;; *) echo none ;;
	esac
}

# The domid of NAME (empty if none): retried, lookups by name can crash (above).
dom_id() { # NAME
	local i=0 id
	while [ $i -lt 5 ]; do
		id=$(xl domid "$1" 2>/dev/null) && [ -n "$id" ] && { echo "$id"; return; }
		i=$((i + 1))
		sleep 1
	done
}

# Starts NAME from CFG and waits until it is gone (or TIMEOUT s: destroyed).
# With a TEXT, returns as soon as the domain's console shows it (it keeps running).
# A domain killed by an emulation fault (dom_emulation_fault) is started
# again, up to QE_FAULT_TRIES starts; each such try is said as "XEN NAME tryN..." lines.
# -> XEN NAME create_rc=.. start_s=.. run_s=.. timeout=yes|no inflate_errors=.. shutdown=.. tries=N
qe_run() { # NAME CFG TIMEOUT [TEXT]
	local name=$1 cfg=$2 tmo=$3 text=$4 t0 t1 t2 rc to id try=1 log=$QE_CONSOLE_DIR/guest-$1.log
	while :; do
		rc=0 to=no
		t0=$(date +%s)
		# bounded: an HVM's `xl create` was seen waiting for its device model for good
		timeout -s KILL "${QE_CREATE_TIMEOUT:-300}" xl -v create "$cfg" >"$QE_XEN_LOG_DIR"/create-"$name".log 2>&1 || rc=$?
		t1=$(date +%s)
		id=$(dom_id "$name")
		echo "$id" >"$QE_RUN_DIR"/domid-"$name"
		# a failed create leaves nothing to wait for (qe_destroy removes what is left)
		while [ -n "$id" ] && [ "$rc" = 0 ]; do
			if [ -n "$text" ] && grep -q "$text" "$log" 2>/dev/null; then break; fi
			[ "$(dom_state "$id")" = gone ] && break
			if [ $(($(date +%s) - t1)) -ge "$tmo" ]; then
				to=yes
				xl destroy "$id" 2>/dev/null
				break
			fi
			sleep 1
		done
		t2=$(date +%s)
		[ "$try" -lt "$QE_FAULT_TRIES" ] && [ "$rc" = 0 ] && [ $to = no ] && [ -n "$id" ] &&
			dom_emulation_fault "$name" "$id" || break
		qe_locked triple_fault_evidence "$name" "$id" "$((t2 - t1))" "$try"
		try=$((try + 1))
	done
	say "$name create_rc=$rc start_s=$((t1 - t0)) run_s=$((t2 - t1)) timeout=$to" \
		"inflate_errors=$(grep -c 'inflate failed' "$QE_XEN_LOG_DIR"/create-"$name".log)" \
		"shutdown=$(dom_shutdown_reason "$name") tries=$try"
	[ "$rc" = 0 ] || qe_locked create_failure_evidence "$name"
}

# Domain ID (NAME) was killed by QEMU's emulation of nested SVM, not by its
# own code: Xen rebooted it (our domains never reboot: on_reboot destroy)
# for a triple fault, and either
#  - the vCPU state Xen dumped is Xen's own: RIP in Xen's code segment
#    (e008) just after its VMRUN, rax the VMCB's address: the guest's VMCB
#    held the host's registers and the guest ran Xen's address (early in
#    the kernel's boot, in its PIT calibration loop); or
#  - the guest's own RIP, and its console has no sign of its kernel failing
#    first (no panic, oops, BUG or trap report): seen early in that same
#    loop with an empty console (1 of 9 PVH starts) and once late, in an
#    interrupt handler's x2APIC EOI write (wrmsr 0x80b, every other
#    general register 0) while the guest script ran. A Linux guest that
#    fails on its own reports it (an oops, a panic) before it can
#    triple-fault; such a domain is not started again, and neither is one
#    that merely rebooted. Everything of ours in the guest is userspace.
# Seen mostly with another domain busy beside it (README.md, gotchas).
dom_emulation_fault() { # NAME ID
	local dump
	[ "$(dom_shutdown_reason "$1")" = reboot ] || return 1
	dump=$(dom_fault_dump "$2")
	[ -n "$dump" ] || return 1
	echo "$dump" | grep -qE 'RIP: +e008:' && return 0
	! grep -qE "$QE_KERNEL_FAILURE" "$QE_CONSOLE_DIR/guest-$1.log" 2>/dev/null
}

# What a guest kernel prints when it fails on its own (dom_emulation_fault).
QE_KERNEL_FAILURE='Kernel panic|Oops|BUG: |double fault|general protection fault|invalid opcode|stack segment|kernel stack overflow'

# Xen's "dIDvN Triple fault" line for domain ID and the RIP line of the
# vCPU dump after it (within 10 lines); nothing if Xen logged no such fault.
dom_fault_dump() { # ID
	xl dmesg 2>/dev/null | awk -v re="[ )]d$1v[0-9]+ Triple fault" '
		$0 ~ re { w = 1; n = 0; print; next }
		w && /RIP:/ { print; w = 0 }
		w && ++n > 10 { w = 0 }'
}

# Try TRY's console and Xen's lines for it (the fault and the RIP it
# dumped), then its logs moved aside: the next try's console and xl daemon
# log start empty.
triple_fault_evidence() { # NAME ID RUN_S TRY
	echo "XEN $1 try$4 triple_fault=yes emulation_fault=yes domid=$2 try$4_run_s=$3 console_lines=$(wc -l <"$QE_CONSOLE_DIR/guest-$1.log" 2>/dev/null || echo 0); starting it again"
	tail -5 "$QE_CONSOLE_DIR/guest-$1.log" 2>/dev/null | tr -d '\r' | sed "s/^/XEN $1 try$4-console: /"
	dom_fault_dump "$2" | tail -2 | sed "s/^/XEN $1 try$4-xl-dmesg: /"
	mv -f "$QE_CONSOLE_DIR/guest-$1.log" "$QE_CONSOLE_DIR/guest-$1.try$4" 2>/dev/null
	mv -f "$QE_XEN_LOG_DIR/xl-$1.log" "$QE_XEN_LOG_DIR/xl-$1.try$4" 2>/dev/null
}

create_failure_evidence() { # NAME
	sed "s/^/XEN $1 xl: /" "$QE_XEN_LOG_DIR"/create-"$1".log | tail -20
	grep -v "^++++" "$QE_XEN_LOG_DIR"/xen-hotplug.log 2>/dev/null | sed "s/^/XEN hotplug: /" | tail -400
	sed "s/^/XEN trace: /" "$QE_XEN_LOG_DIR"/block-trace.log 2>/dev/null | tail -60
	sed "s/^/XEN $1 qemu-dm: /" "$QE_XEN_LOG_DIR"/qemu-dm-"$1".log 2>/dev/null | tail -40
	ps | grep -E 'qemu|xl ' | grep -v grep | sed "s/^/XEN $1 ps: /"
}

# Destroys NAME if it still runs, waits for its backends to let go.
qe_destroy() { # NAME
	local i=0 id
	id=$(cat "$QE_RUN_DIR"/domid-"$1" 2>/dev/null)
	[ -n "$id" ] || return 0
	xl destroy "$id" 2>/dev/null
	while [ "$(dom_state "$id")" != gone ] && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
}

# The domain's console, for the host ("G:NAME: " lines), and what Xen
# logged about the domain (a triple fault, say: "XEN NAME xl-dmesg: " lines).
qe_console() { # NAME
	qe_locked console_lines "$1"
}

console_lines() { # NAME
	local log=$QE_CONSOLE_DIR/guest-$1.log id
	id=$(cat "$QE_RUN_DIR"/domid-"$1" 2>/dev/null)
	if [ -s "$log" ]; then
		sed "s/^/G:$1: /" "$log" | tr -d '\r'
	else
		echo "XEN $1 console_empty=yes"
		id=
	fi
	# the last 20 lines, or those naming the domain (d<ID>v<vCPU>)
	xl dmesg 2>/dev/null | grep -E "${id:+d${id}v}" | tail -20 | sed "s/^/XEN $1 xl-dmesg: /"
}

# Marker copies in dom0's view of the disks (blkback bypasses dom0's page cache: drop it).
qe_scan() { # NAME SEED DEV...
	local name=$1 seed=$2 t0 out
	shift 2
	t0=$(date +%s)
	sync
	echo 3 >/proc/sys/vm/drop_caches
	out=$(qescan "$seed" "$@" | awk '{ sub(/^\/dev\//, "", $1); sub(/copies=/, "", $2); printf "%s=%s ", $1, $2 }')
	say "$name dom0_scan $out"
	say "$name scan_s=$(($(date +%s) - t0))"
}

# Memory in MiB Xen gives NAME now.
qe_mem() { xl list "$(cat "$QE_RUN_DIR"/domid-"$1")" 2>/dev/null | awk 'NR == 2 { print $3 }'; }

# Balloons NAME down to MIB (xl mem-set), waits until Xen shows it (at most 60 s).
qe_balloon() { # NAME MIB
	local before i=0
	before=$(qe_mem "$1")
	xl mem-set "$(cat "$QE_RUN_DIR"/domid-"$1")" "$2"m
	while [ "$(qe_mem "$1")" -gt "$2" ] 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
	say "$1 balloon_before_mib=$before balloon_after_mib=$(qe_mem "$1") balloon_s=$i"
}
