# Qubes' disks are xvda..xvdd (Xen's blkfront); QEMU's virtio disks are
# vda..vdd, in the same order. Applied to the upstream files listed in
# xvd-counts with their exact number of matches (qubes-subst.sh), so an
# upstream change is noticed instead of silently half-renamed.
s/xvd/vd/g
