#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qmp_resize.py SOCKET MIB FILE...: grows each virtio disk whose image is
FILE (matched by file name in query-block) by MIB MiB through QEMU's QMP
block_resize, as dom0 grows a running qube's volume; the guest sees the new
size (agent scenarios, qe.resize=1). Prints one line per disk."""
import json
import os
import socket
import sys


def main():
    sock_path, mib, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    f = s.makefile("rw")

    def call(cmd, **args):
        f.write(json.dumps({"execute": cmd, "arguments": args} if args else {"execute": cmd}) + "\n")
        f.flush()
        while True:
            msg = json.loads(f.readline())
            if "error" in msg:
                sys.exit("qmp_resize: %s failed: %s" % (cmd, msg["error"]))
            if "return" in msg:
                return msg["return"]

    json.loads(f.readline())  # greeting
    call("qmp_capabilities")
    want = {os.path.basename(p) for p in files}
    done = set()
    for b in call("query-block"):
        img = b.get("inserted", {}).get("image", {})
        name = os.path.basename(img.get("filename", ""))
        if name in want:
            size = img["virtual-size"] + (mib << 20)
            call("block_resize", device=b["device"], size=size)
            print("qmp_resize: %s (%s) -> %d bytes" % (b["device"], name, size))
            done.add(name)
    if done != want:
        sys.exit("qmp_resize: no disk for %s" % ", ".join(sorted(want - done)))


if __name__ == "__main__":
    main()
