#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test helper: one Admin API call to $QUBESD_SOCKET (or $FAKE_QUBESD_SOCKET),
or `snapshot`: every property (GetAll), volume Info and feature of every
qube, for byte-for-byte comparison. Test-only."""
import os
import socket
import sys


def call(meth, dest, arg="", payload=b""):
    path = os.environ.get("FAKE_QUBESD_SOCKET") or os.environ["QUBESD_SOCKET"]
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall("{}{} dom0 name {}\0".format(meth, "+" + arg if arg else "", dest).encode() + payload)
    s.shutdown(socket.SHUT_WR)
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    if buf[:2] == b"0\0":
        return buf[2:].decode()
    if buf[:2] == b"2\0":
        parts = buf[2:].split(b"\0")
        raise RuntimeError("{}: {}".format(parts[0].decode(), parts[2].decode()))
    raise RuntimeError("bad reply {!r}".format(buf[:40]))


def snapshot():
    out = []
    for line in call("admin.vm.List", "dom0").splitlines():
        name = line.split()[0]
        out.append("== " + line.split(" uuid=")[0].replace(" state=Running", "").replace(" state=Halted", ""))
        out.append(call("admin.vm.property.GetAll", name))
        for v in call("admin.vm.volume.List", name).split():
            out.append("volume {}:\n{}".format(v, call("admin.vm.volume.Info", name, v)))
        for f in call("admin.vm.feature.List", name).split():
            out.append("feature {}={}".format(f, call("admin.vm.feature.Get", name, f)))
    return "\n".join(out)


if __name__ == "__main__":
    a = sys.argv[1:]
    try:
        if a[0] == "snapshot":
            print(snapshot())
        else:
            print(call(a[0], a[1], a[2] if len(a) > 2 else "", a[3].encode() if len(a) > 3 else b""), end="")
    except RuntimeError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
