#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the tests' minimal dom0 (tests/xen): brings up what `xl` needs
# (xenfs, xenstored, xenconsoled, backend modules), then runs /qe/plan.sh,
# which tests/xen/run.sh appended for this run, and powers the machine off.
# Everything the host reads is a console line starting with "XEN " or
# "G:NAME: " (a domain's console, from xenconsoled's log).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/usr/lib/xen-4.17/lib

. /qe-lib.sh # say, qe_run, qe_console, ... (dom0-lib.sh)
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

if [ -f /qe/plan.sh ]; then
	. /qe/plan.sh
else
	say "error=no /qe/plan.sh"
fi
bye
