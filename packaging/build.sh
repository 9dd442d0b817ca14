#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the packages without the Qubes builder, on Debian 12 (rpm's
# rpmbuild, dpkg-deb, dpkg-gencontrol):
#   qubes-ephemeral-dom0 RPM  (packaging/rpm/qubes-ephemeral-dom0.spec.in)
#   qubes-ephemeral-vm RPM    (packaging/rpm/qubes-ephemeral-vm.spec.in)
#   qubes-ephemeral-vm .deb   (packaging/debian: control data, from make install-vm)
# usage: packaging/build.sh [-o OUTDIR] [dom0-rpm|vm-rpm|vm-deb]...   (default: all three)
# OUTDIR defaults to build/packages. The RPMs are built from a source tarball
# of the files git tracks (their working-tree content; a file not yet
# `git add`ed is left out), as the Qubes builder does; without git, from the
# whole tree less build/ and the caches. Version: files `version` and `rel`.
set -euo pipefail
umask 022
cd "$(dirname "$0")/.."
SRC=$PWD
OUT=$SRC/build/packages
if [ "${1:-}" = -o ]; then OUT=$(realpath -m "$2"); shift 2; fi
[ $# -gt 0 ] || set -- dom0-rpm vm-rpm vm-deb
VERSION=$(cat version) REL=$(cat rel)
W=$SRC/build/pkg-work
NAME=qubes-ephemeral-$VERSION
export LC_ALL=C
# one timestamp for the tarball and the changelog-dated files: the last
# commit's, else the Debian changelog's
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || dpkg-parsechangelog -l packaging/debian/changelog -S Timestamp)
fi
export SOURCE_DATE_EPOCH

die() { echo "packaging/build.sh: $*" >&2; exit 1; }
# run LOG CMD...: quiet unless it fails, then the log's end
run() {
	local log=$1; shift
	"$@" >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "failed: $* (log: $log)"; }
}

source_tarball() {
	[ -f "$W/$NAME.tar.gz" ] && return 0
	mkdir -p "$W"
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done >"$W/files"
	else
		find . \( -path ./build -o -path ./tests/vm/cache -o -path ./tests/dom0/cache -o -path ./bench/cache -o -name .git \) -prune \
			-o \( -type f -o -type l \) -printf '%P\0' >"$W/files"
	fi
	tar --create --gzip --file "$W/$NAME.tar.gz" --no-recursion \
		--transform "s,^,$NAME/," --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime="@$SOURCE_DATE_EPOCH" --mode=go-w --null --files-from "$W/files"
}

rpm_package() { # SPEC-BASENAME
	local spec=$1
	source_tarball
	mkdir -p "$W/rpmbuild/SPECS" "$W/tmp" "$OUT"
	sed -e "s/@VERSION@/$VERSION/g" -e "s/@REL@/$REL/g" "packaging/rpm/$spec.spec.in" >"$W/rpmbuild/SPECS/$spec.spec"
	# --nodeps: BuildRequires name Fedora packages, unknown to rpm's
	# database on Debian (see the spec's head). Debian's brp-compress (man
	# pages -> .gz) needs bash but says #!/bin/sh (dash): run it with bash,
	# so the package has what a Fedora build gives.
	run "$W/$spec.log" rpmbuild -bb --nodeps \
		--define "_topdir $W/rpmbuild" --define "_sourcedir $W" --define "_rpmdir $OUT" \
		--define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
		--define "_tmppath $W/tmp" --define "use_source_date_epoch_as_buildtime 1" \
		--define "clamp_mtime_to_source_date_epoch 1" \
		--define "__brp_compress bash %{_rpmconfigdir}/brp-compress %{?_prefix}" \
		"$W/rpmbuild/SPECS/$spec.spec"
	ls "$OUT/$spec-$VERSION-$REL".*.rpm
}

deb_package() { # qubes-ephemeral-vm
	local pkg=qubes-ephemeral-vm
	local root=$W/deb/$pkg
	rm -rf "$root"
	mkdir -p "$root/DEBIAN" "$OUT"
	run "$W/$pkg.deb.log" make install-vm DESTDIR="$root" PREFIX=/usr
	# what dh_strip does: .comment and .note sections out
	strip --remove-section=.comment --remove-section=.note "$root/usr/lib/qubes-ephemeral/ephemeral-init"
	# what dh_lintian does: the package's lintian overrides
	install -D -m 0644 packaging/debian/$pkg.lintian-overrides "$root/usr/share/lintian/overrides/$pkg"
	# Debian policy: copyright and changelog in the package's doc folder
	install -D -m 0644 packaging/debian/copyright "$root/usr/share/doc/$pkg/copyright"
	gzip -9nc packaging/debian/changelog >"$root/usr/share/doc/$pkg/changelog.Debian.gz"
	# What dh_installinitramfs adds: an initramfs-tools hook makes the
	# package ask initramfs-tools (when installed) to rebuild the initramfs,
	# once per dpkg run, on install, upgrade and removal.
	if compgen -G "$root/usr/share/initramfs-tools/hooks/*" >/dev/null; then
		echo "activate-noawait update-initramfs" >"$root/DEBIAN/triggers"
	fi
	(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0r md5sum) >"$root/DEBIAN/md5sums"
	echo "misc:Depends=" >"$W/substvars"
	# the control file from packaging/debian/control (Installed-Size computed)
	run "$W/$pkg.gencontrol.log" dpkg-gencontrol -p"$pkg" -cpackaging/debian/control -lpackaging/debian/changelog \
		-f"$W/debian-files" -T"$W/substvars" -P"$root" -v"$VERSION-$REL"
	chmod 0644 "$root/DEBIAN"/*
	find "$root" -type d -exec chmod 0755 {} +
	# file times: no later than the source's
	find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
	local deb=$OUT/${pkg}_$VERSION-${REL}_amd64.deb
	run "$W/$pkg.deb.log" dpkg-deb --root-owner-group -Zxz --build "$root" "$deb"
	echo "$deb"
}

rm -rf "$W"
for what; do
	case $what in
	dom0-rpm) rpm_package qubes-ephemeral-dom0 ;;
	vm-rpm) rpm_package qubes-ephemeral-vm ;;
	vm-deb) deb_package ;;
	*) die "unknown package $what (dom0-rpm, vm-rpm, vm-deb)" ;;
	esac
done
