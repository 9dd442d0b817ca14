# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by tests/pkg/*.sh, on top of tests/lib/assert.sh (ok, bad, check,
# is, summary): list comparison and the expected package contents.
# Sourced from the repository's top folder.
. tests/lib/assert.sh
# same_list DESC WANTED GOT: two newline-separated lists, compared sorted;
# the difference is shown
same_list() {
	local d
	d=$(diff <(sort <<<"$2" | sed '/^$/d') <(sort <<<"$3" | sed '/^$/d')) && { ok "$1"; return 0; }
	bad "$1 (< wanted only, > got only)"; sed 's/^/     | /' <<<"$d"; return 1
}

# vm_layout SRC: "MODE PATH" of each file `make install-vm` makes from
# SRC/vm, as the template packages must carry it (PREFIX=/usr):
# vm/initramfs-tools/X -> /usr/share/initramfs-tools/X,
# vm/dracut/X -> /usr/lib/dracut/modules.d/X; executable bit kept.
vm_layout() {
	local src=$1 f m
	(cd "$src" && find vm/initramfs-tools vm/dracut -type f 2>/dev/null | sort) | while IFS= read -r f; do
		if [ -x "$src/$f" ]; then m=-rwxr-xr-x; else m=-rw-r--r--; fi
		case $f in
		vm/initramfs-tools/*) echo "$m /usr/share/${f#vm/}" ;;
		vm/dracut/*) echo "$m /usr/lib/dracut/modules.d/${f#vm/dracut/}" ;;
		esac
	done
}
# dirs_of: the folders (below /usr/lib/dracut/modules.d or
# /usr/share/initramfs-tools) of the paths on stdin
dirs_of() { # BASE
	local p
	while IFS= read -r p; do
		p=${p%/*}
		while [ "${#p}" -gt "${#1}" ]; do echo "$p"; p=${p%/*}; done
	done | sort -u
}

# rpm_files RPM: "MODE OWNER:GROUP PATH" per entry
rpm_files() { rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "$1"; }
# deb_files DEB: "MODE OWNER:GROUP PATH" per entry, folders with a trailing /
deb_files() { dpkg-deb -c "$1" | awk '{ p = $6; sub(/^\./, "", p); sub(/\//, ":", $2); print $1, $2, p }'; }

# ELF file without a program interpreter = statically linked
is_static() { readelf -h "$1" >/dev/null 2>&1 && ! readelf -l "$1" | grep -q 'Requesting program interpreter'; }

# lintian leaves its temporary databases (mldbm-elf-*) behind in TMPDIR: it
# runs with TMPDIR in the test's own folder (removed on exit), and the test
# fails if /tmp got such files from the run anyway.
lintian_run() { # TMP_DIR LINTIAN_ARG...   (output in TMP_DIR/lintian.out)
	local t=$1 left
	shift
	: >"$t/.lintian-start"
	TMPDIR=$t lintian "$@" >"$t/lintian.out" 2>&1
	left=$(find /tmp -maxdepth 1 -name 'mldbm-*' -newer "$t/.lintian-start" 2>/dev/null | tr '\n' ' ')
	if [ -z "$left" ]; then ok "lintian left nothing in /tmp"; else bad "lintian left files in /tmp: $left"; fi
}
