#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /sbin/init of the benchmark's root image (busybox sh, pid 1).
#
# 1. Reads the boot-time kernel trace (trace_event=sched:sched_process_exec,
#    sched:sched_process_fork on the command line) and reports, for the
#    initramfs' /init: the time from its exec to the exec of /sbin/init, the
#    processes its tree forked, the programs it exec'ed, and the user-mode
#    helpers the kernel forked meanwhile (request_module). Same ruler for our
#    init and the baseline.
# 2. Workloads selected by bench.* words on the command line:
#    bench.mem=M1:M2:...   write M1, then up to M2 ... MiB to /rw (O_DIRECT,
#                          distinct blocks); /proc/meminfo and dm-bufio after each
#    bench.fio=V1:V2:...   fio on stacks built with dmsetup on the scratch disk vde
#                          (VARIANT = crypt4k|crypt512|plain [-nowq] -BLOCKKiB)
#    bench.fio_mib=N bench.fio_s=S  sequential size and random runtime
#    bench.fill=1          keep writing /rw until the first error
# Prints "GUEST key=value" lines and powers off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
say() { echo "GUEST $*"; }
off() { sync; say "poweroff"; poweroff -f; sleep 5; echo o >/proc/sysrq-trigger; exit 1; }
ismounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts 2>/dev/null; }

[ -r /proc/mounts ] || mount -t proc proc /proc
ismounted /sys || mount -t sysfs sysfs /sys
ismounted /dev || mount -t devtmpfs devtmpfs /dev
ismounted /run || mount -t tmpfs -o mode=755 tmpfs /run
T=/sys/kernel/tracing
ismounted $T || mount -t tracefs tracefs $T 2>/dev/null
if [ -r $T/trace ]; then
	echo 0 >$T/tracing_on
	awk '
	function val(k,   i) { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
	function ts(   i) { for (i = 1; i <= NF; i++) if ($i ~ /^sched_process_/) { t = $(i - 1); sub(/:$/, "", t); return t + 0 } }
	BEGIN { tree[1] = 1 }
	/sched_process_exec:/ {
		p = val("pid"); f = val("filename")
		if (p == 1 && f == "/init" && start == "") start = ts()
		else if (p == 1 && f == "/sbin/init" && start != "" && end == "") end = ts()
		else if (start != "" && end == "" && (p in tree)) execs++
	}
	/sched_process_fork:/ {
		if (start == "" || end != "") next
		p = val("pid"); c = val("child_pid"); pc = val("comm")
		if (p in tree) { tree[c] = 1; forks++ }
		else if (pc ~ /^kworker/) umh++
	}
	END {
		if (start == "" || end == "") { print "GUEST trace=incomplete"; exit }
		printf "GUEST trace=ok init_us=%d init_forks=%d init_execs=%d kernel_helpers=%d\n",
			(end - start) * 1000000, forks, execs, umh
	}' $T/trace
else
	say "trace=unavailable"
fi

mem='' fio='' fill='' fio_mib=256 fio_s=10
# shellcheck disable=SC2013
for w in $(cat /proc/cmdline); do
	case $w in
	bench.mem=*) mem=${w#bench.mem=} ;;
	bench.fio=*) fio=${w#bench.fio=} ;;
	bench.fio_mib=*) fio_mib=${w#bench.fio_mib=} ;;
	bench.fio_s=*) fio_s=${w#bench.fio_s=} ;;
	bench.fill=1) fill=1 ;;
	esac
done
[ -n "$mem$fio$fill" ] || off

st=/run/qubes-ephemeral/ephemeral-status
pool_line() { [ -x $st ] && $st 2>/dev/null | sed -n 's/^pool: .*(\([0-9]*\) of \([0-9]*\) bytes).*/\1 \2/p'; }

# /rw: ours (thin device), the community snapshot, or the disk itself
rwdev=/dev/vdb
for d in /dev/mapper/ephemeral-private /dev/mapper/dmhome; do [ -b $d ] && { rwdev=$d; break; }; done
mkdir -p /rw
mount -t ext4 -o noatime "$rwdev" /rw || { say "error=cannot mount $rwdev on /rw"; off; }
say "rw_dev=$rwdev"
# what can still be written, as the stack reports it (for the computed figure 4)
pl=$(pool_line)
if [ -n "$pl" ]; then
	set -- $pl
	say "pool_used=$1 pool_total=$2 pool_free=$(($2 - $1))"
fi
[ -r /sys/class/block/vdc2/size ] && [ "$rwdev" = /dev/mapper/dmhome ] &&
	say "cow_bytes=$(( $(cat /sys/class/block/vdc2/size) * 512 ))"

written=0   # MiB written to /rw so far (files, O_DIRECT)
first_error=''
# writes N MiB to a new file; adds what was written to $written; 1 on error
write_rw() { # N
	n=$((n_files + 0)); n_files=$((n + 1))
	out=$(dd if=/dev/zero of=/rw/bench.$n bs=1M count="$1" oflag=direct 2>&1)
	rc=$?
	recs=$(echo "$out" | sed -n 's/^\([0-9]*\)+[0-9]* records out.*/\1/p' | head -1)
	written=$((written + ${recs:-0}))
	[ $rc -eq 0 ] && [ "${recs:-0}" -eq "$1" ] && return 0
	[ -n "$first_error" ] || first_error=$(echo "$out" | grep -v records | head -1 | tr ' ' _)
	return 1
}
meminfo() { awk '$1 == "Slab:" { s = $2 } $1 == "SUnreclaim:" { u = $2 } END { print s + 0, u + 0 }' /proc/meminfo; }
bufio() { cat /sys/module/dm_bufio/parameters/current_allocated_bytes 2>/dev/null || echo 0; }

if [ -n "$mem" ]; then
	# distinct 8 KiB blocks (the snapshot's chunk) in random order, each once
	# (fio's random map), so dm-snapshot cannot merge consecutive exceptions
	sync
	set -- $(meminfo)
	say "mem_mib=0 slab_kib=$1 sunreclaim_kib=$2 bufio_bytes=$(bufio)"
	k=0
	for target in $(echo "$mem" | tr : ' '); do
		k=$((k + 1))
		err=$(fio --name=mem --filename=/rw/mem.$k --size=$((target - written))M --rw=randwrite --bs=8k \
			--direct=1 --ioengine=libaio --iodepth=16 --output-format=terse --terse-version=3 2>&1 |
			awk -F';' 'NF > 50 { print $5 }')
		[ "$err" = 0 ] || { say "error=mem fio failed at $written MiB: ${err:-no output}"; break; }
		written=$target
		sync
		set -- $(meminfo)
		say "mem_mib=$written slab_kib=$1 sunreclaim_kib=$2 bufio_bytes=$(bufio)"
	done
fi

dm() { # NAME TABLE: create and make its /dev/mapper node (no udev here)
	echo "$2" | dmsetup create --noudevsync "$1" 2>/run/dm.err && dmsetup mknodes "$1" 2>>/run/dm.err
}
dm_clean() { for d in bthin bpool bdata bmeta bcrypt; do dmsetup remove --noudevsync $d 2>/dev/null; done; }
# a stack on the scratch disk vde, as ephemeral-init builds it (crypt, linear
# metadata + data, thin-pool with error_if_no_space, a thin with external
# origin vdf: a second read-only copy of the private image), with the variant's options; fio on the thin device
fio_variant() { # VARIANT
	v=$1 kind=${1%%-*} flags='' blk=${1##*-}
	case $v in *-nowq-*) flags="no_read_workqueue no_write_workqueue" ;; esac
	blk_sectors=$(( ${blk%k} * 2 ))
	sectors=$(cat /sys/class/block/vde/size)
	case $kind in
	plain) table="0 $sectors linear /dev/vde 0" ;;
	crypt4k|crypt512)
		key=$(od -An -tx1 -N64 /dev/urandom | tr -d ' \n')
		nopt=$(echo "allow_discards $flags" | wc -w)
		if [ "$kind" = crypt4k ]; then
			sectors=$((sectors / 8 * 8))
			table="0 $sectors crypt aes-xts-plain64 $key 0 /dev/vde 0 $((nopt + 1)) allow_discards $flags sector_size:4096"
		else
			table="0 $sectors crypt aes-xts-plain64 $key 0 /dev/vde 0 $nopt allow_discards $flags"
		fi ;;
	*) say "error=unknown fio variant $v"; return 1 ;;
	esac
	meta=32768   # 16 MiB of metadata from 1 MiB
	data=$(( (sectors - 2048 - meta) / blk_sectors * blk_sectors ))
	if ! dm bcrypt "$table" || ! dm bmeta "0 $meta linear /dev/mapper/bcrypt 2048" ||
		! dd if=/dev/zero of=/dev/mapper/bmeta bs=4096 count=1 conv=fsync 2>/dev/null ||
		! dm bdata "0 $data linear /dev/mapper/bcrypt $((2048 + meta))" ||
		! dm bpool "0 $data thin-pool /dev/mapper/bmeta /dev/mapper/bdata $blk_sectors 0 1 error_if_no_space" ||
		! dmsetup message bpool 0 "create_thin 0" ||
		! dm bthin "0 $(cat /sys/class/block/vdf/size) thin /dev/mapper/bpool 0 /dev/vdf"; then
		say "error=fio_$v:_stack_not_built:_$(tr ' ' _ </run/dm.err | head -c 200)"
		dm_clean
		return 1
	fi
	key='' table=''
	seq=$(fio --name=seq --filename=/dev/mapper/bthin --rw=write --bs=1M --size="${fio_mib}M" \
		--direct=1 --ioengine=libaio --iodepth=4 --output-format=terse --terse-version=3 2>&1 |
		awk -F';' 'NF > 50 { print $48 }')
	rnd=$(fio --name=rnd --filename=/dev/mapper/bthin --rw=randwrite --bs=4k --offset="${fio_mib}M" \
		--size="${fio_mib}M" --time_based --runtime="$fio_s" --direct=1 --ioengine=libaio --iodepth=16 \
		--randrepeat=0 --output-format=terse --terse-version=3 2>&1 | awk -F';' 'NF > 50 { print $49 }')
	say "fio variant=$v seq_kibs=${seq:-none} rand_iops=${rnd:-none}"
	dm_clean
}
if [ -n "$fio" ]; then
	if [ -b /dev/vde ] && [ -b /dev/vdf ] && command -v fio >/dev/null && command -v dmsetup >/dev/null; then
		for v in $(echo "$fio" | tr : ' '); do fio_variant "$v"; done
	else
		say "error=fio needs /dev/vde (scratch), /dev/vdf (origin), fio and dmsetup"
	fi
fi

if [ -n "$fill" ]; then
	t0=$(date +%s)
	while write_rw 256; do :; done
	sync
	say "fill_mib=$written fill_error=${first_error:-none} fill_s=$(( $(date +%s) - t0 ))"
fi
pl=$(pool_line)
[ -n "$pl" ] && say "pool_end=$(echo "$pl" | tr ' ' /)"
say "done=yes"
off
