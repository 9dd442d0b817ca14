#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2154  # dracut sets $kernel and $moddir
# qubes-ephemeral: dracut module for in-VM kernels (initramfs built inside
# the template). With qubes.ephemeral=1 on the kernel command line,
# ephemeral-init builds the encrypted storage stack and /dev/mapper/dmroot
# in place of Qubes' COW hook (90qubes-vm's pre-trigger/90-qubes_cow_setup.sh,
# which the cmdline hook takes out of that boot); without it, nothing changes.
#   cmdline hook    (qubes-ephemeral-cmdline.sh): decides; in ephemeral mode
#                   removes Qubes' hook and queues the setup job
#   initqueue job   (qubes-ephemeral-setup.sh, once udev has settled after
#                   coldplug: a coldplug "add" event after the setup would make
#                   udev drop the /dev/mapper links of our devices)
#   pre-pivot hook  (qubes-ephemeral-finish.sh): /dev names for fstab, udev db

check() {
	return 0
}

depends() {
	echo dm
	return 0
}

# dracut stops the build when installkernel() fails (not when install()
# does), so the checks that must hold live here.
installkernel() {
	if [[ ! -x /usr/lib/qubes-ephemeral/ephemeral-init ]]; then
		dfatal "qubes-ephemeral: /usr/lib/qubes-ephemeral/ephemeral-init is missing; reinstall the qubes-ephemeral-vm package"
		return 1
	fi
	# ephemeral-init loads these itself from the initramfs
	hostonly='' instmods -c dm-mod dm-crypt dm-thin-pool || {
		dfatal "qubes-ephemeral: kernel $kernel lacks dm-crypt or dm-thin-pool"
		return 1
	}
	# may be built in; aesni-intel only speeds AES up
	hostonly='' instmods xts ecb aesni-intel
	return 0
}

install() {
	inst_simple /usr/lib/qubes-ephemeral/ephemeral-init || return 1
	inst_simple "$moddir/qubes-ephemeral-setup.sh" /usr/lib/qubes-ephemeral/dracut-setup.sh || return 1
	inst_hook cmdline 10 "$moddir/qubes-ephemeral-cmdline.sh"
	inst_hook pre-pivot 10 "$moddir/qubes-ephemeral-finish.sh"
}
