#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# qvm-ephemeral kernel add|sync|list on fixture kernel folders made from the
# Debian test kernel (tests/dom0/kernel/lib.sh): initramfs in gzip, zstd, xz
# and uncompressed, each with and without an early uncompressed cpio in
# front; modules.img = ext3 with KVER/ + copies of vmlinuz and initramfs.
# Also: idempotence, staleness, sync (with and without a fake qubesd), every
# error case of issue 4, no space, and SIGKILL at each step of a build
# (QVM_EPHEMERAL_TEST_KILL_AT). Ends with "N passed, N failed".
. "$(dirname "$0")/common.sh"   # the "in use" checks run against $DOM0_SERVER
INIT=$ROOT/build/ephemeral-init
dom0_build qvm-ephemeral-test ephemeral-init
# shellcheck source=tests/dom0/kernel/lib.sh
. tests/dom0/kernel/lib.sh
dom0_tmp qvm-kernel
K=$T/kernels
MNT=
dom0_at_exit '[ -n "$MNT" ] && umount "$MNT" 2>/dev/null'
# no qubesd unless a test starts the fake one; no qrexec-client-vm either
export QUBESD_SOCKET=$T/no-qubesd.sock QUBES_VM_KERNELS_DIR=$K
unset QVM_EPHEMERAL_INIT QVM_EPHEMERAL_TEST_KILL_AT QVM_EPHEMERAL_DEBUGFS

Q() { "$QVM" kernel --kernels-dir "$K" --init-binary "$INIT" "$@"; }
tree_sha() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
tree_stat() { (cd "$1" && find . -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %i %Y %s'); }
leftovers() { find "$K" -maxdepth 1 -name '.*' -printf '%f\n' | sort; }
INIT_SHA=$(sha256sum "$INIT" | cut -d' ' -f1)
WANT_VERSION="qubes-ephemeral $(cat "$ROOT/version") init-sha256=$INIT_SHA"

# Checks a variant against its original; extracts what the kernel would.
check_variant() { # NAME
	local o=$K/$1 v=$K/$1-ephemeral x=$T/x.$1 osize off lead=0
	rm -rf "$x" && mkdir -p "$x/ours"
	osize=$(stat -c %s "$o/initramfs")
	# a gzip'ed original gets the lead (an empty uncompressed cpio, 512
	# bytes) in front, so Xen's domain builder does not try to gunzip it
	if [ "$(head -c 2 "$o/initramfs" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
		lead=512
		is "$1: lead = an empty cpio (trailer only), padded to 512" \
			"$(head -c 512 "$v/initramfs" | cpio -it 2>&1 | tr '\n' ' ')" "1 block "
		is "$1: Xen sees no gzip magic at the start" "$(head -c 6 "$v/initramfs")" 070701
	else
		is "$1: no lead before a non-gzip original" "$(head -c 2 "$v/initramfs" | od -An -tx1)" "$(head -c 2 "$o/initramfs" | od -An -tx1)"
	fi
	off=$(( lead + (osize + 511) / 512 * 512 ))
	cmp -s -n "$osize" "$o/initramfs" <(tail -c +$((lead + 1)) "$v/initramfs") && ok "$1: variant initramfs holds the original bytes (after the lead: $lead)" ||
		bad "$1: variant initramfs does not hold the original bytes after $lead"
	is "$1: zero padding to 512" "$(tail -c +$((lead + osize + 1)) "$v/initramfs" | head -c $((off - lead - osize)) | tr -d '\0' | wc -c)" 0
	# our archive: the last one, holding /init = ephemeral-init and the version
	tail -c +$((off + 1)) "$v/initramfs" >"$x/tail"
	(cd "$x/ours" && cpio -id --quiet <"$x/tail") 2>/dev/null
	cmp -s "$x/ours/init" "$INIT" && ok "$1: the appended /init is ephemeral-init" || bad "$1: appended /init is not ephemeral-init"
	is "$1: version file inside" "$(cat "$x/ours/usr/lib/qubes-ephemeral/version" 2>&1)" "$WANT_VERSION"
	# the storage stack's modules, from modules.img's KV/ folder, with their modules.dep lines
	local cm=$x/ours/usr/lib/qubes-ephemeral/modules
	is "$1: carried modules.dep lists dm-crypt" "$(grep -c '^kernel/drivers/md/dm-crypt.ko[^:]*: kernel/drivers/md/dm-mod.ko' "$cm/modules.dep" 2>&1)" 1
	cmp -s "$cm/kernel/drivers/md/dm-thin-pool.ko" "$T/mods/kernel/drivers/md/dm-thin-pool.ko" &&
		ok "$1: dm-thin-pool carried as it is in modules.img" || bad "$1: dm-thin-pool not carried (or changed)"
	# the appended archive ends the file: cpio consumed all of it (512-byte blocks)
	local blocks
	blocks=$(cpio -it <"$x/tail" 2>&1 >/dev/null | grep -oE '^[0-9]+')
	is "$1: nothing after our archive" "$((blocks * 512))" "$(stat -c %s "$x/tail")"
	# the original part still unpacks (the kernel reads it before ours)
	local lastpart
	case $1 in
	*-gzip) lastpart="gzip -dc" ;; *-zstd) lastpart="zstd -dcq" ;; *-xz) lastpart="xz -dc" ;; *) lastpart=cat ;;
	esac
	local skip=0
	[[ $1 == *ucode* ]] && skip=$(stat -c %s "$T/early.cpio")
	if tail -c +$((skip + 1)) "$o/initramfs" | $lastpart 2>/dev/null | cpio -it 2>/dev/null | grep -qx init; then
		ok "$1: original part decompresses to a cpio with init"
	else
		bad "$1: original part does not decompress ($lastpart)"
	fi
	# the original /init, kept for stock mode (ephemeral-init runs it without qubes.ephemeral=1)
	mkdir -p "$x/orig"
	tail -c +$((skip + 1)) "$o/initramfs" | $lastpart 2>/dev/null | (cd "$x/orig" && cpio -id --quiet init) 2>/dev/null
	if [ -s "$x/orig/init" ] && cmp -s "$x/orig/init" "$x/ours/usr/lib/qubes-ephemeral/original-init"; then
		ok "$1: the original /init is kept as usr/lib/qubes-ephemeral/original-init"
	else
		bad "$1: the original /init is not kept as usr/lib/qubes-ephemeral/original-init"
	fi
	is "$1: kept init is executable" "$(stat -c %a "$x/ours/usr/lib/qubes-ephemeral/original-init" 2>&1)" 755
	# modules.img: its initramfs copy is the variant's initramfs; the rest as before
	debugfs -R "dump /initramfs $x/mi" "$v/modules.img" >/dev/null 2>&1
	is "$1: modules.img's initramfs = variant initramfs" "$(sha256sum <"$x/mi")" "$(sha256sum <"$v/initramfs")"
	debugfs -R "dump /vmlinuz $x/mv" "$v/modules.img" >/dev/null 2>&1
	cmp -s "$x/mv" "$o/vmlinuz" && ok "$1: modules.img's vmlinuz unchanged" || bad "$1: modules.img's vmlinuz changed"
	is "$1: modules.img top level as before" "$(debugfs -R 'ls /' "$v/modules.img" 2>/dev/null | tr -s ' \n' '\n\n' | grep -v '^$' | sort)" \
		"$(debugfs -R 'ls /' "$o/modules.img" 2>/dev/null | tr -s ' \n' '\n\n' | grep -v '^$' | sort)"
	check "$1: modules.img is clean (e2fsck -fn)" 0 "" -- e2fsck -fn "$v/modules.img"
	for f in vmlinuz default-kernelopts-common.txt memory-hotplug-supported; do
		cmp -s "$o/$f" "$v/$f" || { bad "$1: $f differs"; continue; }
	done
	ok "$1: other files copied as they are"
}

echo "== fixtures from the Debian test kernel"
kt_kernel || { echo "0 passed, 1 failed"; exit 1; }
echo "kernel $KV from $KROOT"
mkdir -p "$K" "$T/w"
kt_base_cpio "$T/w" "$T/base.cpio"
kt_early_cpio "$T/w" "$T/early.cpio"
kt_small_moddir "$T/mods"
VMLINUZ=$KROOT/boot/vmlinuz-$KV
FIXTURES=()
for comp in gzip zstd xz none; do
	for early in "" ucode-; do
		name=6.1-$early$comp
		kt_compress $comp <"$T/base.cpio" >"$T/main.$comp"
		if [ -n "$early" ]; then cat "$T/early.cpio" "$T/main.$comp" >"$T/initrd"; else cp "$T/main.$comp" "$T/initrd"; fi
		kt_kernel_folder "$K" "$name" "$VMLINUZ" "$T/initrd" "$T/mods"
		FIXTURES+=("$name")
	done
done
ok "${#FIXTURES[@]} fixture kernels: ${FIXTURES[*]}"
tree_sha "$K" >"$T/orig.sha"

echo "== CLI"
check "kernel --help" 0 "usage: qvm-ephemeral kernel" -- "$QVM" kernel --help
check "no subcommand is a usage error" 2 "usage" -- "$QVM" kernel
check "add without VER is a usage error" 2 "usage" -- Q add
check "unknown option is a usage error" 2 "unknown option" -- Q add --bogus 6.1-gzip
check "list takes no argument" 2 "usage" -- Q list extra

echo "== add, every compression"
for n in "${FIXTURES[@]}"; do
	check "$n: add" 0 "^$n-ephemeral: made from $n" -- Q add "$n" && check_variant "$n"
done
is "originals unchanged (sha256 of every file)" "$(tree_sha "$K" | grep -v -- '-ephemeral/')" "$(cat "$T/orig.sha")"
is "no leftovers" "$(leftovers)" ""

echo "== list"
Q list >"$T/list" 2>&1
cat "$T/list"
check "list: header" 0 "^NAME +KIND +STATE +VERSION" -- cat "$T/list"
check "list: originals have their variant" 0 "^6.1-gzip +original +ok +variant 6.1-gzip-ephemeral is current" -- cat "$T/list"
check "list: variants are current, with the version inside" 0 "^6.1-ucode-zstd-ephemeral +variant +current +$WANT_VERSION$" -- cat "$T/list"
is "list: one line per variant" "$(grep -cE -- '^[^ ]+-ephemeral +variant ' "$T/list")" "${#FIXTURES[@]}"
is "list: one line per original" "$(grep -cE -- '^[^ ]+ +original ' "$T/list")" "${#FIXTURES[@]}"

echo "== idempotent"
tree_stat "$K/6.1-gzip-ephemeral" >"$T/st1"
check "add again: current, nothing done" 0 "^6.1-gzip-ephemeral: current \(qubes-ephemeral" -- Q add 6.1-gzip
is "add again: no file rewritten (inode, mtime)" "$(tree_stat "$K/6.1-gzip-ephemeral")" "$(cat "$T/st1")"
check "kernels dir from \$QUBES_VM_KERNELS_DIR" 0 "^6.1-gzip-ephemeral: current" -- "$QVM" kernel --init-binary "$INIT" add 6.1-gzip
touch "$K/6.1-gzip/initramfs"
check "touched original, same bytes: still current" 0 "^6.1-gzip-ephemeral +variant +current" -- Q list
check "... add: current" 0 "^6.1-gzip-ephemeral: current" -- Q add 6.1-gzip
is "... only the manifest was rewritten" "$(tree_stat "$K/6.1-gzip-ephemeral" | grep -v qubes-ephemeral-source | grep -v '^\. ')" \
	"$(grep -v qubes-ephemeral-source "$T/st1" | grep -v '^\. ')"

echo "== stale"
echo "extra" >>"$K/6.1-xz/default-kernelopts-common.txt"
check "changed original file: stale, says which" 0 "^6.1-xz-ephemeral +variant +stale +6.1-xz/default-kernelopts-common.txt changed" -- Q list
check "changed original file: add rebuilds" 0 "6.1-xz-ephemeral: stale: .*rebuilding" -- Q add 6.1-xz
check "... then current" 0 "^6.1-xz-ephemeral +variant +current" -- Q list
cmp -s "$K/6.1-xz/default-kernelopts-common.txt" "$K/6.1-xz-ephemeral/default-kernelopts-common.txt" &&
	ok "... with the new file" || bad "... the new file was not copied"
echo "new" >"$K/6.1-xz/default-kernelopts-pci.txt"
check "new file in the original: stale" 0 "^6.1-xz-ephemeral +variant +stale +6.1-xz/default-kernelopts-pci.txt is new" -- Q list
check "... add copies it" 0 "made from 6.1-xz" -- Q add 6.1-xz
[ -f "$K/6.1-xz-ephemeral/default-kernelopts-pci.txt" ] && ok "... present in the variant" || bad "... missing in the variant"
cp "$INIT" "$T/init2" && echo >>"$T/init2"
check "other ephemeral-init: stale" 0 "^6.1-none-ephemeral +variant +stale +made with another ephemeral-init" -- \
	"$QVM" kernel --kernels-dir "$K" --init-binary "$T/init2" list
check "list without a readable init binary still works" 0 "^6.1-none-ephemeral +variant +current" -- \
	"$QVM" kernel --kernels-dir "$K" --init-binary "$T/nonexistent" list
check "--force rebuilds a current variant" 0 "6.1-none-ephemeral: forced, rebuilding" -- Q add --force 6.1-none
check "a broken variant is reported" 0 "^6.1-none-ephemeral +variant +broken" -- bash -c "truncate -s 1000 '$K/6.1-none-ephemeral/vmlinuz' && $(declare -f Q); QVM='$QVM' K='$K' INIT='$INIT' Q list"
check "... and rebuilt by add" 0 "6.1-none-ephemeral: broken: vmlinuz missing or changed, rebuilding" -- Q add 6.1-none

echo "== errors: clear message, nothing changed"
mkdir -p "$T/bad"
tree_sha "$K" >"$T/before.sha"
check "unknown VER" 1 "cannot make nosuch-ephemeral: no kernel nosuch in $K" -- Q add nosuch
check "a variant given as VER" 1 "is a variant" -- Q add 6.1-gzip-ephemeral
check "VER with a slash" 1 "not a kernel name" -- Q add ../etc
mkdir -p "$K/novmlinuz" && cp "$K/6.1-gzip/initramfs" "$K/6.1-gzip/modules.img" "$K/novmlinuz/"
check "folder without vmlinuz" 1 "novmlinuz has no vmlinuz \(not a kernel\)" -- Q add novmlinuz
mkbad() { # NAME: a copy of 6.1-gzip to break
	rm -rf "${K:?}/$1" && cp -a "$K/6.1-gzip" "$K/$1"
}
mkbad badrandom && head -c 100000 /dev/urandom | tr '\0\037\050\375\135\102\002\211' 'xxxxxxxx' >"$K/badrandom/initramfs"
check "initramfs of random bytes" 1 "badrandom/initramfs is not an initramfs the kernel can unpack: no cpio archive nor known compression" -- Q add badrandom
mkbad badgz && echo "just text" | gzip >"$K/badgz/initramfs"
check "gzip that is not a cpio" 1 "badgz/initramfs .*gzip part at offset 0 does not decompress to a cpio" -- Q add badgz
mkbad badtrunc && head -c 5000 "$T/base.cpio" >"$K/badtrunc/initramfs"
check "truncated cpio" 1 "badtrunc/initramfs .*broken or truncated cpio" -- Q add badtrunc
mkbad badempty && : >"$K/badempty/initramfs"
check "empty initramfs" 1 "badempty/initramfs is empty" -- Q add badempty
mkbad badearly && { cat "$T/early.cpio"; echo "garbage after the early cpio"; } >"$K/badearly/initramfs"
check "garbage after an early cpio" 1 "badearly/initramfs .*no cpio archive nor known compression" -- Q add badearly
mkbad badimg && head -c 4M /dev/zero >"$K/badimg/modules.img"
check "modules.img not an ext image" 1 "badimg/modules.img is not an ext2/3/4 image" -- Q add badimg
mkbad noinitcopy && debugfs -w -R "rm /initramfs" "$K/noinitcopy/modules.img" >/dev/null 2>&1
check "modules.img without the initramfs copy" 1 "noinitcopy/modules.img lacks the initramfs copy" -- Q add noinitcopy
mkbad nomodimg && rm "$K/nomodimg/modules.img"
check "folder without modules.img" 1 "nomodimg has no modules.img" -- Q add nomodimg
check "no debugfs" 1 "debugfs not found \(install e2fsprogs\)" -- env QVM_EPHEMERAL_DEBUGFS=/nonexistent/debugfs "$QVM" kernel --kernels-dir "$K" --init-binary "$INIT" add 6.1-ucode-none --force
check "no init binary" 1 "cannot read the ephemeral-init binary $T/nonexistent" -- "$QVM" kernel --kernels-dir "$K" --init-binary "$T/nonexistent" add 6.1-gzip
check "init binary that is not ELF" 1 "cannot read the ephemeral-init binary" -- "$QVM" kernel --kernels-dir "$K" --init-binary "$K/6.1-gzip/default-kernelopts-common.txt" add 6.1-gzip
# a full modules.img: the bigger initramfs does not fit inside
mkbad fullimg
free=$(dumpe2fs -h "$K/fullimg/modules.img" 2>/dev/null | awk -F: '/^Free blocks/{print $2+0}')
bs=$(dumpe2fs -h "$K/fullimg/modules.img" 2>/dev/null | awk -F: '/^Block size/{print $2+0}')
# (not zeros: debugfs would write those as a hole)
head -c $(( (free - free / 200 - 24) * bs )) /dev/zero | tr '\0' x >"$T/filler"
debugfs -w -R "write $T/filler /filler" "$K/fullimg/modules.img" >/dev/null 2>&1
tree_sha "$K/fullimg" >"$T/full.sha"
check "modules.img without room: fails closed" 1 "initramfs inside the new modules.img is not the new initramfs" -- Q add fullimg
is "... original unchanged" "$(tree_sha "$K/fullimg")" "$(cat "$T/full.sha")"
for b in badrandom badgz badtrunc badempty badearly badimg noinitcopy nomodimg fullimg novmlinuz nosuch; do
	[ -e "$K/$b-ephemeral" ] && bad "$b-ephemeral was made"
done
ok "no variant made for any bad input"
is "no leftovers after errors" "$(leftovers)" ""
is "every original unchanged" "$(tree_sha "$K" | grep -v -- '-ephemeral/' | grep -E '\./6\.1-')" "$(grep -v -- '-ephemeral/' "$T/before.sha" | grep -E '\./6\.1-')"
rm -rf "${K:?}"/{badrandom,badgz,badtrunc,badempty,badearly,badimg,noinitcopy,nomodimg,fullimg,novmlinuz}

echo "== no space left"
MNT=$T/small
mkdir -p "$MNT/kernels"
small=$(( $(du -sm "$K/6.1-zstd" | cut -f1) + 6 ))
if mount -t tmpfs -o size=${small}m tmpfs "$MNT" 2>/dev/null; then
	mkdir -p "$MNT/kernels" && cp -a --sparse=always "$K/6.1-zstd" "$MNT/kernels/"
	tree_sha "$MNT/kernels/6.1-zstd" >"$T/small.sha"
	check "no space: clear error" 1 "No space left on device" -- "$QVM" kernel --kernels-dir "$MNT/kernels" --init-binary "$INIT" add 6.1-zstd
	is "no space: only the original is there" "$(ls -A "$MNT/kernels")" "6.1-zstd"
	is "no space: original unchanged" "$(tree_sha "$MNT/kernels/6.1-zstd")" "$(cat "$T/small.sha")"
	umount "$MNT"; MNT=
else
	# no mount here: a file size limit gives EFBIG instead of ENOSPC
	check "no space (ulimit -f): clear error" 1 "File too large|No space" -- bash -c "ulimit -f 4096; exec '$QVM' kernel --kernels-dir '$K' --init-binary '$INIT' add --force 6.1-zstd"
fi

echo "== killed while adding: never a half variant"
steps="tmpdir copy append initramfs modules-copy debugfs manifest"
for s in $steps; do
	rm -rf "${K:?}/6.1-gzip-ephemeral"
	tree_sha "$K/6.1-gzip" >"$T/k.sha"
	QVM_EPHEMERAL_TEST_KILL_AT=$s Q add 6.1-gzip >/dev/null 2>&1; rc=$?
	is "new, killed at $s: SIGKILL" "$rc" 137
	[ ! -e "$K/6.1-gzip-ephemeral" ] && ok "new, killed at $s: no variant" || bad "new, killed at $s: a variant exists"
	is "new, killed at $s: original unchanged" "$(tree_sha "$K/6.1-gzip")" "$(cat "$T/k.sha")"
done
check "the next run removes the leftovers" 0 "removed $K/\.6\.1-gzip-ephemeral\.tmp\." -- Q add 6.1-gzip
is "... and leaves none" "$(leftovers)" ""
check "... and makes a current variant" 0 "^6.1-gzip-ephemeral +variant +current" -- Q list
# replacing a stale variant: the old one stays complete until the new one is in place
for s in copy initramfs debugfs manifest exchanged; do
	echo "$s" >>"$K/6.1-gzip/default-kernelopts-common.txt"
	tree_sha "$K/6.1-gzip-ephemeral" >"$T/old.sha"
	QVM_EPHEMERAL_TEST_KILL_AT=$s Q add 6.1-gzip >/dev/null 2>&1; rc=$?
	is "replace, killed at $s: SIGKILL" "$rc" 137
	if [ "$s" = exchanged ]; then
		check "replace, killed at $s: the new variant is in place" 0 "^6.1-gzip-ephemeral +variant +current" -- Q list
	else
		is "replace, killed at $s: the old variant is intact" "$(tree_sha "$K/6.1-gzip-ephemeral")" "$(cat "$T/old.sha")"
	fi
	check "replace, killed at $s: next run completes" 0 "6.1-gzip-ephemeral: (current|made)" -- Q add 6.1-gzip
	is "replace, killed at $s: no leftovers" "$(leftovers)" ""
done
# without RENAME_EXCHANGE (two renames): killed between them, the next run puts the old one back
echo more >>"$K/6.1-gzip/default-kernelopts-common.txt"
tree_sha "$K/6.1-gzip-ephemeral" >"$T/old.sha"
QVM_EPHEMERAL_TEST_NO_EXCHANGE=1 QVM_EPHEMERAL_TEST_KILL_AT=old-away Q add 6.1-gzip >/dev/null 2>&1; rc=$?
is "two renames, killed between: SIGKILL" "$rc" 137
old=$(find "$K" -maxdepth 1 -name '.6.1-gzip-ephemeral.old.*' | head -1)
[ -n "$old" ] && is "... the old variant is complete under its hidden name" "$(tree_sha "$old")" "$(cat "$T/old.sha")" ||
	bad "... no .old folder"
check "... the next run restores it, then rebuilds" 0 "restored from .*made from 6.1-gzip" -- bash -c "QVM_EPHEMERAL_TEST_NO_EXCHANGE=1 '$QVM' kernel --kernels-dir '$K' --init-binary '$INIT' add 6.1-gzip 2>&1 | tr '\n' ' '"
is "... no leftovers" "$(leftovers)" ""
check "two renames without a kill: current" 0 "^6.1-gzip-ephemeral +variant +current" -- Q list

echo "== sync"
kt_kernel_folder "$K" 6.2-new "$VMLINUZ" "$T/main.gzip" "$T/mods"
cp -a "$K/6.1-zstd" "$K/6.0-old" && check "an old kernel's variant" 0 "made" -- Q add 6.0-old
rm -rf "${K:?}/6.0-old"
mkdir -p "$K/5.0-foreign-ephemeral" && : >"$K/5.0-foreign-ephemeral/vmlinuz"
mkdir -p "$K/6.3-installing" && cp "$K/6.1-gzip/vmlinuz" "$K/6.3-installing/"
check "sync without qubesd: makes the missing variant" 75 "^6.2-new-ephemeral: made from 6.2-new" -- Q sync
Q sync >"$T/sync" 2>&1; rc=$?
cat "$T/sync"
check "sync without qubesd: orphan KEPT, says why" 0 "^6.0-old-ephemeral: orphan .*KEPT: cannot ask qubesd" -- cat "$T/sync"
check "sync: a folder being installed is retried later (exit 75)" 0 "^6.3-installing: incomplete \(no initramfs yet" -- cat "$T/sync"
is "sync: exit 75 while a folder is incomplete" "$rc" 75
[ -d "$K/6.0-old-ephemeral" ] && ok "sync: orphan still there" || bad "sync: orphan removed without asking"
[ -f "$K/5.0-foreign-ephemeral/vmlinuz" ] && ok "sync: foreign variant left alone" || bad "sync: foreign variant touched"
check "sync: everything else current" 0 "sync: 0 made, 9 current, 0 removed, 1 kept, 0 skipped, 1 incomplete, 0 failed" -- cat "$T/sync"
touch -d '-20 min' "$K/6.3-installing/vmlinuz" "$K/6.3-installing"
check "sync: an old incomplete folder is skipped, exit 0" 0 "6.3-installing: has no initramfs, no variant made" -- Q sync
check "list: orphan and foreign" 0 "^6.0-old-ephemeral +variant +orphan +its kernel 6.0-old is gone" -- Q list
check "list: foreign" 0 "^5.0-foreign-ephemeral +variant +foreign" -- Q list
check "add on a foreign variant refuses without --force" 1 "not made by qvm-ephemeral; --force replaces it" -- bash -c "mv '$K/6.1-none-ephemeral' '$T/none-ephemeral.bak' && mkdir '$K/6.1-none-ephemeral' && : > '$K/6.1-none-ephemeral/vmlinuz' && '$QVM' kernel --kernels-dir '$K' --init-binary '$INIT' add 6.1-none"
check "sync leaves a foreign variant of an installed kernel alone" 0 "^6.1-none-ephemeral: not made by qvm-ephemeral, left alone" -- Q sync
check "... --force replaces it" 0 "forced: not made by qvm-ephemeral.*, rebuilding" -- Q add --force 6.1-none
# with a qubesd that knows who uses what ($DOM0_SERVER; its linux-kernel pool is $K)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
mkdir -p "$T/qubesd" && ln -s "$K" "$T/qubesd/vm-kernels"
DOM0_DEFAULT_KERNEL=6.1-gzip dom0_server_start "$T/qubesd" || bad "qubesd ($DOM0_SERVER) did not start"
echo "== kernel sync with qubesd: $DOM0_SERVER"
check "a qube uses the orphan" 0 "" -- "$PY" "$FAKE/qcall.py" admin.vm.property.Set work kernel 6.0-old-ephemeral
"$PY" "$FAKE/qcall.py" test.Fail dom0 "" "admin.vm.property.Get work content no-default-field"
check "sync: a reply it cannot read means unknown: orphan KEPT" 0 "^6.0-old-ephemeral: orphan .*KEPT: cannot ask qubesd" -- Q sync
[ -d "$K/6.0-old-ephemeral" ] && ok "... still there" || bad "... removed on an unreadable reply"
check "sync: orphan in use is kept, says by whom" 0 "^6.0-old-ephemeral: orphan \(its kernel is gone\), kept: used by work" -- Q sync
check "qube back to its default kernel" 0 "" -- "$PY" "$FAKE/qcall.py" admin.vm.property.Reset work kernel
check "sync: unused orphan removed" 0 "^6.0-old-ephemeral: removed \(its kernel is gone, no qube uses it\)" -- Q sync
[ ! -e "$K/6.0-old-ephemeral" ] && ok "... it is gone" || bad "... still there"
[ -f "$K/5.0-foreign-ephemeral/vmlinuz" ] && ok "... foreign variant still left alone" || bad "... foreign variant removed"
is "sync: no leftovers" "$(leftovers)" ""
# enable makes the variant it needs (kernel_variant_ensure), init from $QVM_EPHEMERAL_INIT
rm -rf "${K:?}/6.2-new-ephemeral"
check "a qube on a kernel without variant" 0 "" -- "$PY" "$FAKE/qcall.py" admin.vm.property.Set work kernel 6.2-new
check "enable makes the variant" 0 "6.2-new-ephemeral: made from 6.2-new" -- env QVM_EPHEMERAL_INIT="$INIT" "$QVM" enable work
check "... the qube boots it" 0 "type=str 6.2-new-ephemeral$" -- "$PY" "$FAKE/qcall.py" admin.vm.property.Get work kernel
check "... and it is current" 0 "^6.2-new-ephemeral +variant +current" -- Q list
dom0_server_stop
export QUBESD_SOCKET=$T/no-qubesd.sock QUBES_VM_KERNELS_DIR=$K

echo "== final list"
Q list

summary
