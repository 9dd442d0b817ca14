#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A fake qubesd for the dom0 tests of qvm-ephemeral. Test-only, never shipped.

Speaks the real Admin API wire format on a Unix socket (request
"METHOD+ARG SRC name DEST\\0PAYLOAD", reply "0\\0..." / "2\\0TYPE\\0TB\\0MSG\\0" /
events "1\\0SUBJECT\\0EVENT\\0(K\\0V\\0)*\\0") and models what qvm-ephemeral
touches: qubes of every class, properties with defaults (template-following
kernel/kernelopts), volumes (rw, ephemeral, snap_on_start, save_on_stop),
features, admin.Events, disposables, and these R4.2 behaviours:
  - admin.vm.volume.Set.rw and Set.ephemeral refused while the qube runs;
  - rw is not written to the saved state ("qubes.xml"), so a restart of this
    process (same state file) brings the old rw back;
  - ephemeral refused on snap_on_start / save_on_stop / read-only volumes.

usage: fake_qubesd.py SOCKET STATEFILE [--kernels DIR] [--log CALLLOG] [--many N] [--r43]
STATEFILE is created from the built-in fixture (or N plain AppVMs) when
absent. --r43: rw is saved (the restart bug fixed). Test-only
methods (dest dom0): test.FailNth (payload N: the Nth write call from now is
refused, once), test.FailNthFired ("1" when it was), test.Checkpoint and
test.Rollback (the whole state saved and put back), test.Fail (payload "METHOD DEST MODE [TYPE MESSAGE]",
MODE = error | empty | garbage | truncated | hangup | content TEXT), test.Ping.
"""
import copy
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading

LOCK = threading.RLock()
STATE = {}
XML_RW = {}          # (vm, vol) -> rw as last written to the state file
EVENT_CONNS = []
FAILS = []           # injected failures
CHECKPOINT = []      # test.Checkpoint: [STATE, XML_RW]
NTH = {}             # test.FailNth: write calls left before the refused one
WRITES = ("admin.vm.property.Set", "admin.vm.property.Reset", "admin.vm.volume.Set.rw",
          "admin.vm.volume.Set.ephemeral", "admin.vm.feature.Set", "admin.vm.feature.Remove")
ARGS = {}

CLONE_PROPS = ("kernel", "kernelopts", "virt_mode", "memory", "label")
PROP_TYPES = {"kernel": "str", "kernelopts": "str", "virt_mode": "str", "template": "vm",
              "template_for_dispvms": "bool", "auto_cleanup": "bool", "memory": "int",
              "label": "label", "name": "str"}


class QErr(Exception):
    def __init__(self, typ, msg):
        super().__init__(msg)
        self.typ, self.msg = typ, msg


def vol(rw=True, snap=False, save=False, pool="lvm"):
    return {"rw": rw, "snap_on_start": snap, "save_on_stop": save, "ephemeral": None,
            "pool": pool, "size": 2147483648}


def volumes_for(klass):
    if klass == "AdminVM":
        return {}
    if klass in ("TemplateVM", "StandaloneVM"):
        v = {"root": vol(save=True), "private": vol(save=True)}
    elif klass == "AppVM":
        v = {"root": vol(snap=True), "private": vol(save=True)}
    else:  # DispVM
        v = {"root": vol(snap=True), "private": vol(snap=True)}
    v["volatile"] = vol()
    v["kernel"] = vol(rw=False, pool="linux-kernel")
    return v


def new_qube(klass, state="Halted", **props):
    q = {"class": klass, "state": state, "props": {"label": "red"}, "features": {},
         "volumes": volumes_for(klass)}
    q["props"].update(props)
    return q


def fixture():
    qs = {
        "dom0": new_qube("AdminVM", "Running"),
        "debian-12": new_qube("TemplateVM"),
        "work": new_qube("AppVM", template="debian-12"),
        "personal": new_qube("AppVM", template="debian-12", kernelopts="nopat console=hvc0"),
        "vault": new_qube("AppVM", template="debian-12"),
        "browser": new_qube("AppVM", "Running", template="debian-12"),
        "sys-net": new_qube("AppVM", template="debian-12", virt_mode="hvm"),
        "win10": new_qube("StandaloneVM", virt_mode="hvm", kernel=""),
        "legacy": new_qube("StandaloneVM", kernel="5.15.0"),
        "dvm": new_qube("AppVM", template="debian-12", template_for_dispvms=True),
        "named-disp": new_qube("DispVM", template="dvm"),
        "named-busy": new_qube("DispVM", "Running", template="dvm"),
        "disp42": new_qube("DispVM", "Running", template="dvm", auto_cleanup=True),
    }
    return {"default_kernel": "6.1.0", "next_disp": 100, "qubes": qs}


def many(n):
    """A fixture of n halted AppVMs vm001.. on debian-12 (for the benchmark)."""
    st = {"default_kernel": "6.1.0", "next_disp": 100,
          "qubes": {"dom0": new_qube("AdminVM", "Running"), "debian-12": new_qube("TemplateVM")}}
    for i in range(1, n + 1):
        st["qubes"]["vm{:03d}".format(i)] = new_qube("AppVM", template="debian-12")
    return st


DIRTY = threading.Event()


def save():
    """Like app.save(): the state is written (by the flusher, within 50 ms,
    and at SIGTERM), so a restart sees exactly what qubesd would."""
    DIRTY.set()


def flusher():
    while True:
        DIRTY.wait()
        threading.Event().wait(0.05)
        with LOCK:
            DIRTY.clear()
            write_state()


def write_state():
    snap = copy.deepcopy(STATE)
    for name, q in snap["qubes"].items():
        for vname, v in q["volumes"].items():
            v["rw"] = XML_RW.get((name, vname), v["rw"])
    tmp = ARGS["state"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(snap, f)
    os.replace(tmp, ARGS["state"])


def load():
    global STATE
    if not os.path.exists(ARGS["state"]):
        STATE = many(ARGS["many"]) if ARGS.get("many") else fixture()
        for name, q in STATE["qubes"].items():
            for vname, v in q["volumes"].items():
                XML_RW[(name, vname)] = v["rw"]
        write_state()
    with open(ARGS["state"]) as f:
        STATE = json.load(f)
    for name, q in STATE["qubes"].items():
        for vname, v in q["volumes"].items():
            XML_RW[(name, vname)] = v["rw"]


def kernels():
    d = ARGS.get("kernels")
    if not d or not os.path.isdir(d):
        return []
    return sorted(k for k in os.listdir(d) if os.path.isfile(os.path.join(d, k, "vmlinuz")))


def qube(name):
    q = STATE["qubes"].get(name)
    if q is None:
        raise QErr("QubesVMNotFoundError", "No such domain: {!r}".format(name))
    return q


def prop_names(q):
    k = q["class"]
    if k == "AdminVM":
        return ["label", "name"]
    names = ["kernel", "kernelopts", "label", "memory", "name", "virt_mode"]
    if k in ("AppVM", "DispVM"):
        names.append("template")
    if k == "AppVM":
        names.append("template_for_dispvms")
    if k == "DispVM":
        names.append("auto_cleanup")
    return sorted(names)


def prop_default(name, q, prop):
    k = q["class"]
    if prop == "name":
        return name
    if prop == "kernel":
        if k in ("AppVM", "DispVM"):
            return prop_value(q["props"]["template"], "kernel")
        return STATE["default_kernel"]
    if prop == "kernelopts":
        if k in ("AppVM", "DispVM"):
            return prop_value(q["props"]["template"], "kernelopts")
        kern = prop_value(name, "kernel")
        f = os.path.join(ARGS.get("kernels") or "/nonexistent", kern, "default-kernelopts-common.txt")
        return open(f).read().strip() if kern and os.path.exists(f) else ""
    if prop == "virt_mode":
        return "pvh"
    if prop == "memory":
        return 400
    if prop in ("template_for_dispvms", "auto_cleanup"):
        return False
    if prop == "label":
        return "red"
    raise QErr("QubesNoSuchPropertyError", "Invalid property {!r} of {}".format(prop, name))


def prop_value(name, prop):
    q = qube(name)
    if prop not in prop_names(q):
        raise QErr("QubesNoSuchPropertyError", "Invalid property {!r} of {}".format(prop, name))
    if prop in q["props"]:
        return q["props"][prop]
    return prop_default(name, q, prop)


def ser(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "True" if v else "False"
    return str(v)


def serialize_prop(name, prop):
    q = qube(name)
    v = prop_value(name, prop)
    return "default={} type={} {}".format(prop not in q["props"], PROP_TYPES.get(prop, "str"), ser(v))


def parse_bool(payload):
    s = payload.decode("ascii", "replace").strip()
    if s.lower() in ("true", "1", "yes", "on"):
        return True
    if s.lower() in ("false", "0", "no", "off", ""):
        return False
    raise QErr("ProtocolError", "Payload is not boolean ASCII")


def fire(subject, event, **kw):
    data = b"1\0" + subject.encode() + b"\0" + event.encode() + b"\0"
    for k, v in kw.items():
        data += k.encode() + b"\0" + ser(v).encode() + b"\0"
    data += b"\0"
    for c in list(EVENT_CONNS):
        try:
            c.sendall(data)
        except OSError:
            EVENT_CONNS.remove(c)


def halted(name, q):
    if q["state"] != "Halted":
        raise QErr("QubesVMNotHaltedError", "Domain is not powered off: {!r}".format(name))


def vol_of(name, q, arg):
    if arg not in q["volumes"]:
        raise QErr("PermissionDenied", "Argument not in {!r}".format(name + " volumes"))
    return q["volumes"][arg]


def eff_ephemeral(v):
    if v["ephemeral"] is not None:
        return v["ephemeral"]
    return False


def create_dispvm(tpl_name, name, auto_cleanup):
    tpl = qube(tpl_name)
    if not prop_value(tpl_name, "template_for_dispvms"):
        raise QErr("QubesException", "Refusing to create DispVM out of this AppVM, because "
                   "template_for_dispvms=False")
    if name in STATE["qubes"]:
        raise QErr("QubesVMAlreadyExistsError", "VM {!r} already exists".format(name))
    q = new_qube("DispVM", template=tpl_name)
    if auto_cleanup:
        q["props"]["auto_cleanup"] = True
    for p in CLONE_PROPS:
        if p in tpl["props"]:
            q["props"][p] = tpl["props"][p]
    q["features"] = {k: v for k, v in tpl["features"].items() if not k.startswith("preload-dispvm")}
    for vname, v in q["volumes"].items():
        tv = tpl["volumes"].get(vname)
        if tv and vname != "kernel":
            v["rw"] = tv["rw"]
            if tv["ephemeral"] is not None:
                v["ephemeral"] = tv["ephemeral"]
    STATE["qubes"][name] = q
    for vname, v in q["volumes"].items():
        XML_RW[(name, vname)] = v["rw"]
    fire("", "domain-add", vm=name)
    save()
    return name


def call(meth, arg, dest, payload):
    if meth == "test.Ping":
        return "pong"
    if meth == "test.DropEvents":
        for c in list(EVENT_CONNS):
            c.shutdown(socket.SHUT_RDWR)
            EVENT_CONNS.remove(c)
        return ""
    if meth == "test.Fail":
        parts = payload.decode().split(" ", 4)
        FAILS.append(parts)
        return ""
    if meth == "test.Checkpoint":  # remembers the whole state (test.Rollback goes back to it)
        CHECKPOINT[:] = [copy.deepcopy(STATE), dict(XML_RW)]
        return ""
    if meth == "test.Rollback":
        STATE.clear()
        STATE.update(copy.deepcopy(CHECKPOINT[0]))
        XML_RW.clear()
        XML_RW.update(CHECKPOINT[1])
        save()
        return ""
    if meth == "test.FailNth":  # payload "N": the Nth write call from now is refused (once)
        NTH.clear()
        NTH.update(left=int(payload.decode()), fired=False)
        return ""
    if meth == "test.FailNthFired":  # "1" when it fired; disarms
        fired = NTH.get("fired", False)
        NTH.clear()
        return "1" if fired else "0"
    if meth == "admin.property.Get":
        if arg != "default_kernel":
            raise QErr("QubesNoSuchPropertyError", "Invalid property {!r} of Qubes".format(arg))
        return "default=False type=str " + STATE["default_kernel"]
    if meth == "admin.pool.Info":  # as core-admin's pool_info: sorted config, then size/usage
        if arg != "linux-kernel":
            raise QErr("PermissionDenied", "Argument not in 'pools'")
        return "dir_path={}\ndriver=linux-kernel\nname=linux-kernel\n".format(
            os.path.abspath(ARGS.get("kernels") or "/var/lib/qubes/vm-kernels"))
    if meth == "admin.pool.volume.List":
        if arg != "linux-kernel":
            raise QErr("QubesException", "No such pool: {!r}".format(arg))
        return "".join(k + "\n" for k in kernels())
    q = qube(dest)
    if meth == "admin.vm.List":
        names = sorted(STATE["qubes"]) if dest == "dom0" else [dest]
        return "".join("{} class={} state={} uuid=00000000-0000-0000-0000-{:012d}\n".format(
            n, STATE["qubes"][n]["class"], STATE["qubes"][n]["state"], i) for i, n in enumerate(names))
    if meth == "admin.vm.property.Get":
        return serialize_prop(dest, arg)
    if meth == "admin.vm.property.GetAll":
        return "".join("{} {}\n".format(p, serialize_prop(dest, p).replace("\\", "\\\\").replace("\n", "\\n"))
                       for p in prop_names(q))
    if meth == "admin.vm.property.GetDefault":
        prop_value(dest, arg)
        return "type={} {}".format(PROP_TYPES.get(arg, "str"), ser(prop_default(dest, q, arg)))
    if meth == "admin.vm.property.Set":
        old = prop_value(dest, arg)
        val = payload.decode("ascii")
        if arg == "kernel":
            if "/" in val:
                raise QErr("QubesPropertyValueError", "Kernel name cannot contain '/'")
            if val and val not in kernels():
                raise QErr("QubesPropertyValueError",
                           "Invalid value {!r} for property 'kernel' of {}: kernel not installed".format(val, dest))
        elif arg == "kernelopts":
            if len(val) > 512:
                raise QErr("QubesPropertyValueError", "Kernelopts value too long (512 chars max)")
        elif arg == "virt_mode":
            if val not in ("pv", "pvh", "hvm"):
                raise QErr("QubesPropertyValueError", "Invalid virtualization mode")
        elif PROP_TYPES.get(arg) == "bool":
            val = parse_bool(payload)
        elif arg == "template":
            qube(val)
        elif arg == "memory":
            val = int(val)
        q["props"][arg] = val
        fire(dest, "property-set:" + arg, name=arg, newvalue=val, oldvalue=old)
        save()
        return ""
    if meth == "admin.vm.property.Reset":
        old = prop_value(dest, arg)
        q["props"].pop(arg, None)
        fire(dest, "property-reset:" + arg, name=arg, oldvalue=old)
        save()
        return ""
    if meth == "admin.vm.volume.List":
        return "".join(v + "\n" for v in q["volumes"])
    if meth == "admin.vm.volume.Info":
        v = vol_of(dest, q, arg)
        info = {"pool": v["pool"], "vid": "qubes_dom0/vm-{}-{}".format(dest, arg), "size": v["size"],
                "usage": 0, "rw": v["rw"], "source": "", "path": "/dev/qubes_dom0/vm-{}-{}".format(dest, arg),
                "save_on_stop": v["save_on_stop"], "snap_on_start": v["snap_on_start"],
                "revisions_to_keep": 1, "ephemeral": eff_ephemeral(v)}
        return "".join("{}={}\n".format(k, ser(x)) for k, x in info.items()) + "is_outdated=False\n"
    if meth == "admin.vm.volume.Set.rw":
        v = vol_of(dest, q, arg)
        val = parse_bool(payload)
        halted(dest, q)
        v["rw"] = val
        if not ARGS.get("r43"):
            pass  # R4.2 bug: not written to qubes.xml (XML_RW keeps the old value)
        else:
            XML_RW[(dest, arg)] = val
        save()
        return ""
    if meth == "admin.vm.volume.Set.ephemeral":
        v = vol_of(dest, q, arg)
        val = parse_bool(payload)
        halted(dest, q)
        if val and (v["snap_on_start"] or v["save_on_stop"] or not v["rw"]):
            raise QErr("QubesValueError", "Cannot enable ephemeral on snap_on_start or save_on_stop or "
                       "non-dom0 or not writable volume")
        v["ephemeral"] = val
        save()
        return ""
    if meth == "admin.vm.feature.List":
        return "".join(k + "\n" for k in q["features"])
    if meth == "admin.vm.feature.Get":
        if arg not in q["features"]:
            raise QErr("QubesFeatureNotFoundError", "Feature not set for domain {}: {}".format(dest, arg))
        return q["features"][arg]
    if meth == "admin.vm.feature.Set":
        val = payload.decode("ascii", "replace")
        if not re.match(r"\A[a-zA-Z0-9_.-]+\Z", arg):
            raise QErr("ProtocolError", "feature name contains illegal characters")
        if not re.match(r"\A[\x20-\x7E]*\Z", val):
            raise QErr("ProtocolError", "{} value contains illegal characters".format(arg))
        old = q["features"].get(arg)
        q["features"][arg] = val
        fire(dest, "domain-feature-set:" + arg, feature=arg, value=val, oldvalue=old)
        save()
        return ""
    if meth == "admin.vm.feature.Remove":
        if arg not in q["features"]:
            raise QErr("QubesFeatureNotFoundError", "Feature not set for domain {}: {}".format(dest, arg))
        del q["features"][arg]
        fire(dest, "domain-feature-delete:" + arg, feature=arg)
        save()
        return ""
    if meth == "admin.vm.Start":
        if q["state"] != "Halted":
            raise QErr("QubesVMError", "Domain is already running: {!r}".format(dest))
        q["state"] = "Running"
        fire(dest, "domain-start")
        save()
        return ""
    if meth == "admin.vm.Shutdown" or meth == "admin.vm.Kill":
        if q["state"] == "Halted":
            raise QErr("QubesVMNotStartedError", "Domain is powered off: {!r}".format(dest))
        q["state"] = "Halted"
        if q["props"].get("auto_cleanup"):
            del STATE["qubes"][dest]
            fire(dest, "domain-shutdown")
            fire("", "domain-delete", vm=dest)
        else:
            fire(dest, "domain-shutdown")
        save()
        return ""
    if meth == "admin.vm.CreateDisposable":
        n = "disp{}".format(STATE["next_disp"])
        STATE["next_disp"] += 1
        return create_dispvm(dest, n, True)
    if meth == "admin.vm.Create.DispVM":
        m = re.match(r"name=(\S+)", payload.decode())
        if not m:
            raise QErr("ProtocolError", "name= missing")
        create_dispvm(arg, m.group(1), False)
        return ""
    if meth == "admin.vm.Create.AppVM":
        m = re.match(r"name=(\S+)", payload.decode())
        STATE["qubes"][m.group(1)] = new_qube("AppVM", template=arg)
        for vname, v in STATE["qubes"][m.group(1)]["volumes"].items():
            XML_RW[(m.group(1), vname)] = v["rw"]
        fire("", "domain-add", vm=m.group(1))
        save()
        return ""
    if meth == "admin.vm.Remove":
        halted(dest, q)
        del STATE["qubes"][dest]
        fire("", "domain-delete", vm=dest)
        save()
        return ""
    raise QErr("ProtocolError", "no such method: {!r}".format(meth.encode()))


def injected(meth_arg, dest):
    for f in FAILS:
        if f[0] in (meth_arg, meth_arg.split("+")[0]) and f[1] in (dest, "*"):
            FAILS.remove(f)
            return f
    return None


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        try:
            hdr, payload = buf.split(b"\0", 1)
            meth_arg, src, dtype, dest = hdr.decode("ascii").split(" ", 3)
            if dtype != "name":
                raise ValueError
        except ValueError:
            return  # framing error: qubesd aborts the connection
        meth, _, arg = meth_arg.partition("+")
        if ARGS.get("log"):
            with open(ARGS["log"], "a") as f:
                f.write("{} {}\n".format(meth_arg, dest))
        with LOCK:
            inj = injected(meth_arg, dest)
            if not inj and meth in WRITES and NTH.get("left"):
                NTH["left"] -= 1
                if NTH["left"] == 0:
                    NTH["fired"] = True
                    inj = [meth, dest, "error", "QubesException", "injected failure of write call"]
        if inj:
            mode = inj[2]
            if mode == "error":
                s.sendall(b"2\0" + inj[3].encode() + b"\0\0" + (inj[4] if len(inj) > 4 else "").encode() + b"\0")
            elif mode == "garbage":
                s.sendall(b"X\0what")
            elif mode == "truncated":
                s.sendall(b"2\0QubesException\0")
            elif mode == "empty":
                pass
            elif mode == "content":  # a success reply with this content, whatever it is
                s.sendall(b"0\0" + " ".join(inj[3:]).encode())
            elif mode == "events":
                s.sendall(b"1\0\0connection-established\0\0")
            return
        if meth == "admin.Events":
            # like qubesd: the client has closed its write side; the stream
            # lasts until a send fails or the test drops it
            with LOCK:
                s.sendall(b"1\0\0connection-established\0\0")
                EVENT_CONNS.append(s)
            while True:
                with LOCK:
                    if s not in EVENT_CONNS:
                        return
                threading.Event().wait(0.05)
        with LOCK:
            try:
                out = call(meth, arg, dest, payload)
                reply = b"0\0" + (out or "").encode()
            except QErr as e:
                if e.typ in ("PermissionDenied", "ProtocolError"):
                    return  # like qubesd: the connection is closed without a reply
                reply = b"2\0" + e.typ.encode() + b"\0\0" + e.msg.encode() + b"\0"
        try:
            s.sendall(reply)
        except OSError:
            pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    a = sys.argv[1:]
    ARGS["sock"], ARGS["state"] = a[0], a[1]
    i = 2
    while i < len(a):
        if a[i] == "--kernels":
            ARGS["kernels"] = a[i + 1]
            i += 2
        elif a[i] == "--log":
            ARGS["log"] = a[i + 1]
            i += 2
        elif a[i] == "--many":
            ARGS["many"] = int(a[i + 1])
            i += 2
        elif a[i] == "--r43":
            ARGS["r43"] = True
            i += 1
        else:
            sys.exit("unknown argument " + a[i])
    load()
    if os.path.exists(ARGS["sock"]):
        os.unlink(ARGS["sock"])
    srv = Server(ARGS["sock"], Handler)
    threading.Thread(target=flusher, daemon=True).start()

    def on_term(*_):
        with LOCK:
            write_state()
        os._exit(0)
    signal.signal(signal.SIGTERM, on_term)
    print("fake qubesd listening on", ARGS["sock"], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
