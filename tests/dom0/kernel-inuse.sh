#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `kernel sync`'s "in use" check against qubesd ($DOM0_SERVER: the fake by
# default, or a real one, see tests/dom0/server.sh), on small kernel folders
# (no Debian kernel needed): an orphan variant a qube boots is kept, an unused
# one removed, a foreign one left alone; enable makes a missing variant. The
# same checks close tests/dom0/kernel.sh (fake qubesd, full fixtures); this
# one is small enough to run on every real qubesd version (tests/dom0/real.sh).
# Ends with "N passed, N failed".
# the test build (QVM): QVM_EPHEMERAL_INIT names the init to append (a test-only hook)
. "$(dirname "$0")/common.sh"
INIT=$ROOT/build/ephemeral-init
dom0_build qvm-ephemeral-test ephemeral-init
. tests/dom0/kernel/lib.sh
dom0_tmp qvm-kinuse
K=$T/vm-kernels
Q() { "$QVM" kernel --kernels-dir "$K" --init-binary "$INIT" "$@"; }

# small kernel folders as dom0 has them (kernel add only reads and copies)
KV=6.1.0
mkdir -p "$T/w/mods" "$T/w/root"
echo "# empty" >"$T/w/mods/modules.dep"
printf '#!/bin/sh\n' >"$T/w/root/init"
(cd "$T/w/root" && find . | cpio -o -H newc --quiet -R 0:0 | gzip) >"$T/w/initrd"
echo "not a kernel" >"$T/w/vmlinuz"
for n in 6.1.0 6.0-old 6.2-new; do kt_kernel_folder "$K" "$n" "$T/w/vmlinuz" "$T/w/initrd" "$T/w/mods" 2; done
check "variants made" 0 "" -- bash -c "'$QVM' kernel --kernels-dir '$K' --init-binary '$INIT' add 6.1.0 && '$QVM' kernel --kernels-dir '$K' --init-binary '$INIT' add 6.0-old"
rm -rf "${K:?}/6.0-old"           # its kernel is gone: 6.0-old-ephemeral is an orphan
mkdir "$K/5.0-foreign-ephemeral" && : >"$K/5.0-foreign-ephemeral/vmlinuz"
dom0_server_start "$T" || { echo "0 passed, 1 failed"; exit 1; }
echo "== kernel sync with qubesd: $DOM0_SERVER"
check "a qube uses the orphan" 0 "" -- q admin.vm.property.Set work kernel 6.0-old-ephemeral
check "sync: orphan in use is kept, says by whom" 0 "^6.0-old-ephemeral: orphan \(its kernel is gone\), kept: used by work" -- Q sync
[ -d "$K/6.0-old-ephemeral" ] && ok "... it is still there" || bad "... removed while in use"
check "qube back to its default kernel" 0 "" -- q admin.vm.property.Reset work kernel
check "sync: unused orphan removed" 0 "^6.0-old-ephemeral: removed \(its kernel is gone, no qube uses it\)" -- Q sync
[ ! -e "$K/6.0-old-ephemeral" ] && ok "... it is gone" || bad "... still there"
[ -f "$K/5.0-foreign-ephemeral/vmlinuz" ] && ok "... foreign variant left alone" || bad "... foreign variant removed"
rm -rf "${K:?}/6.2-new-ephemeral" # (sync made it)
check "a qube on a kernel without variant" 0 "" -- q admin.vm.property.Set work kernel 6.2-new
check "enable makes the variant" 0 "6.2-new-ephemeral: made from 6.2-new" -- env QVM_EPHEMERAL_INIT="$INIT" "$QVM" enable work
check "... the qube boots it" 0 "type=str 6.2-new-ephemeral$" -- q admin.vm.property.Get work kernel
check "... and it is current" 0 "^6.2-new-ephemeral +variant +current" -- Q list
summary
