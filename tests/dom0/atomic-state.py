#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test helper of tests/dom0/atomic.sh (test-only).

  atomic-state.py dump FILE          every property (GetAll), volume Info and
                                     feature of every qube, as JSON
  atomic-state.py check BEFORE DONE AFTER REFUSED...
      every qube in AFTER equals BEFORE or DONE (never half), and each qube
      named in REFUSED equals BEFORE; prints what differs, exit 1 then."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake-qubesd"))
import qcall  # noqa: E402


def dump():
    st = {}
    for line in qcall.call("admin.vm.List", "dom0").splitlines():
        name = line.split()[0]
        # a property at its default is compared as "default": its value
        # follows the template or the system (another qube's change)
        props = {}
        for pl in qcall.call("admin.vm.property.GetAll", name).splitlines():
            pname, rest = pl.split(" ", 1)
            props[pname] = "default" if rest.startswith("default=True ") else rest
        st[name] = {
            "props": props,
            "volumes": {v: qcall.call("admin.vm.volume.Info", name, v)
                        for v in qcall.call("admin.vm.volume.List", name).split()},
            "features": {f: qcall.call("admin.vm.feature.Get", name, f)
                         for f in qcall.call("admin.vm.feature.List", name).split()},
        }
    return st


def check(before, done, after, refused):
    bad = []
    for name in sorted(set(before) | set(after)):
        a = after.get(name)
        if a != before.get(name) and a != done.get(name):
            bad.append("{}: neither as before nor as a complete run left it".format(name))
    for name in refused:
        if after.get(name) != before.get(name):
            bad.append("{}: the refused qube is not as before".format(name))
    if not refused:
        bad.append("no qube said its changes were undone")
    for b in bad:
        print(b)
    return not bad


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        with open(sys.argv[2], "w") as f:
            json.dump(dump(), f, sort_keys=True)
    else:
        st = []
        for p in sys.argv[2:5]:
            with open(p) as f:
                st.append(json.load(f))
        sys.exit(0 if check(st[0], st[1], st[2], sys.argv[5:]) else 1)
