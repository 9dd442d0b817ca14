#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the packages with packaging/build.sh (rpmbuild and dpkg-deb on
# Debian) and checks what they hold: headers, exact file lists with modes
# and owners, that the dom0 RPM is `make install`, scriptlets (syntax, and
# run against fixture folders with stand-in tools), the .deb's control data,
# triggers and md5sums, lintian against tests/pkg/lintian-allowed.
# Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/pkg/lib.sh
T=$(mktemp -d /tmp/qe-pkg.XXXXXX)
trap 'rm -rf "$T"' EXIT
V=$(cat version) R=$(cat rel)
OUT=$T/out

echo "== version: one place (the file version; rel)"
check "version is dotted numbers ($V), rel a number ($R)" 0 "" -- bash -c "grep -qxE '[0-9]+(\.[0-9]+)+' version && grep -qxE '[0-9]+' rel"
# the built tools take it from there (the Makefile passes it as QE_VERSION):
# initramfs-append's default version entry; the dom0 tool's variant version
# is checked by tests/dom0/kernel.sh
[ -x build/initramfs-append ] || make -s build/initramfs-append build/ephemeral-init >/dev/null
mkdir -p "$T/vr" && echo x >"$T/vr/f" && (cd "$T/vr" && echo f | cpio -o -H newc --quiet >"$T/v.in")
append_v=$(build/initramfs-append --init build/ephemeral-init "$T/v.in" "$T/v.out" >/dev/null 2>&1 &&
	tr '\0' '\n' <"$T/v.out" | grep -a -A4 'usr/lib/qubes-ephemeral/version$' | grep -a -m1 '^qubes-ephemeral ')
is "build/initramfs-append writes 'qubes-ephemeral $V' by default" "$append_v" "qubes-ephemeral $V"
check "no version number written in the C sources" 1 "" -- grep -rnE '"(qubes-ephemeral )?[0-9]+\.[0-9]+"' src
deb_v=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
[ "$deb_v" = "$V-$R" ] && ok "debian/changelog is at $V-$R" || bad "debian/changelog is at $deb_v, not $V-$R"
for s in packaging/rpm/*.spec.in; do
	top=$(sed -n '/^%changelog/{n;p;q}' "$s")
	[[ $top == *" - $V-$R" ]] && ok "$s: last %changelog entry is $V-$R" || bad "$s: last %changelog entry is '$top', not $V-$R"
done

echo "== build (packaging/build.sh)"
if out=$(packaging/build.sh -o "$OUT" 2>&1); then ok "packaging/build.sh built: $(cd "$OUT" && ls | tr '\n' ' ')"
else bad "packaging/build.sh"; sed 's/^/     | /' <<<"$out"; summary; exit 1; fi
DOM0=$OUT/qubes-ephemeral-dom0-$V-$R.x86_64.rpm
VMRPM=$OUT/qubes-ephemeral-vm-$V-$R.x86_64.rpm
DEB=$OUT/qubes-ephemeral-vm_$V-${R}_amd64.deb
for p in "$DOM0" "$VMRPM" "$DEB"; do
	[ -f "$p" ] && ok "$(basename "$p"): $(stat -c %s "$p") bytes" || bad "$(basename "$p") missing"
done

# rpm_header RPM NAME: rpm -qip shows the name, version, release, arch
rpm_header() {
	local info
	info=$(rpm -qip "$1" 2>&1)
	grep -qx "Name *: $2" <<<"$info" && grep -qx "Version *: $V" <<<"$info" && grep -qx "Release *: $R" <<<"$info" &&
		grep -qx "Architecture: x86_64" <<<"$info"
}
# scriptlet RPM TAG: the body of one scriptlet (POSTIN, PREUN, POSTUN, POSTTRANS)
scriptlet() { rpm -qp --qf "%{$2}" "$1"; }

echo "== qubes-ephemeral-dom0 RPM"
check "rpm -qip: Name qubes-ephemeral-dom0, Version $V, Release $R, Architecture x86_64" 0 "" -- rpm_header "$DOM0" qubes-ephemeral-dom0
same_list "file list (mode, owner, path)" "\
-rwxr-xr-x root:root /usr/bin/qvm-ephemeral
drwxr-xr-x root:root /usr/lib/qubes-ephemeral
-rwxr-xr-x root:root /usr/lib/qubes-ephemeral/ephemeral-init
-rwxr-xr-x root:root /usr/lib/qubes-ephemeral/initramfs-append
-rw-r--r-- root:root /usr/share/licenses/qubes-ephemeral-dom0/LICENSE
drwxr-xr-x root:root /usr/share/licenses/qubes-ephemeral-dom0
-rw-r--r-- root:root /usr/lib/systemd/system/qvm-ephemeral-kernel-sync.path
-rw-r--r-- root:root /usr/lib/systemd/system/qvm-ephemeral-kernel-sync.service
-rw-r--r-- root:root /usr/lib/systemd/system/qvm-ephemeral-watch.service
-rw-r--r-- root:root /usr/share/bash-completion/completions/qvm-ephemeral
-rw-r--r-- root:root /usr/share/man/man1/qvm-ephemeral.1.gz" "$(rpm_files "$DOM0")"
# the same files as `make install` (the man page compressed by rpm; the
# license file is the spec's %license)
inst=$T/inst
make -s install DESTDIR="$inst" PREFIX=/usr >/dev/null 2>&1
same_list "files = make install DESTDIR=… PREFIX=/usr" "$(cd "$inst" && find . -type f | sed 's|^\.||; s|\.1$|.1.gz|')" \
	"$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$DOM0" | grep -v '^d' | cut -d' ' -f2 | grep -v '^/usr/share/licenses/')"
# unit files and completion byte for byte (rpm's sha256 digests)
dig=$(rpm -qp --dump "$DOM0" | awk '{ print $1, $4 }')
bytes_ok=yes
for f in dom0/systemd/* completion/qvm-ephemeral.bash; do
	case $f in dom0/*) p=/usr/lib/systemd/system/${f##*/} ;; *) p=/usr/share/bash-completion/completions/qvm-ephemeral ;; esac
	grep -qx "$p $(sha256sum <"$f" | cut -d' ' -f1)" <<<"$dig" || { bytes_ok=no; echo "     | $p differs from $f"; }
done
[ $bytes_ok = yes ] && ok "units and completion are the repository's bytes" || bad "units and completion are the repository's bytes"
x=$T/dom0x; mkdir -p "$x"
(cd "$x" && rpm2cpio "$DOM0" | cpio -idm --quiet)
check "packaged ephemeral-init is static" 0 "" -- is_static "$x/usr/lib/qubes-ephemeral/ephemeral-init"
check "packaged qvm-ephemeral runs (--help)" 0 "" -- "$x/usr/bin/qvm-ephemeral" --help
check "man page is gzip and names qvm-ephemeral" 0 "" -- bash -c "zcat '$x/usr/share/man/man1/qvm-ephemeral.1.gz' | grep -q '^\.TH QVM-EPHEMERAL'"
req=$(rpm -qp --requires "$DOM0"); prov=$(rpm -qp --provides "$DOM0")
check "Requires e2fsprogs and qubes-core-dom0" 0 "" -- bash -c "grep -qx e2fsprogs <<<'$req' && grep -qx qubes-core-dom0 <<<'$req'"
check "Provides qubes-ephemeral = $V-$R (the guide's qubes-dom0-update name)" 0 "" -- grep -qx "qubes-ephemeral = $V-$R" <<<"$prov"
units="qvm-ephemeral-watch.service qvm-ephemeral-kernel-sync.path qvm-ephemeral-kernel-sync.service"
check "%post: systemctl preset of the three units on first install" 0 "" -- \
	bash -c "scriptlet() { rpm -qp --qf \"%{\$1}\" '$DOM0'; }; scriptlet POSTIN | grep -q 'preset $units' && scriptlet POSTIN | grep -q '\$1 -eq 1'"
check "%preun: disable --now of the three units on removal" 0 "" -- \
	bash -c "rpm -qp --qf '%{PREUN}' '$DOM0' | grep -q 'disable --now $units'"
check "%postun: daemon-reload, try-restart of the watch service on upgrade" 0 "" -- \
	bash -c "rpm -qp --qf '%{POSTUN}' '$DOM0' | grep -q 'daemon-reload' && rpm -qp --qf '%{POSTUN}' '$DOM0' | grep -q 'try-restart qvm-ephemeral-watch.service'"
syn=yes
for s in POSTIN PREUN POSTUN POSTTRANS; do sh -n <(scriptlet "$DOM0" $s) || { syn=no; echo "     | $s: syntax error"; }; done
[ $syn = yes ] && ok "dom0 scriptlets parse (sh -n)" || bad "dom0 scriptlets parse (sh -n)"
# %posttrans against a fixture kernel folder, qvm-ephemeral a stand-in
# that logs: only variants whose kernel exists are rebuilt
k=$T/kernels; mkdir -p "$k/6.1.0" "$k/6.1.0-ephemeral" "$k/5.15.0-ephemeral" "$k/6.6.0" "$T/bin"
printf '#!/bin/sh\necho "$*" >>%s/calls\n' "$T" >"$T/bin/qvm-ephemeral"; chmod +x "$T/bin/qvm-ephemeral"
scriptlet "$DOM0" POSTTRANS | sed -e "s|/var/lib/qubes/vm-kernels|$k|g" -e "s|/usr/bin/qvm-ephemeral|$T/bin/qvm-ephemeral|g" >"$T/posttrans"
sh "$T/posttrans"
same_list "%posttrans rebuilds the variant of 6.1.0 only (not the orphan, no new variant)" "kernel add 6.1.0" "$(cat "$T/calls" 2>/dev/null)"
rm -rf "$k"; mkdir -p "$k/6.1.0"; : >"$T/calls"; sh "$T/posttrans"
same_list "%posttrans on a first install (no variant) does nothing" "" "$(cat "$T/calls")"

# fixture for the dracut scriptlets: kernels 6.1.0 (with an initramfs)
# and 6.2.0 (without); dracut a stand-in that logs
regen_fixture() {
	rm -rf "$T/m" "$T/boot"; mkdir -p "$T/m/6.1.0" "$T/m/6.2.0" "$T/boot"; : >"$T/boot/initramfs-6.1.0.img"; : >"$T/calls"
	printf '#!/bin/sh\necho "dracut $*" >>%s/calls\n' "$T" >"$T/bin/dracut"; chmod +x "$T/bin/dracut"
}
fix_paths() { sed -e "s|/lib/modules/|$T/m/|g" -e "s|/boot/|$T/boot/|g" -e "s|/usr/bin/dracut|$T/bin/dracut|g"; }

echo "== qubes-ephemeral-vm RPM (Fedora templates: dracut)"
check "rpm -qip: Name qubes-ephemeral-vm, Version $V, Release $R, Architecture x86_64" 0 "" -- rpm_header "$VMRPM" qubes-ephemeral-vm
drac=$(vm_layout "$ROOT" | grep ' /usr/lib/dracut/' | sed 's/ / root:root /')
drac_dirs=$(cut -d' ' -f3 <<<"$drac" | dirs_of /usr/lib/dracut/modules.d | sed 's/^/drwxr-xr-x root:root /')
same_list "file list: ephemeral-init + vm/dracut as /usr/lib/dracut/modules.d (no initramfs-tools), LICENSE" "\
drwxr-xr-x root:root /usr/lib/qubes-ephemeral
-rwxr-xr-x root:root /usr/lib/qubes-ephemeral/ephemeral-init
drwxr-xr-x root:root /usr/share/licenses/qubes-ephemeral-vm
-rw-r--r-- root:root /usr/share/licenses/qubes-ephemeral-vm/LICENSE
$drac
$drac_dirs" "$(rpm_files "$VMRPM")"
check "Requires dracut, Recommends qubes-kernel-vm-support" 0 "" -- bash -c "rpm -qp --requires '$VMRPM' | grep -qx dracut && rpm -qp --recommends '$VMRPM' | grep -qx qubes-kernel-vm-support"
syn=yes
for s in POSTTRANS POSTUN; do sh -n <(scriptlet "$VMRPM" $s) || { syn=no; echo "     | $s: syntax error"; }; done
[ $syn = yes ] && ok "vm RPM scriptlets parse (sh -n)" || bad "vm RPM scriptlets parse (sh -n)"
regen_fixture; scriptlet "$VMRPM" POSTTRANS | fix_paths >"$T/s"; sh "$T/s"
same_list "%posttrans rebuilds the initramfs of kernels that have one" "dracut -f $T/boot/initramfs-6.1.0.img 6.1.0" "$(cat "$T/calls")"
regen_fixture; scriptlet "$VMRPM" POSTUN | fix_paths >"$T/s"; sh "$T/s" 1
same_list "%postun on upgrade (\$1=1) does nothing" "" "$(cat "$T/calls")"
regen_fixture; sh "$T/s" 0
same_list "%postun on removal (\$1=0) rebuilds them without the module" "dracut -f $T/boot/initramfs-6.1.0.img 6.1.0" "$(cat "$T/calls")"

echo "== qubes-ephemeral-vm .deb (Debian templates: initramfs-tools and dracut)"
info=$(dpkg-deb -I "$DEB")
fields_ok=yes
for want in "Package: qubes-ephemeral-vm" "Version: $V-$R" "Architecture: amd64" "Depends: initramfs-tools | dracut-core" "Recommends: qubes-kernel-vm-support" "Section: admin"; do
	grep -qx " $want" <<<"$info" || { fields_ok=no; echo "     | no '$want'"; }
done
grep -qE '^ Installed-Size: [0-9]+$' <<<"$info" || { fields_ok=no; echo "     | no Installed-Size"; }
[ $fields_ok = yes ] && ok "dpkg-deb -I: Package, Version $V-$R, Architecture amd64, Depends, Section, Installed-Size" || bad "dpkg-deb -I fields"
vmf=$(vm_layout "$ROOT" | sed 's/ / root:root /')
debf="-rwxr-xr-x root:root /usr/lib/qubes-ephemeral/ephemeral-init
-rw-r--r-- root:root /usr/share/doc/qubes-ephemeral-vm/changelog.Debian.gz
-rw-r--r-- root:root /usr/share/doc/qubes-ephemeral-vm/copyright
-rw-r--r-- root:root /usr/share/lintian/overrides/qubes-ephemeral-vm
$vmf"
debd=$(cut -d' ' -f3 <<<"$debf" | sed '/^$/d' | dirs_of "" | sed 's|$|/|; s/^/drwxr-xr-x root:root /')
same_list "file list (mode, owner, path): ephemeral-init, vm/ as install-vm lays it, doc, overrides" \
	"drwxr-xr-x root:root /
$debf
$debd" "$(deb_files "$DEB")"
if grep -q ' /usr/share/initramfs-tools/hooks/' <<<"$vmf"; then
	same_list "triggers: activate-noawait update-initramfs (it ships an initramfs-tools hook)" \
		"activate-noawait update-initramfs" "$(dpkg-deb -I "$DEB" triggers 2>&1)"
else
	check "no triggers file (no initramfs-tools hook in vm/)" 0 "" -- bash -c "! dpkg-deb -I '$DEB' triggers >/dev/null 2>&1"
fi
x=$T/debx; mkdir -p "$x/c"; dpkg-deb -x "$DEB" "$x/d"; dpkg-deb -e "$DEB" "$x/c/DEBIAN"
check "md5sums match the files" 0 "" -- bash -c "cd '$x/d' && md5sum --quiet -c '$x/c/DEBIAN/md5sums'"
check "md5sums list every file" 0 "" -- bash -c "[ \$(wc -l <'$x/c/DEBIAN/md5sums') -eq \$(find '$x/d' -type f | wc -l) ]"
check "packaged ephemeral-init is static" 0 "" -- is_static "$x/d/usr/lib/qubes-ephemeral/ephemeral-init"
check "no maintainer scripts (the trigger does the work)" 0 "" -- bash -c "! ls '$x/c/DEBIAN' | grep -qE '^(pre|post)(inst|rm)$'"

echo "== lintian (allowed tags: tests/pkg/lintian-allowed)"
lintian_run "$T" --pedantic --display-info --display-experimental --show-overrides "$DEB"
lout=$(grep -v 'running with root privileges' "$T/lintian.out")
sed 's/^/     | /' <<<"$lout"
allowed=$(sed -n 's/^\([a-z0-9-]\+\) .*/\1/p' tests/pkg/lintian-allowed)
tags=$(grep -E '^[EWIPX]: ' <<<"$lout" | awk '{ print $3 }' | sort -u)
extra=$(comm -23 <(sed '/^$/d' <<<"$tags") <(sort -u <<<"$allowed"))
[ -z "$extra" ] && ok "lintian: only allowed tags ($(echo $tags))" || bad "lintian: tags not allowed: $(echo $extra)"
check "lintian: statically-linked-binary is overridden in the package" 0 "" -- grep -q '^O: qubes-ephemeral-vm: statically-linked-binary' <<<"$lout"

echo "== rpmlint (allowed tags: tests/pkg/rpmlint-allowed)"
specs=$(ls "$ROOT"/build/pkg-work/rpmbuild/SPECS/*.spec)
rout=$(rpmlint -c tests/pkg/rpmlint.toml "$DOM0" "$VMRPM" $specs 2>&1)
grep -E ': [EW]: ' <<<"$rout" | sed 's/^/     | /'
allowed=$(sed -n 's/^\([a-z0-9-]\+\) .*/\1/p' tests/pkg/rpmlint-allowed)
tags=$(grep -E ': [EW]: ' <<<"$rout" | sed -E 's/.*: [EW]: ([^ ]+).*/\1/' | sort -u)
extra=$(comm -23 <(sed '/^$/d' <<<"$tags") <(sort -u <<<"$allowed"))
if grep -qE 'packages and [0-9]+ specfiles checked' <<<"$rout" && [ -z "$extra" ]; then ok "rpmlint: only allowed tags"
else bad "rpmlint: tags not allowed: $(echo $extra)"; tail -3 <<<"$rout" | sed 's/^/     | /'; fi

echo "== contract paths (vm/ from branch invm)"
if [ -d vm ]; then
	for p in /usr/share/initramfs-tools/hooks/qubes-ephemeral /usr/share/initramfs-tools/scripts/local-top/qubes-ephemeral \
		/usr/share/initramfs-tools/scripts/init-bottom/qubes-ephemeral /usr/lib/dracut/modules.d/90qubes-ephemeral/module-setup.sh; do
		grep -q "^-rwxr-xr-x root:root $p\$" <<<"$(deb_files "$DEB")" && ok ".deb has $p (executable)" || bad ".deb has no executable $p"
	done
	grep -q " /usr/lib/dracut/modules.d/90qubes-ephemeral/module-setup.sh\$" <<<"$(rpm_files "$VMRPM")" &&
		ok "vm RPM has the dracut module's module-setup.sh" || bad "vm RPM has no 90qubes-ephemeral/module-setup.sh"
	n=$(rpm_files "$VMRPM" | grep -c '^-.* /usr/lib/dracut/modules.d/90qubes-ephemeral/')
	[ "$n" -ge 2 ] && ok "dracut module has module-setup.sh and $((n - 1)) more file(s)" || bad "dracut module has only $n file(s)"
else
	echo "note: no vm/ folder in this tree (branch invm not merged): contract paths not checked; tests/pkg/vm-fixture.sh checks the packaging of such files"
fi

summary
