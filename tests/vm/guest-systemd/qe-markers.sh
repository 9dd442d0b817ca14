#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes the test marker where a qube writes, from a service of the template's
# userland: files on /, /rw, /home, /tmp, /var/log, the journal, and swap.
say() { echo "GUEST $*" > /dev/console; }
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}" ;; esac; done; }
seed=$(arg qe.seed)
[ -n "$seed" ] || { say "error=no qe.seed"; exit 0; }
# as tests/vm/run.sh derives it: the marker itself is never on the command line
token="QEM-$(printf '%s' "$seed" | sha256sum | cut -c1-44)"
yes "$token" | head -c 1048576 > /run/qe-marker
for d in / /rw /home /tmp /var/log; do cp /run/qe-marker "$d/qe-marker" || say "write_failed=$d"; done
logger -t qe-test "marker $token"
journalctl --flush
sync
before=$(awk '/pswpout/ {print $2}' /proc/vmstat)
# a service held under MemoryHigh fills tmpfs: its pages must go to swap
# without swap (qubes.ephemeral.swap=0) MemoryHigh would throttle the push forever
if [ "$(awk 'NR > 1' /proc/swaps | wc -l)" -gt 0 ]; then
	systemctl start qe-swap-push.service || say "swap_push=failed"
else
	say "swap_push=skipped (no swap)"
fi
after=$(awk '/pswpout/ {print $2}' /proc/vmstat)
swap_kb=$(awk 'NR > 1 {s += $4} END {print s + 0}' /proc/swaps)
if [ "$after" -gt "$before" ] && [ "$swap_kb" -gt 0 ]; then say "swap_used=yes swap_kb=$swap_kb"; else say "swap_used=no"; fi
rm -f /run/qe-marker /dev/shm/qe-fill
sync
