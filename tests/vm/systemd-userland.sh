# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by systemd-root.sh and invm-root.sh: the userland of the systemd
# scenarios (guest-systemd/: Qubes-like units, the test services) put into a
# staged root, and the Qubes-style disk image made of it. Part of both
# images' cache keys.
systemd_userland_install() { # STAGE
	local st=$1 g=$here/guest-systemd u
	install -m 644 "$g/fstab" "$st/etc/fstab"
	install -d "$st/usr/lib/qe-test" "$st/rw" "$st/var/log/journal"
	install -m 755 "$g"/*.sh "$st/usr/lib/qe-test/"
	for u in "$g"/*.service; do install -m 644 "$u" "$st/etc/systemd/system/"; done
	echo qe-vm >"$st/etc/hostname"
	chroot "$st" systemctl enable qubes-mount-dirs.service dev-vdc1-swap.service qe-markers.service qe-report.service >/dev/null 2>&1
	# no login prompts on the test console
	chroot "$st" systemctl mask getty@tty1.service serial-getty@ttyS0.service >/dev/null 2>&1
}

# A root disk laid out as Qubes templates are (GPT: BIOS boot, EFI System,
# "Root filesystem" as partition 3) with STAGE as an ext4 of FS_MIB MiB.
qubes_disk_image() { # STAGE FS_MIB OUT
	local st=$1 mib=$2 out=$3
	rm -f "$out.fs" "$out"
	mkfs.ext4 -q -b 4096 -d "$st" "$out.fs" "${mib}M" >&2
	truncate -s "$((mib + 10))M" "$out"
	sfdisk -q "$out" >/dev/null <<PART
label: gpt
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name="BIOS boot"
start=4096, size=12288, type=C12A7328-F81F-11D2-BA4B-00A0C93EC3B4, name="EFI System"
start=16384, size=$((mib * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="Root filesystem"
PART
	dd if="$out.fs" of="$out" bs=1M seek=8 conv=notrunc,sparse status=none
	rm -f "$out.fs"
}
