#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qmp_dump.py SOCKET OUT: dumps the guest's memory through QEMU's QMP
socket (dump-guest-memory, no paging) into OUT, for the keys scenario."""
import json
import socket
import sys


def main():
    sock_path, out = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    f = s.makefile("rw")

    def reply():
        while True:
            msg = json.loads(f.readline())
            if "return" in msg or "error" in msg:
                return msg

    json.loads(f.readline())  # greeting
    for cmd in ({"execute": "qmp_capabilities"},
                {"execute": "dump-guest-memory",
                 "arguments": {"paging": False, "protocol": "file:" + out}}):
        f.write(json.dumps(cmd) + "\n")
        f.flush()
        msg = reply()
        if "error" in msg:
            sys.exit("qmp_dump: %s failed: %s" % (cmd["execute"], msg["error"]))


if __name__ == "__main__":
    main()
