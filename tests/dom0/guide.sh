#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs docs/guide.md: every ```sh block (not ```sh dom0-only) in order, in
# bash -e, against qubesd ($DOM0_SERVER: the fake by default, or a real one,
# see tests/dom0/server.sh) and a fixture kernel folder / dom0 tree;
# a line "CMD # exit N" must exit N. A ```text output block must have every
# line (spaces squeezed) in the output of the sh block before it. qvm-start and
# qvm-shutdown are stand-ins (dom0_power). Ends with
# "N passed, N failed".
. "$(dirname "$0")/common.sh"
GUIDE=${GUIDE:-$ROOT/docs/guide.md}
QVM=$ROOT/build/qvm-ephemeral-test   # the guide's commands run the test build (test hooks, ASan)
dom0_build qvm-ephemeral-test ephemeral-init
. tests/dom0/kernel/lib.sh
dom0_tmp qvm-guide
mkdir -p "$T/bin" "$T/guest"
ln -s "$ROOT/build/qvm-ephemeral-test" "$T/bin/qvm-ephemeral"  # the test build (test hooks, ASan)
ln -s "$PY" "$T/bin/python3"
for c in start:qvm-start stop:qvm-shutdown; do
	printf '#!/bin/bash\n. "%s/tests/dom0/server.sh" && dom0_power %s "$1"\n' "$ROOT" "${c%%:*}" >"$T/bin/${c#*:}"
done
chmod +x "$T/bin/qvm-start" "$T/bin/qvm-shutdown"
export PATH=$T/bin:$FAKE/bin:$PATH
export FAKE_GUEST_DIR=$T/guest QVM_EPHEMERAL_INIT=$ROOT/build/ephemeral-init
export QVM_EPHEMERAL_DOM0_ROOT=$T/dom0 QVM_EPHEMERAL_JOURNALCTL=$ROOT/tests/dom0/traces/journalctl

# fixture kernel folder: the fake qubesd's default kernel 6.1.0, made small
# (no Debian kernel needed: kernel add only reads and copies these files)
KV=6.1.0
mkdir -p "$T/w/mods" "$T/w/root"
echo "# empty" >"$T/w/mods/modules.dep"
printf '#!/bin/sh\n' >"$T/w/root/init"
(cd "$T/w/root" && find . | cpio -o -H newc --quiet -R 0:0 | gzip) >"$T/w/initrd"
echo "not a kernel" >"$T/w/vmlinuz"
kt_kernel_folder "$T/vm-kernels" 6.1.0 "$T/w/vmlinuz" "$T/w/initrd" "$T/w/mods" 2
tests/dom0/traces/mkfixture.sh "$T/dom0"
cat >"$T/guest/work.out" <<'G'
mode:     ephemeral
crypt:    aes-xts-plain64 over /dev/xvdc, 512-byte sectors
key:      held by the kernel only (table shows a keyring reference, no key bytes); no longer in any keyring
stack:    / = dmroot (thin, origin /dev/xvda3) -> ephemeral-pool -> ephemeral-crypt
origins:  root read-only, private read-only (were writable at boot: root no, private no)
swap:     /dev/dm-1 (encrypted slice), 0 of 1048572 KiB used
pool:     data 1.2% used (1 of 2 bytes), metadata 0.5% used
memory:   Xen balloon scrubbing on (scrub_pages = 1); kernel zeroes pages on alloc: on, on free: on
verdict:  ephemeral
G
echo 0 >"$T/guest/work.rc"

dom0_server_start "$T" || { echo "0 passed, 1 failed"; exit 1; }
echo "== server: $DOM0_SERVER"

# split the guide: blocks as files b.N.kind
awk -v dir="$T" '
	/^```/ && !inb { inb = 1; n++; kind = substr($0, 4); gsub(/ /, "_", kind); if (kind == "") kind = "none"
		f = sprintf("%s/b.%03d.%s", dir, n, kind); printf "" > f; next }
	/^```/ && inb { inb = 0; close(f); next }
	inb { print > f }' "$GUIDE"

nsh=0 last_out=
for f in "$T"/b.*; do
	kind=${f##*.}
	case $kind in
	sh)
		nsh=$((nsh + 1))
		# "CMD # exit N" -> check the exit code
		sed -E 's/^(.*[^ ]) +# exit ([0-9]+)$/if \1; then rc=0; else rc=$?; fi; [ $rc -eq \2 ] || { echo "guide: wanted exit \2, got $rc: \1" >\&2; exit 1; }/' \
			"$f" >"$f.run"
		last_out=$(cd "$T" && bash -e "$f.run" 2>&1); rc=$?
		desc="sh block $nsh: $(grep -v '^#' "$f" | head -1)"
		if [ $rc -eq 0 ]; then ok "$desc"; else bad "$desc (exit $rc)"; sed 's/^/     | /' <<<"$last_out"; fi
		;;
	text_output)
		miss=0
		while IFS= read -r l; do
			l=$(sed -E 's/^ +| +$//g; s/ +/ /g' <<<"$l")
			[ -z "$l" ] && continue
			sed -E "s| +| |g; s|$T/dom0||g" <<<"$last_out" | grep -qF -- "$l" || { miss=1; echo "     | not in the output: $l"; }
		done <"$f"
		if [ $miss -eq 0 ]; then ok "output shown after sh block $nsh"; else bad "output shown after sh block $nsh"; sed 's/^/     | /' <<<"$last_out"; fi
		;;
	esac
done
[ "$nsh" -ge 10 ] && ok "guide has $nsh runnable blocks" || bad "guide has only $nsh runnable blocks"

summary
