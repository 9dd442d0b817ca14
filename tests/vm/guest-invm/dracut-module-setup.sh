#!/bin/bash
# TEST STAND-IN for Qubes' dracut module 90qubes-vm (full-dmroot): the COW
# script as a pre-trigger hook at 90.
check() {
	return 0
}
depends() {
	echo dm
	return 0
}
installkernel() {
	hostonly='' instmods dm-snapshot virtio_pci virtio_blk
}
install() {
	inst_hook pre-trigger 90 "$moddir/qubes_cow_setup.sh"
	inst_multiple sfdisk swapon mkswap readlink grep
}
