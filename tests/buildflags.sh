#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The dom0 tool and initramfs-append built as a Debian package build builds
# them (CFLAGS, CPPFLAGS, LDFLAGS from dpkg-buildflags, hardening=+all) into
# build/dpkg, with warnings as errors; then hardening seen in the binaries,
# the unit tests (same flags + ASan/UBSan) and tests/dom0 against that build.
# Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/lib/assert.sh
command -v dpkg-buildflags >/dev/null || { bad "dpkg-buildflags missing (dpkg-dev; scripts/install-deps.sh)"; summary; exit 1; }
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
B=build/dpkg
FLAGS=(B="$B" CFLAGS="$(dpkg-buildflags --get CFLAGS)" CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS)" LDFLAGS="$(dpkg-buildflags --get LDFLAGS)")
echo "== build with ${FLAGS[*]:1}"
check "make builds the dom0 tool and initramfs-append with those flags (-Werror on)" 0 "" -- \
	make -s "${FLAGS[@]}" "$B/qvm-ephemeral" "$B/initramfs-append"
check "the flags reached the compiler: -fstack-protector-strong" 0 "-fstack-protector-strong" -- cat "$B/obj/host/.flags"
check "the flags reached the compiler: -D_FORTIFY_SOURCE" 0 "-D_FORTIFY_SOURCE=[23]" -- cat "$B/obj/host/.flags"
for b in qvm-ephemeral initramfs-append; do
	check "$b: PIE" 0 "Type: +DYN" -- readelf -h "$B/$b"
	check "$b: full RELRO (BIND_NOW)" 0 "BIND_NOW|FLAGS_1.*NOW" -- readelf -d "$B/$b"
	check "$b: RELRO segment" 0 "GNU_RELRO" -- readelf -lW "$B/$b"
	check "$b: stack protector" 0 "__stack_chk_fail" -- nm -D "$B/$b"
	check "$b: fortified calls" 0 "__(mem|str|s?n?printf|read|f?gets)[a-z]*_chk" -- nm -D "$B/$b"
done

echo "== unit tests of that build"
out=$(make -s "${FLAGS[@]}" unit 2>&1); echo "$out" | grep -vE '^\[ *(RUN|OK) *\]' | tail -5
line=$(grep -E '^unit: [0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -1)
p=$(sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed/\1/p' <<<"$line"); f=$(sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed/\2/p' <<<"$line")
if [ -n "$line" ] && [ "$f" -eq 0 ] && [ "$p" -gt 0 ]; then ok "unit tests with dpkg-buildflags: $p passed"; else bad "unit tests with dpkg-buildflags: ${line:-did not run}"; fi

# the dom0 tests drive the tool through its test-only hooks: the test build
# with the same flags (and ASan); the shipped binary's strings are checked
# by no-test-hooks.sh (SHIPPED=), the real qubesd runs are tests/dom0/real.sh's
echo "== tests/dom0 against that build (QVM=$B/qvm-ephemeral-test)"
check "make builds the test build of the dom0 tool with those flags" 0 "" -- make -s "${FLAGS[@]}" "$B/qvm-ephemeral-test"
for t in tests/dom0/*.sh; do
	[ -x "$t" ] || continue
	case $t in tests/dom0/real.sh) continue ;; esac
	out=$(QVM=$PWD/$B/qvm-ephemeral-test SHIPPED=$PWD/$B/qvm-ephemeral "$t" 2>&1)
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -1)
	if [ -n "$line" ] && [[ $line == *" 0 failed" ]]; then ok "$t: $line"; else bad "$t: ${line:-no summary}"; grep FAIL <<<"$out" | head -5 | sed 's/^/     | /'; fi
done
summary
