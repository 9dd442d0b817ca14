# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# tests/vm/guard.sh: what keeps the harness from harming the machine.
# Sourced by lib.sh (run.sh, bench/run.sh), systemd-root.sh and invm-root.sh;
# tested by tests/vm/guard-test.sh.
#
# - Mount guards: a root tree that still has something mounted inside (a
#   debootstrap or chroot step left /proc, /sys or /dev behind) is never
#   copied, packed or removed: its mounts are taken down first, and if one
#   stays the caller gets a clear error. Copies never cross file systems.
# - Cache entries: each is built under its own lock (flock), in a temporary
#   folder next to it, and renamed in when complete, so two runs at once (a
#   developer's and CI's) never build or half-read the same entry.
# - Temporary folders (vm_tmpdir) are removed, mounts inside them first, on
#   every exit path (EXIT trap; INT and TERM turned into exits).
# - Run folders: the newest VM_KEEP_RUNS (default 5) are kept; a folder that
#   a live run still holds (its .lock) is never removed.
# Needs VM_CACHE set before any function is called.

_guard_err() { echo "vm: error: $*" >&2; }

# Mount points strictly below DIR, deepest first (one per line).
vm_mounts_below() { # DIR
	local d
	d=$(realpath -m -- "$1") || return 1
	# findmnt -r escapes blanks as \x20; our paths have none
	findmnt -rn -o TARGET | awk -v d="$d/" 'index($0, d) == 1' | LC_ALL=C sort -r
}

# Fails with a clear line when anything is mounted below DIR.
vm_assert_no_mounts() { # DIR
	local left
	left=$(vm_mounts_below "$1") || return 1
	[ -z "$left" ] && return 0
	_guard_err "still mounted below $1: $(tr '\n' ' ' <<<"$left")— refusing to use, copy or remove it; run 'umount -R' on those and retry"
	return 1
}

# Unmounts everything below DIR (deepest first; lazily if busy), then checks.
vm_umount_below() { # DIR
	local m
	while read -r m; do
		[ -n "$m" ] || continue
		umount -- "$m" 2>/dev/null || umount -l -- "$m" 2>/dev/null || _guard_err "cannot unmount $m"
	done < <(vm_mounts_below "$1")
	vm_assert_no_mounts "$1"
}

# Copies the tree SRC to DST (which must not exist): refuses when anything is
# mounted below SRC, and never crosses into another file system.
vm_copy_tree() { # SRC DST
	local src=$1 dst=$2
	[ -d "$src" ] || { _guard_err "copy: $src is not a folder"; return 1; }
	[ ! -e "$dst" ] || { _guard_err "copy: $dst exists already"; return 1; }
	vm_assert_no_mounts "$src" || return 1
	cp -a --one-file-system -- "$src" "$dst"
}

# Removes DIR: its mounts first (refuses if one stays), never crossing file systems.
vm_remove_tree() { # DIR
	[ -e "$1" ] || [ -L "$1" ] || return 0
	vm_umount_below "$1" || return 1
	rm -rf --one-file-system -- "$1"
}

# ---------------------------------------------------------------- temporary folders
_VM_TMPS=()
# Makes a temporary folder in PARENT (default $VM_CACHE, so that a product
# can be renamed into the cache) and stores its path in VAR. Removed on exit.
# Call it in the current shell (not in $(...)): it records the folder.
vm_tmpdir() { # VAR [PARENT]
	local _vt_parent=${2:-$VM_CACHE} _vt_dir
	mkdir -p "$_vt_parent" || return 1
	_vt_dir=$(mktemp -d "$_vt_parent/tmp.XXXXXX") || { _guard_err "cannot make a temporary folder in $_vt_parent"; return 1; }
	_VM_TMPS+=("$_vt_dir")
	printf -v "$1" %s "$_vt_dir"
}

vm_cleanup() {
	local d
	for d in "${_VM_TMPS[@]}"; do
		vm_remove_tree "$d" || _guard_err "left $d behind (see above)"
	done
	_VM_TMPS=()
	return 0
}

# EXIT runs vm_cleanup; INT and TERM become exits so that it runs then too.
# A script with its own EXIT trap calls vm_cleanup from it.
vm_traps() {
	trap vm_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# ---------------------------------------------------------------- cache entry locks
# Runs CMD... in a subshell holding the lock of the cache entry NAME
# ($VM_CACHE/locks/NAME.lock); temporary folders made in it go when it ends.
with_entry_lock() { # NAME CMD...
	local name=$1; shift
	mkdir -p "$VM_CACHE/locks" || return 1
	(
		_VM_TMPS=()
		vm_traps
		if ! flock -n 9; then
			echo "vm: waiting for the cache entry $name (another run is building it)" >&2
			flock 9 || { _guard_err "cannot lock $VM_CACHE/locks/$name.lock"; exit 1; }
		fi
		"$@"
	) 9>"$VM_CACHE/locks/$name.lock"
}

# The same for the builders called as `with_cache_lock BUILDER ARGS... OUT`:
# the entry is named after the last argument (the product's path).
with_cache_lock() { # CMD... OUT
	with_entry_lock "$(basename -- "${!#}")" "$@"
}

# For a whole script: takes the lock of entry NAME until the script exits.
vm_lock_entry() { # NAME
	local fd
	mkdir -p "$VM_CACHE/locks" || return 1
	exec {fd}>"$VM_CACHE/locks/$1.lock"
	if ! flock -n "$fd"; then
		echo "vm: waiting for the cache entry $1 (another run is building it)" >&2
		flock "$fd" || { _guard_err "cannot lock $VM_CACHE/locks/$1.lock"; return 1; }
	fi
}

# ---------------------------------------------------------------- debootstrap base
# A Debian 12 minbase root with PACKAGES, cached as $VM_CACHE/debootstrap-HASH
# (-> BASE). Built in a temporary folder, its mounts taken down (debootstrap
# mounts /proc and /sys inside its target and can leave them), renamed in.
debootstrap_base() { # PACKAGES -> BASE
	BASE=$VM_CACHE/debootstrap-$(echo "$1" | sha256sum | cut -c1-12)
	with_entry_lock "$(basename "$BASE")" _debootstrap_build "$1" "$BASE" || return 1
	vm_assert_no_mounts "$BASE"
}

_debootstrap_build() { # PACKAGES OUT
	local pkgs=$1 out=$2 tmp rc=0
	if [ -f "$out/.done" ]; then vm_assert_no_mounts "$out"; return; fi
	command -v debootstrap >/dev/null || { _guard_err "debootstrap missing; run scripts/install-deps.sh"; return 1; }
	# an unfinished base from an older harness
	vm_remove_tree "$out" || return 1
	vm_tmpdir tmp || return 1
	echo "vm: debootstrap of Debian 12 with $pkgs (a few minutes, once; log $out.log)" >&2
	debootstrap --variant=minbase --include="$pkgs" bookworm "$tmp/root" http://deb.debian.org/debian >"$out.log" 2>&1 || rc=$?
	vm_umount_below "$tmp" || return 1
	[ $rc -eq 0 ] || { _guard_err "debootstrap failed (exit $rc), see $out.log"; return 1; }
	rm -rf --one-file-system "$tmp/root"/var/cache/apt/archives/*.deb "$tmp/root"/var/lib/apt/lists/*
	touch "$tmp/root/.done"
	mv -T "$tmp/root" "$out"
}

# ---------------------------------------------------------------- run folders
# A new run folder $VM_CACHE/runs/DATE[-SUFFIX].XXXX (-> RUN_DIR), held by
# this process (flock on RUN_DIR/.lock) until it exits; older folders beyond
# the newest VM_KEEP_RUNS (default 5) go, unless a live run holds them.
vm_new_run_dir() { # [SUFFIX]
	local keep=${VM_KEEP_RUNS:-5} d fd n=0
	mkdir -p "$VM_CACHE/runs" || return 1
	RUN_DIR=$(mktemp -d "$VM_CACHE/runs/$(date +%Y%m%d-%H%M%S)${1:+-$1}.XXXX") || return 1
	exec {fd}>"$RUN_DIR/.lock"
	flock "$fd"
	while read -r d; do
		d=${d%/}
		n=$((n + 1))
		[ "$n" -le "$keep" ] && continue
		# a live run holds its folder's lock
		if [ -e "$d/.lock" ] && ! flock -n "$d/.lock" true; then continue; fi
		vm_remove_tree "$d" || true
	done < <(ls -1dt "$VM_CACHE"/runs/*/ 2>/dev/null)
	# temporary folders of runs killed outright (SIGKILL), a day old
	while read -r d; do
		if [ -n "$d" ]; then vm_remove_tree "$d" || true; fi
	done < <(find "$VM_CACHE" -maxdepth 1 -name 'tmp.*' -type d -mmin +1440 2>/dev/null)
	echo "vm: run folder $RUN_DIR (the newest $keep are kept in $VM_CACHE/runs; VM_KEEP_RUNS=N)" >&2
}
