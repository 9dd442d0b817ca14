#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/vm/guard-test.sh: the harness' guards (guard.sh) against real mounts
# and real concurrent runs, in a temporary folder under /tmp (root: mount).
#   - a base with a tmpfs or a bind mount inside is refused by the copy helper,
#     and a removal never reaches into what is bound inside;
#   - a debootstrap that leaves /proc mounted in its target (a stand-in on
#     PATH) yields a base with nothing mounted inside; a failing one leaves
#     neither mounts nor temporary folders;
#   - two concurrent builds of one cache entry: one build, one intact entry
#     (and without the lock, the same two runs do build twice: the test can fail);
#   - temporary folders with a mount inside go on exit 1, SIGTERM and SIGINT;
#   - run folders: the newest N stay, a folder a live run holds stays.
# Ends with "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/assert.sh"

if [ "$(id -u)" -ne 0 ]; then echo "guard-test: needs root (mount)"; echo "0 passed, 1 failed"; exit 1; fi

T=$(mktemp -d /tmp/qe-guard.XXXXXX)
BG=()
cleanup() {
	local p m
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	# whatever a failed check left mounted under T, deepest first
	findmnt -rn -o TARGET | awk -v d="$T/" 'index($0, d) == 1' | LC_ALL=C sort -r |
		while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
	rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export VM_CACHE=$T/cache
. "$here/guard.sh"
mounts_under() { findmnt -rn -o TARGET | awk -v d="$1/" 'index($0, d) == 1' | wc -l; }

echo "== copy and removal refuse a base with mounts inside"
B=$T/base
mkdir -p "$B"/{proc,dev,etc} "$T/precious"
echo base >"$B/etc/hostname"
echo keep >"$T/precious/file"
mount -t tmpfs -o size=4m tmpfs "$B/proc"
echo kcore-stand-in >"$B/proc/kcore"
check "copy refused with a tmpfs on proc" 1 "still mounted below .*/base.*refusing" -- vm_copy_tree "$B" "$T/copy1"
is "nothing copied" "$([ -e "$T/copy1" ] && echo copied || echo none)" none
mount --bind "$T/precious" "$B/dev"
check "copy refused with a bind mount on dev too" 1 "base/dev" -- vm_copy_tree "$B" "$T/copy1"
vm_tmpdir d "$T"
check "copy across file systems skips the mount's contents (cp -x)" 0 "" -- cp -a --one-file-system "$B" "$d/x"
is "  no kcore in that copy" "$(ls -A "$d/x/proc")" ""
check "mounts taken down" 0 "" -- vm_umount_below "$B"
is "  none left" "$(mounts_under "$B")" 0
check "copy of the clean base" 0 "" -- vm_copy_tree "$B" "$T/copy2"
is "  copy complete" "$(cat "$T/copy2/etc/hostname")" base
check "copy onto an existing folder refused" 1 "exists already" -- vm_copy_tree "$B" "$T/copy2"
mount --bind "$T/precious" "$B/dev"
check "removal of a base with a bind mount inside" 0 "" -- vm_remove_tree "$B"
is "  base gone" "$([ -e "$B" ] && echo there || echo gone)" gone
is "  what was bound inside is untouched" "$(cat "$T/precious/file" 2>/dev/null)" keep
is "  no mount left" "$(mounts_under "$T")" 0

echo "== debootstrap leaving /proc mounted (stand-in on PATH)"
mkdir -p "$T/bin"
cat >"$T/bin/debootstrap" <<'EOF'
#!/bin/bash
# stand-in: makes a tiny root, mounts a tmpfs on its /proc and leaves it
for a; do target=$b; b=$a; done   # the second-to-last argument is the target
mkdir -p "$target"/{proc,etc}
echo fake >"$target/etc/os-release"
mount -t tmpfs -o size=1m tmpfs "$target/proc"
exit "${FAKE_DEBOOTSTRAP_RC:-0}"
EOF
chmod 755 "$T/bin/debootstrap"
check "base built" 0 "" -- env PATH="$T/bin:$PATH" bash -c ". '$here/guard.sh'; debootstrap_base pkgA; echo \$BASE >'$T/base.path'"
base=$(cat "$T/base.path" 2>/dev/null)
is "  base complete" "$(cat "$base/etc/os-release" 2>/dev/null)" fake
is "  nothing mounted inside the cache" "$(mounts_under "$VM_CACHE")" 0
is "  no temporary folder left" "$(find "$VM_CACHE" -maxdepth 1 -name 'tmp.*' | wc -l)" 0
check "a failing debootstrap" 1 "debootstrap failed" -- env PATH="$T/bin:$PATH" FAKE_DEBOOTSTRAP_RC=3 bash -c ". '$here/guard.sh'; debootstrap_base pkgB"
is "  nothing mounted inside the cache" "$(mounts_under "$VM_CACHE")" 0
is "  no temporary folder left" "$(find "$VM_CACHE" -maxdepth 1 -name 'tmp.*' | wc -l)" 0
is "  no half base" "$(find "$VM_CACHE" -maxdepth 1 -name 'debootstrap-*' -type d | wc -l)" 1
mount -t tmpfs -o size=1m tmpfs "$base/proc"
check "a cached base with a mount inside is refused" 1 "still mounted below" -- bash -c ". '$here/guard.sh'; debootstrap_base pkgA"
umount "$base/proc"

echo "== two concurrent builds of one cache entry"
cat >"$T/build.sh" <<'EOF'
#!/bin/bash
# builds ENTRY slowly in a temporary folder, renames it in; LOCK=none: no lock
set -euo pipefail
. "$1/guard.sh"; vm_traps
out=$VM_CACHE/entry-$2
_build() {
	local out=$1 tmp i
	[ -f "$out" ] && return 0
	echo "build $$" >>"$VM_CACHE/builds-$(basename "$out")"
	vm_tmpdir tmp
	for i in $(seq 1 20); do echo "line $i" >>"$tmp/e"; sleep 0.05; done
	mv "$tmp/e" "$out"
}
if [ "${LOCK:-}" = none ]; then ( _VM_TMPS=(); vm_traps; _build "$out" ); else with_cache_lock _build "$out"; fi
[ "$(wc -l <"$out")" -eq 20 ]
EOF
chmod 755 "$T/build.sh"
"$T/build.sh" "$here" locked & p1=$!
"$T/build.sh" "$here" locked & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
is "both runs succeed and read a whole entry" "$r1 $r2" "0 0"
is "  built once" "$(wc -l <"$VM_CACHE/builds-entry-locked")" 1
is "  entry intact" "$(md5sum <"$VM_CACHE/entry-locked")" "$(seq 1 20 | sed 's/^/line /' | md5sum)"
is "  no temporary folder left" "$(find "$VM_CACHE" -maxdepth 1 -name 'tmp.*' | wc -l)" 0
LOCK=none "$T/build.sh" "$here" nolock & p1=$!
LOCK=none "$T/build.sh" "$here" nolock & p2=$!
wait $p1; wait $p2
is "control: without the lock both runs build" "$(wc -l <"$VM_CACHE/builds-entry-nolock")" 2

echo "== temporary folders with a mount inside go on every exit path"
cat >"$T/tmp.sh" <<'EOF'
#!/bin/bash
# makes a temporary folder with a tmpfs inside, then ends as $2 says
. "$1/guard.sh"; vm_traps
vm_tmpdir t
mkdir "$t/m"; mount -t tmpfs -o size=1m tmpfs "$t/m"
echo "$t" >"$VM_CACHE/tmp.path"
case $2 in
fail) false || exit 1 ;;
term) kill -TERM $$; sleep 5 ;;
int) kill -INT $$; sleep 5 ;;
esac
EOF
chmod 755 "$T/tmp.sh"
for how in fail term int; do
	"$T/tmp.sh" "$here" "$how" >/dev/null 2>&1
	t=$(cat "$VM_CACHE/tmp.path" 2>/dev/null)
	is "exit by $how: folder gone, nothing mounted" "$([ -n "$t" ] && [ ! -e "$t" ] && echo clean) $(mounts_under "$VM_CACHE")" "clean 0"
	rm -f "$VM_CACHE/tmp.path"
done
cat >"$T/lock-tmp.sh" <<'EOF'
#!/bin/bash
# a builder under the lock fails after making a temporary folder with a mount
set -euo pipefail
. "$1/guard.sh"; vm_traps
vm_tmpdir outer
_b() { local t; vm_tmpdir t; mkdir "$t/m"; mount -t tmpfs -o size=1m tmpfs "$t/m"; echo "$t" >"$VM_CACHE/inner.path"; return 1; }
with_entry_lock e _b || true
# the builder's folder is gone, the caller's is still there
[ ! -e "$(cat "$VM_CACHE/inner.path")" ] && [ -d "$outer" ] && echo "inner gone, outer kept"
EOF
chmod 755 "$T/lock-tmp.sh"
check "a failing builder under the lock leaves only the caller's folder" 0 "inner gone, outer kept" -- "$T/lock-tmp.sh" "$here"
is "  then none left" "$(find "$VM_CACHE" -maxdepth 1 -name 'tmp.*' | wc -l) $(mounts_under "$VM_CACHE")" "0 0"

echo "== run folders: the newest N and live ones stay"
mkdir -p "$VM_CACHE/runs"
for i in 1 2 3 4 5 6 7; do
	mkdir "$VM_CACHE/runs/2020010$i-000000.AAAA"; touch "$VM_CACHE/runs/2020010$i-000000.AAAA/.lock"
	touch -d "2020-01-0$i" "$VM_CACHE/runs/2020010$i-000000.AAAA"
done
bash -c 'exec 9>"$1"; flock 9; exec sleep 60' _ "$VM_CACHE/runs/20200101-000000.AAAA/.lock" & BG+=($!)
sleep 0.3
check "a new run folder" 0 "run folder .*/runs/" -- bash -c ". '$here/guard.sh'; VM_KEEP_RUNS=3 vm_new_run_dir test"
is "  the 3 newest and the held one remain" "$(ls "$VM_CACHE/runs" | sed 's/\..*//' | grep -v -- -test | tr '\n' ' ')" "20200101-000000 20200106-000000 20200107-000000 "

summary
