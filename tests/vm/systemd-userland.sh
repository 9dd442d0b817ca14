# Sourced by systemd-root.sh and invm-root.sh: puts the userland of the
# systemd scenarios (guest-systemd/: Qubes-like units, the test services)
# into a staged root. Part of both images' cache keys.
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
