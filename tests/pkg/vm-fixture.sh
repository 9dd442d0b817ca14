#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The template packages carry whatever `make install-vm` lays out from vm/:
# builds qubes-ephemeral-vm (RPM and .deb) from a copy of the source (no
# .git: also the tarball path of packaging/build.sh without git) with
# fixture files under vm/ (executable and not, a nested folder), and checks
# the exact file lists, modes, folder ownership and the .deb trigger.
# Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/pkg/lib.sh
T=$(mktemp -d /tmp/qe-pkgfix.XXXXXX)
trap 'rm -rf "$T"' EXIT
V=$(cat version) R=$(cat rel)

S=$T/src
mkdir -p "$S"
git ls-files -z | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | xargs -0 cp --parents -a -t "$S"
rm -rf "$S/vm"
fx() { # MODE PATH
	mkdir -p "$S/${2%/*}"
	printf '#!/bin/sh\n# fixture %s\n' "$2" >"$S/$2"
	chmod "$1" "$S/$2"
}
fx 0755 vm/initramfs-tools/hooks/qubes-ephemeral
fx 0755 vm/initramfs-tools/scripts/local-top/qubes-ephemeral
fx 0755 vm/initramfs-tools/scripts/init-bottom/qubes-ephemeral
fx 0755 vm/dracut/90qubes-ephemeral/module-setup.sh
fx 0644 vm/dracut/90qubes-ephemeral/qubes-ephemeral-hook.sh
fx 0644 vm/dracut/90qubes-ephemeral/extra/nested.conf

if out=$("$S/packaging/build.sh" -o "$T/out" vm-rpm vm-deb 2>&1); then ok "build from a copy without .git, with fixture vm/ files"
else bad "build from a copy without .git"; sed 's/^/     | /' <<<"$out"; summary; exit 1; fi
VMRPM=$T/out/qubes-ephemeral-vm-$V-$R.x86_64.rpm
DEB=$T/out/qubes-ephemeral-vm_$V-${R}_amd64.deb

same_list "vm RPM: ephemeral-init, the dracut module with its folders owned, no initramfs-tools, LICENSE" "\
drwxr-xr-x root:root /usr/lib/qubes-ephemeral
-rwxr-xr-x root:root /usr/lib/qubes-ephemeral/ephemeral-init
drwxr-xr-x root:root /usr/share/licenses/qubes-ephemeral-vm
-rw-r--r-- root:root /usr/share/licenses/qubes-ephemeral-vm/LICENSE
drwxr-xr-x root:root /usr/lib/dracut/modules.d/90qubes-ephemeral
drwxr-xr-x root:root /usr/lib/dracut/modules.d/90qubes-ephemeral/extra
-rw-r--r-- root:root /usr/lib/dracut/modules.d/90qubes-ephemeral/extra/nested.conf
-rwxr-xr-x root:root /usr/lib/dracut/modules.d/90qubes-ephemeral/module-setup.sh
-rw-r--r-- root:root /usr/lib/dracut/modules.d/90qubes-ephemeral/qubes-ephemeral-hook.sh" "$(rpm_files "$VMRPM")"

same_list ".deb: ephemeral-init, hooks and scripts under /usr/share/initramfs-tools, dracut module, doc" "\
drwxr-xr-x root:root /
drwxr-xr-x root:root /usr/
drwxr-xr-x root:root /usr/lib/
drwxr-xr-x root:root /usr/lib/dracut/
drwxr-xr-x root:root /usr/lib/dracut/modules.d/
drwxr-xr-x root:root /usr/lib/dracut/modules.d/90qubes-ephemeral/
drwxr-xr-x root:root /usr/lib/dracut/modules.d/90qubes-ephemeral/extra/
-rw-r--r-- root:root /usr/lib/dracut/modules.d/90qubes-ephemeral/extra/nested.conf
-rwxr-xr-x root:root /usr/lib/dracut/modules.d/90qubes-ephemeral/module-setup.sh
-rw-r--r-- root:root /usr/lib/dracut/modules.d/90qubes-ephemeral/qubes-ephemeral-hook.sh
drwxr-xr-x root:root /usr/lib/qubes-ephemeral/
-rwxr-xr-x root:root /usr/lib/qubes-ephemeral/ephemeral-init
drwxr-xr-x root:root /usr/share/
drwxr-xr-x root:root /usr/share/doc/
drwxr-xr-x root:root /usr/share/doc/qubes-ephemeral-vm/
-rw-r--r-- root:root /usr/share/doc/qubes-ephemeral-vm/changelog.Debian.gz
-rw-r--r-- root:root /usr/share/doc/qubes-ephemeral-vm/copyright
drwxr-xr-x root:root /usr/share/initramfs-tools/
drwxr-xr-x root:root /usr/share/initramfs-tools/hooks/
-rwxr-xr-x root:root /usr/share/initramfs-tools/hooks/qubes-ephemeral
drwxr-xr-x root:root /usr/share/initramfs-tools/scripts/
drwxr-xr-x root:root /usr/share/initramfs-tools/scripts/init-bottom/
-rwxr-xr-x root:root /usr/share/initramfs-tools/scripts/init-bottom/qubes-ephemeral
drwxr-xr-x root:root /usr/share/initramfs-tools/scripts/local-top/
-rwxr-xr-x root:root /usr/share/initramfs-tools/scripts/local-top/qubes-ephemeral
drwxr-xr-x root:root /usr/share/lintian/
drwxr-xr-x root:root /usr/share/lintian/overrides/
-rw-r--r-- root:root /usr/share/lintian/overrides/qubes-ephemeral-vm" "$(deb_files "$DEB")"

# the lists above written out by hand must agree with the rule used on
# the real tree by tests/pkg/packages.sh
same_list "vm_layout (packages.sh's rule) gives the same vm/ files" \
	"$(vm_layout "$S" | cut -d' ' -f2)" "$(deb_files "$DEB" | cut -d' ' -f3 | grep -E '^/usr/(share/initramfs-tools|lib/dracut)/.*[^/]$')"
same_list ".deb triggers: activate-noawait update-initramfs" "activate-noawait update-initramfs" "$(dpkg-deb -I "$DEB" triggers 2>&1)"
x=$T/x; dpkg-deb -x "$DEB" "$x"
check "hook content is the fixture's" 0 "" -- cmp "$x/usr/share/initramfs-tools/hooks/qubes-ephemeral" "$S/vm/initramfs-tools/hooks/qubes-ephemeral"

summary
