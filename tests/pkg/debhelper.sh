#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# packaging/debian is also a Debian source package's debian/ folder (the
# Qubes builder's vm-deb build): builds it with dpkg-buildpackage (debhelper)
# from a copy of the source and checks that the result is the package that
# packaging/build.sh makes with dpkg-deb: same files, modes, control fields
# (Installed-Size aside), trigger; and lintian allows it the same way.
# Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/pkg/lib.sh
T=$(mktemp -d /tmp/qe-dh.XXXXXX)
trap 'rm -rf "$T"' EXIT
V=$(cat version) R=$(cat rel)

S=$T/qubes-ephemeral-$V
mkdir -p "$S"
git ls-files -z | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | xargs -0 cp --parents -a -t "$S"
cp -a packaging/debian "$S/debian"
if out=$(cd "$S" && dpkg-buildpackage -b -us -uc 2>&1); then ok "dpkg-buildpackage -b (debhelper $(dpkg-query -W -f '${Version}' debhelper))"
else bad "dpkg-buildpackage -b"; tail -n 30 <<<"$out" | sed 's/^/     | /'; summary; exit 1; fi
DH=$T/qubes-ephemeral-vm_$V-${R}_amd64.deb
if out=$(packaging/build.sh -o "$T/out" vm-deb 2>&1); then ok "packaging/build.sh vm-deb"
else bad "packaging/build.sh vm-deb"; sed 's/^/     | /' <<<"$out"; summary; exit 1; fi
OWN=$T/out/qubes-ephemeral-vm_$V-${R}_amd64.deb

same_list "same files, modes and owners" "$(deb_files "$OWN")" "$(deb_files "$DH")"
fields() { dpkg-deb -f "$1" | grep -v '^Installed-Size:'; }
same_list "same control fields (Installed-Size aside)" "$(fields "$OWN")" "$(fields "$DH")"
trig() { dpkg-deb -I "$1" triggers 2>/dev/null | grep -v '^#'; }
same_list "same triggers ($(trig "$DH" | tr '\n' ' '))" "$(trig "$OWN")" "$(trig "$DH")"
allowed=$(sed -n 's/^\([a-z0-9-]\+\) .*/\1/p' tests/pkg/lintian-allowed)
lintian_run "$T" --pedantic --display-info --display-experimental "$DH"
tags=$(grep -E '^[EWIPX]: ' "$T/lintian.out" | awk '{ print $3 }' | sort -u)
extra=$(comm -23 <(sed '/^$/d' <<<"$tags") <(sort -u <<<"$allowed"))
[ -z "$extra" ] && ok "lintian: only allowed tags ($(echo $tags))" || bad "lintian on the debhelper build: tags not allowed: $(echo $extra)"

summary
