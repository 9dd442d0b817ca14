#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /sbin/init of the tests/vm root image (busybox sh, runs as pid 1).
#
# Writes a unique marker (>= 1 MiB each) to /, /rw, /home/user, /tmp and
# /var/log, pushes marker pages into swap, reports on the console with lines
# "GUEST key=value", and powers off (with qe.hold=1: keeps writing marker
# until the host kills QEMU). The marker is derived from qe.seed=SEED
# on the kernel command line (sha256), so neither the kernel's echo of its
# command line nor anything this script prints ever contains the marker.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

say() { echo "GUEST $*"; }
off() { sync; say "poweroff"; poweroff -f; sleep 5; echo o >/proc/sysrq-trigger; exit 1; }

ismounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts 2>/dev/null; }

# proc/sys/dev/run are moved in from the initramfs: mount only what is missing
[ -r /proc/mounts ] || mount -t proc proc /proc
ismounted /sys || mount -t sysfs sysfs /sys
ismounted /dev || mount -t devtmpfs devtmpfs /dev
ismounted /run || mount -t tmpfs -o mode=755 tmpfs /run
for m in /proc /sys /dev /run; do
	ismounted $m && say "api_mount $m=present"
done
say "userspace=yes"
# Xen's balloon driver: does it wipe pages before giving them back? (Qubes' init sets 1)
say "scrub_pages=$(cat /sys/devices/system/xen_memory/xen_memory0/scrub_pages 2>/dev/null || echo none)"

seed='' hold='' exhaust='' discard='' dump='' negative='' balloon='' noscrub='' swapfill=64
# shellcheck disable=SC2013  # words, not lines
for w in $(cat /proc/cmdline); do
	case $w in
	qe.seed=*) seed=${w#qe.seed=} ;;
	qe.hold=1) hold=1 ;;   # keep writing until the host kills QEMU
	qe.exhaust=1) exhaust=1 ;;  # write more than the pool holds
	qe.discard=1) discard=1 ;;  # write 1 GiB, delete, fstrim: space must come back
	qe.dump=1) dump=1 ;;   # wait while the host dumps guest memory
	qe.negative=1) negative=1 ;;  # make the stack not ephemeral on purpose: status must say so
	qe.balloon=*) balloon=${w#qe.balloon=} ;;  # tests/xen: free MIB of marker pages, wait to be ballooned
	qe.scrub=0) noscrub=1 ;;  # tests/xen control: balloon scrubbing off again
	qe.swapfill=*) swapfill=${w#qe.swapfill=} ;;  # MiB written through the 16 MiB cgroup (default 64)
	esac
done
[ -n "$seed" ] || { say "error=no qe.seed on the command line"; off; }
tok="QEM-$(printf '%s' "$seed" | sha256sum | cut -c1-44)"

say "root_dev=$(awk '$2 == "/" && $1 != "rootfs" { d = $1 } END { print d }' /proc/mounts)"
mount -o remount,rw / || say "error=remount rw / failed"
mkdir -p /dev/pts /dev/shm
ismounted /dev/pts || mount /dev/pts 2>/dev/null
ismounted /dev/shm || mount /dev/shm 2>/dev/null

# what the template's qubes-mount-dirs does: mount /rw (from fstab), bind /rw/home
say "fstab_rw=$(awk '$2 == "/rw" { print $1 }' /etc/fstab) fstab_swap=$(awk '$3 == "swap" { print $1 }' /etc/fstab)"
if mount /rw; then
	say "rw_dev=$(awk '$2 == "/rw" { print $1 }' /proc/mounts)"
else
	say "error=mount /rw failed"
fi
mkdir -p /rw/home/user
mount --bind /rw/home /home || say "error=bind /rw/home on /home failed"

# swap from fstab, as the template's dev-xvdc1-swap.service (already on in ephemeral mode)
swapon -a 2>/dev/null
say "swaps=$(awk 'NR > 1 { printf "%s%s", s, $1; s = "," }' /proc/swaps)"

# read-only state of the origins as the kernel sees them
for d in vda vdb xvda xvdb; do
	[ -r /sys/class/block/$d/ro ] && say "sys_ro_$d=$(cat /sys/class/block/$d/ro)"
done

# the marker: tok + newline, doubled up to 1 MiB, built in RAM (/run is tmpfs)
m=/run/qe-marker
printf '%s\n' "$tok" >$m
while [ "$(wc -c <$m)" -lt 1048576 ]; do
	cat $m $m >$m.2 && mv $m.2 $m
done
n=0
for f in /qe-marker-root /rw/qe-marker-rw /home/user/qe-marker-home /tmp/qe-marker-tmp /var/log/qe-marker.log; do
	if cp $m $f && [ "$(wc -c <$f)" -ge 1048576 ]; then n=$((n + 1)); else say "error=cannot write marker to $(dirname $f)"; fi
done
sync
say "markers_written=$n"

# a package update replaces /etc/fstab the way dpkg and rpm do: a new file
# renamed over it (a bind mount over /etc/fstab made that fail with EBUSY)
if cp /etc/fstab /etc/fstab.dpkg-new && mv /etc/fstab.dpkg-new /etc/fstab; then
	say "fstab_replace=ok"
else
	say "fstab_replace=failed"
fi

# push marker pages into swap: a tmpfs file written from a cgroup whose
# memory.high is small (memory.high throttles and reclaims, never OOM-kills)
swap_used=no
pswp0=$(awk '$1 == "pswpout" { print $2 }' /proc/vmstat)
mkdir -p /sys/fs/cgroup /mnt/swapfill
ismounted /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup || say "error=cannot mount cgroup2"
echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
mkdir -p /sys/fs/cgroup/qefill
if echo 16777216 >/sys/fs/cgroup/qefill/memory.high; then
	mount -t tmpfs -o size=128M tmpfs /mnt/swapfill
	sh -c 'echo $$ >/sys/fs/cgroup/qefill/cgroup.procs || exit 1
		i=0; while [ $i -lt "$1" ]; do cat /run/qe-marker; i=$((i + 1)); done >/mnt/swapfill/fill' sh "$swapfill" ||
		say "error=swap push failed"
else
	say "error=no memory controller (memory.high)"
fi
pswp1=$(awk '$1 == "pswpout" { print $2 }' /proc/vmstat)
used=$(awk 'NR > 1 { u += $4 } END { print u + 0 }' /proc/swaps)
say "swap_kib_used=$used pswpout_delta=$((pswp1 - pswp0)) fill_kib=$(du -k /mnt/swapfill/fill 2>/dev/null | cut -f1)"
[ "$used" -gt 0 ] && [ "$pswp1" -gt "$pswp0" ] && swap_used=yes
say "swap_used=$swap_used"

st=/run/qubes-ephemeral/ephemeral-status
if [ -x $st ]; then
	$st >/run/qe-status.out 2>&1
	rc=$?
	sed 's/^/STATUS: /' /run/qe-status.out
	say "status_rc=$rc"
else
	say "status_tool=absent"
fi
if [ -n "$negative" ]; then
	# 1. the private origin made writable again (its own node: /dev/vdb names our copy)
	mm=$(cat /sys/class/block/vdb/dev)
	mknod /dev/qe-vdb b "${mm%:*}" "${mm#*:}"
	blockdev --setrw /dev/qe-vdb
	$st >/run/qe-neg.out 2>&1; rc=$?
	grep '^verdict' /run/qe-neg.out | sed 's/^/STATUS: /'
	say "neg_origin_rc=$rc"
	blockdev --setro /dev/qe-vdb
	# 2. a swap outside the encrypted volatile disk: a loop device over tmpfs
	modprobe loop 2>/dev/null
	dd if=/dev/zero of=/dev/shm/qe-plain-swap bs=1M count=8 2>/dev/null
	if lo=$(losetup -f) && losetup "$lo" /dev/shm/qe-plain-swap && mkswap "$lo" >/dev/null && swapon "$lo"; then
		$st >/run/qe-neg.out 2>&1; rc=$?
		grep '^verdict' /run/qe-neg.out | sed 's/^/STATUS: /'
		say "neg_swap_rc=$rc"
		swapoff "$lo"; losetup -d "$lo"
	else
		say "neg_swap_rc=unavailable"
	fi
	rm -f /dev/shm/qe-plain-swap /dev/qe-vdb
	$st >/dev/null 2>&1; say "neg_restored_rc=$?"
fi
# pool bytes in use, from the status tool's "pool:" line
pool_used() { $st 2>/dev/null | sed -n 's/^pool: .*(\([0-9]*\) of [0-9]* bytes).*/\1/p'; }
if [ -n "$exhaust" ]; then
	# 16 MiB files, each fsync'ed, until a write fails: with error_if_no_space
	# the failure must come at once, not as an I/O hang
	t0=$(date +%s); i=0
	while dd if=/dev/zero of=/rw/exhaust.$i bs=1M count=16 conv=fsync 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 1024 ] || break
	done
	t1=$(date +%s)
	err=yes; [ $i -ge 1024 ] && err=no
	say "exhaust_bytes=$((i * 16777216)) exhaust_error=$err exhaust_s=$((t1 - t0))"
	$st 2>&1 | grep '^pool:' | sed 's/^/STATUS: /'
fi
if [ -n "$discard" ]; then
	sync; u0=$(pool_used)
	dd if=/dev/zero of=/rw/discard.fill bs=1M count=1024 conv=fsync 2>/dev/null || say "error=discard fill failed"
	sync; u1=$(pool_used)
	rm -f /rw/discard.fill; sync
	fstrim /rw 2>/dev/null || say "error=fstrim failed"
	sync; u2=$(pool_used)
	say "discard_before=$u0 discard_full=$u1 discard_after=$u2"
fi
if [ -n "$dump" ]; then
	# the scan's positive control: 64 known bytes left in guest memory (tmpfs)
	printf 'QEMKEYCTL-%s%s' "$seed" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 64 >/run/qe-keyctl
	say "dump_now=yes"
	while :; do sleep 3600; done
fi
if [ -n "$balloon" ]; then
	# tests/xen: marker pages written to tmpfs and freed (free pages keep
	# their bytes: init_on_free=0), then dom0 balloons them out of us
	sc=/sys/devices/system/xen_memory/xen_memory0/scrub_pages
	[ -n "$noscrub" ] && echo 0 >$sc
	mkdir -p /mnt/balloon
	mount -t tmpfs -o size="$((balloon + 16))M" tmpfs /mnt/balloon
	i=0
	while [ $i -lt "$balloon" ]; do cat $m; i=$((i + 1)); done >/mnt/balloon/fill
	say "balloon_fill_kib=$(du -k /mnt/balloon/fill | cut -f1)"
	rm -f /mnt/balloon/fill
	umount /mnt/balloon
	say "scrub_pages_now=$(cat $sc 2>/dev/null || echo none) balloon_ready=yes"
	while :; do sleep 3600; done
fi
say "done=yes"
if [ -n "$hold" ]; then
	# "killed mid-write": keep appending marker to / and /rw, no sync, and let
	# the host kill QEMU (it waits for the holding line)
	( while :; do cat $m >>/rw/qe-stream; cat $m >>/qe-stream; done ) 2>/dev/null &
	say "holding=yes"
	while :; do sleep 3600; done
fi
off
