#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the tests' minimal dom0 (tests/xen): brings up what `xl` needs
# (xenfs, xenstored, xenconsoled, backend modules), then runs /qe/plan.sh,
# which tests/xen/run.sh appended for this run, and powers the machine off.
# Everything the host reads is a console line starting with "XEN " or
# "G:NAME: " (a domain's console, from xenconsoled's log).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/usr/lib/xen-4.17/lib

say() { echo "XEN $*"; }
bye() { sync; say "dom0_done=yes"; poweroff -f; sleep 10; echo o >/proc/sysrq-trigger; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
rm -rf /var/run && ln -s /run /var/run
mkdir -p /run/xen /run/xenstored /var/log/xen/console /var/lib/xen /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
# the hotplug scripts read /dev/stdin etc.; without them `xl create` hangs
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
echo 1 >/proc/sys/kernel/printk 2>/dev/null

for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback virtio_pci virtio_blk; do
	modprobe "$m" 2>/dev/null || say "error=modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen || { say "error=cannot mount xenfs"; bye; }
xenstored --pid-file=/run/xenstored.pid || { say "error=xenstored did not start"; bye; }
xen-init-dom0 >/dev/null || say "error=xen-init-dom0 failed"
xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/run/xenconsoled.pid ||
	say "error=xenconsoled did not start"
if [ -n "${QE_TRACE_HOTPLUG:-}" ] || grep -q qe.trace /proc/cmdline; then
	mv /etc/xen/scripts/block /etc/xen/scripts/block.real
	printf '#!/bin/bash\nexec bash -x /etc/xen/scripts/block.real "$@" 2>>/var/log/xen/block-trace.log\n' >/etc/xen/scripts/block
	chmod 755 /etc/xen/scripts/block
fi
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
say "dom0_ready=yes uptime=$(cut -d' ' -f1 /proc/uptime) disks=$(ls /sys/block | grep -c '^vd')"

# "gone" when domain ID is not a domain any more, else "here". By domid, not
# by name: `xl domid NAME` (and any lookup by name) segfaults while another
# domain is being built side by side (libxl meets a domain without a name
# yet), and three such crashes in a row once made a running domain look gone.
# A look that dies of a signal does not count; 3 clean "no such domain" do.
# 20 crashes in a row: "gone" too, with the evidence (which binary, what xl sees).
dom_state() { # ID
	local n=0 k=0 rc
	while :; do
		rc=0
		xl list "$1" >/dev/null 2>&1 || rc=$?
		[ $rc = 0 ] && { echo here; return; }
		if [ $rc -lt 128 ]; then n=$((n + 1)); else k=$((k + 1)); fi
		[ $n -ge 3 ] && { echo gone; return; }
		if [ $k -ge 20 ]; then
			{
				say "error=xl list $1 crashed 20 times in a row (rc $rc)"
				dmesg | grep -i segfault | tail -3 | sed "s/^/XEN segv: /"
				xl list 2>&1 | sed "s/^/XEN xl-list: /"
				xenstore-ls -f /local/domain 2>&1 | grep -E '/name |/domid ' | sed "s/^/XEN xenstore: /"
			} >&2
			echo gone
			return
		fi
		sleep 1
	done
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
# -> XEN NAME create_rc=.. start_s=.. run_s=.. timeout=yes|no
qe_run() { # NAME CFG TIMEOUT [TEXT]
	local name=$1 cfg=$2 tmo=$3 text=$4 t0 t1 t2 rc=0 to=no id log=/var/log/xen/console/guest-$1.log
	t0=$(date +%s)
	# bounded: an HVM's `xl create` was seen waiting for its device model for good
	timeout -s KILL "${QE_CREATE_TIMEOUT:-300}" xl -v create "$cfg" >/var/log/xen/create-"$name".log 2>&1 || rc=$?
	t1=$(date +%s)
	id=$(dom_id "$name")
	echo "$id" >/run/domid-"$name"
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
	say "$name create_rc=$rc start_s=$((t1 - t0)) run_s=$((t2 - t1)) timeout=$to" \
		"inflate_errors=$(grep -c 'inflate failed' /var/log/xen/create-"$name".log)"
	if [ "$rc" != 0 ]; then
		sed "s/^/XEN $name xl: /" /var/log/xen/create-"$name".log | tail -20
		grep -v "^++++" /var/log/xen/xen-hotplug.log 2>/dev/null | sed "s/^/XEN hotplug: /" | tail -400
		sed "s/^/XEN trace: /" /var/log/xen/block-trace.log 2>/dev/null | tail -60
		sed "s/^/XEN $name qemu-dm: /" /var/log/xen/qemu-dm-"$name".log 2>/dev/null | tail -40
		ps | grep -E 'qemu|xl ' | grep -v grep | sed "s/^/XEN $name ps: /"
	fi
}

# Destroys NAME if it still runs, waits for its backends to let go.
qe_destroy() { # NAME
	local i=0 id
	id=$(cat /run/domid-"$1" 2>/dev/null)
	[ -n "$id" ] || return 0
	xl destroy "$id" 2>/dev/null
	while [ "$(dom_state "$id")" != gone ] && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
}

# The domain's console, for the host.
qe_console() { # NAME
	local log=/var/log/xen/console/guest-$1.log
	if [ -s "$log" ]; then
		sed "s/^/G:$1: /" "$log" | tr -d '\r'
	else
		say "$1 console_empty=yes"
		xl dmesg 2>/dev/null | tail -20 | sed "s/^/XEN $1 xl-dmesg: /"
	fi
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
qe_mem() { xl list "$(cat /run/domid-"$1")" 2>/dev/null | awk 'NR == 2 { print $3 }'; }

# Balloons NAME down to MIB (xl mem-set), waits until Xen shows it (at most 60 s).
qe_balloon() { # NAME MIB
	local before i=0
	before=$(qe_mem "$1")
	xl mem-set "$(cat /run/domid-"$1")" "$2"m
	while [ "$(qe_mem "$1")" -gt "$2" ] 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
	say "$1 balloon_before_mib=$before balloon_after_mib=$(qe_mem "$1") balloon_s=$i"
}

if [ -f /qe/plan.sh ]; then
	. /qe/plan.sh
else
	say "error=no /qe/plan.sh"
fi
bye
