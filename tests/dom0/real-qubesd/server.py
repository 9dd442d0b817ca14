#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs the real Qubes Admin API server (qubes-core-admin, unmodified) for the
dom0 tests: qubes.Qubes(qubes.xml, offline_mode=True), the real
QubesDaemonProtocol wire protocol and the real qubes.api.admin.QubesAdminAPI
handlers, on a Unix socket in a test folder. Test-only, never shipped.

usage: server.py UPSTREAM_DIR STATE_DIR SOCKET [--many N]
$DOM0_DEFAULT_KERNEL: the fixture's default kernel (6.1.0), a folder of
STATE_DIR/vm-kernels.
UPSTREAM_DIR is a folder made by get-upstream.sh. STATE_DIR holds qubes.xml
(made from the fixture below when absent), the file pool and the
linux-kernel pool folder STATE_DIR/vm-kernels (the test fills it). A restart of
this process reloads qubes.xml, as a restart of qubesd does.
The shims (see README.md) are set up in setup_path() and make_fixture().
"""
import asyncio
import functools
import logging
import os
import signal
import sys
import uuid

UP, STATE, SOCK = sys.argv[1:4]
MANY = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--many" else 0


def setup_path():
    here = os.path.dirname(os.path.abspath(__file__))
    admin = os.path.join(UP, "qubes-core-admin")
    # shim 1: core-admin's own test stand-ins for modules that need Xen or a
    # desktop (libvirt, libvirtaio, qubesdb, dbus, pydbus), put first only
    # where Debian's python3-libvirt is absent (offline mode never calls it)
    sys.path[:0] = [os.path.join(UP, "egg"), admin, os.path.join(UP, "qubes-core-qrexec")]
    try:
        import libvirt  # noqa: F401
        import libvirtaio  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.join(admin, "test-packages"))
    for m in ("qubesdb", "dbus", "pydbus"):
        try:
            __import__(m)
        except ImportError:
            sys.path.append(os.path.join(admin, "test-packages"))
            break
    # shim 2: our own stand-ins for what the test folder has no copy of
    sys.path.append(os.path.join(here, "shims"))


setup_path()
os.environ["QUBES_TEST"] = "1"  # like core-admin's run-tests
import qubes  # noqa: E402
import qubes.api  # noqa: E402
import qubes.api.admin  # noqa: E402
import qubes.config  # noqa: E402
import qubes.exc  # noqa: E402
import libvirt  # noqa: E402  (Debian's python3-libvirt or core-admin's stand-in)
import qubes.vm.appvm  # noqa: E402

XML = os.path.join(STATE, "qubes.xml")
# shim 3: qubes.config.qubes_base_dir (dom0: /var/lib/qubes) is the test
# folder; validate_kernel() looks there for vm-kernels/NAME
qubes.config.qubes_base_dir = STATE
KERNELS = os.path.join(STATE, "vm-kernels")
VER = os.path.basename(os.path.normpath(UP))


RUNNING_FILE = os.path.join(STATE, "running")  # names of "running" qubes


def running():
    try:
        with open(RUNNING_FILE) as f:
            return set(f.read().split())
    except FileNotFoundError:
        return set()


def set_running(names):
    with open(RUNNING_FILE + ".tmp", "w") as f:
        f.write("".join(n + "\n" for n in sorted(names)))
    os.replace(RUNNING_FILE + ".tmp", RUNNING_FILE)


class NoDomain(libvirt.libvirtError):
    def get_error_code(self):
        return libvirt.VIR_ERR_NO_DOMAIN


class StandInConn:
    """Shim 5: stands where the libvirt connection to Xen would be. It knows
    no domain but the power state of each qube (STATE/running, changed only
    through the control socket) and the lifecycle callback qubesd registers;
    it says it is not Xen. Anything else is refused."""

    def __init__(self, app):
        self.app, self.callback = app, None

    def lookupByUUID(self, uuid_bytes):
        uid = uuid.UUID(bytes=uuid_bytes)
        for vm in self.app.domains:  # (4.2 cannot look a UUID up)
            if vm.uuid == uid:
                return StandInDomain(self, uid, vm.name)
        raise NoDomain("Domain not found")

    def lookupByID(self, xid):  # dom0 (AdminVM) only
        if xid != 0:
            raise NoDomain("Domain not found")
        return StandInDomain(self, self.app.domains[0].uuid, "dom0")

    def getInfo(self):  # the host: arch, MiB, CPUs, MHz, nodes, sockets, cores, threads
        return ["x86_64", 16384, 4, 2000, 1, 1, 4, 1]

    def domainEventRegisterAny(self, _dom, _event, callback, _opaque):
        self.callback = callback
        return 1

    def domainEventDeregisterAny(self, _cbid):
        self.callback = None

    def getType(self):
        return "test stand-in"

    def __getattr__(self, name):
        raise qubes.exc.QubesException("no VMM in the test qubesd ({})".format(name))


class StandInDomain:
    def __init__(self, conn, uid, name):
        self.conn, self.uid, self._name = conn, uid, name

    def name(self):
        return self._name

    def isActive(self):
        return self._name == "dom0" or self._name in running()

    def state(self):
        return [libvirt.VIR_DOMAIN_RUNNING if self.isActive() else libvirt.VIR_DOMAIN_SHUTOFF, 0]

    def ID(self):
        return self.conn.app.domains[self._name].qid if self.isActive() else -1

    def info(self):  # state, max KiB, KiB, vCPUs, CPU time
        return [self.state()[0], 4194304, 4194304, 1, 0]

    def memoryStats(self):
        return {}

    def XMLDesc(self, _flags=0):  # dom0's memory (4.3+ reads it for maxmem)
        return "<domain><currentMemory>4194304</currentMemory></domain>"

    def undefine(self):  # the stand-in defines nothing
        pass

    def close(self):
        pass

    def __getattr__(self, name):
        raise qubes.exc.QubesException("no VMM in the test qubesd ({})".format(name))


async def control(app, conn, reader, writer):
    """Test control socket: "start NAME" / "stop NAME" change a qube's power
    state; stop is reported as libvirt would (VIR_DOMAIN_EVENT_STOPPED), so
    qubesd runs its own domain-stopped/domain-shutdown handling."""
    line = (await reader.readline()).decode().split()
    reply = "ok\n"
    try:
        cmd, name = line
        vm = app.domains[name]
        names = running()
        if cmd == "start":
            if name in names:
                raise qubes.exc.QubesVMError(vm, "already running")
            set_running(names | {name})
            # what vm.start() resets before a domain runs
            vm._domain_stopped_event_received = False
            vm._domain_stopped_event_handled = False
        elif cmd == "stop":
            if name not in names:
                raise qubes.exc.QubesVMNotStartedError(vm)
            set_running(names - {name})
            conn.callback(conn, StandInDomain(conn, vm.uuid, name), libvirt.VIR_DOMAIN_EVENT_STOPPED, 0, None)
            fut = getattr(vm, "_domain_stopped_future", None)
            if fut is not None:
                await asyncio.wait([fut], timeout=10)
                if fut.done() and fut.exception():
                    logging.error("%s: domain-stopped handling failed", name, exc_info=fut.exception())
        else:
            raise ValueError(cmd)
    except Exception as e:  # pylint: disable=broad-except
        reply = "error {}: {}\n".format(type(e).__name__, e)
    writer.write(reply.encode())
    await writer.drain()
    writer.close()


async def make_fixture():
    """The qubes.xml of the tests, built through the real classes."""
    app = qubes.Qubes(XML, load=False, offline_mode=True)
    app.load_initial_values_pools = None
    # as load_initial_values(), with the pools in the test folder
    # (shim 3: a "file" pool and the linux-kernel pool under STATE)
    app.labels = {}
    for i, (c, n) in enumerate([("0xcc0000", "red"), ("0xf57900", "orange"), ("0xedd400", "yellow"),
                                 ("0x73d216", "green"), ("0x555555", "gray"), ("0x3465a4", "blue"),
                                 ("0x75507b", "purple"), ("0x000000", "black")], 1):
        app.labels[i] = qubes.Label(i, c, n)
    # the file-reflink driver (as on a btrfs/xfs dom0) works on plain files;
    # setup_check=False lets it copy where the file system cannot reflink
    # (the "file" driver needs loop devices to start and stop a qube)
    app.pools["varlibqubes"] = app._get_pool(name="varlibqubes", driver="file-reflink",
                                             dir_path=STATE, setup_check=False)
    app.pools["linux-kernel"] = app._get_pool(name="linux-kernel", driver="linux-kernel",
                                              dir_path=KERNELS)
    app.default_pool = "varlibqubes"
    app.default_pool_kernel = "linux-kernel"
    app.domains.add(qubes.vm.adminvm.AdminVM(app, None, label="black"))
    app.default_kernel = os.environ.get("DOM0_DEFAULT_KERNEL", "6.1.0")
    add = app.add_new_vm
    tpl = add("TemplateVM", name="debian-12", label="black")
    app.default_template = tpl
    vms = [tpl]
    if MANY:
        for i in range(1, MANY + 1):
            vms.append(add("AppVM", name="vm{:03d}".format(i), template=tpl, label="red"))
    else:
        vms.append(add("AppVM", name="work", template=tpl, label="blue"))
        vms.append(add("AppVM", name="personal", template=tpl, label="yellow",
                       kernelopts="nopat console=hvc0"))
        vms.append(add("AppVM", name="vault", template=tpl, label="black"))
        vms.append(add("AppVM", name="sys-net", template=tpl, label="red", virt_mode="hvm"))
        vms.append(add("StandaloneVM", name="win10", label="green", virt_mode="hvm", kernel=""))
        vms.append(add("StandaloneVM", name="legacy", label="green", kernel="5.15.0"))
        dvm = add("AppVM", name="dvm", template=tpl, label="red", template_for_dispvms=True)
        vms.append(dvm)
        vms.append(add("DispVM", name="named-disp", template=dvm, label="red"))
        # running qubes (shim 5): an AppVM, a named and an unnamed disposable
        vms.append(add("AppVM", name="browser", template=tpl, label="orange"))
        vms.append(add("DispVM", name="named-busy", template=dvm, label="red"))
        vms.append(add("DispVM", name="disp42", template=dvm, label="red", auto_cleanup=True))
        set_running({"browser", "named-busy", "disp42"})
        if VER != "release4.2":
            # a disposable template with preloaded disposables (4.3+): the
            # preloaded one exists in qubes.xml and is listed in the feature
            pdvm = add("AppVM", name="dvm-pre", template=tpl, label="red", template_for_dispvms=True)
            vms.append(pdvm)
            pre = add("DispVM", name="disp-pre1", template=pdvm, label="red", auto_cleanup=True)
            vms.append(pre)
    for vm in vms:
        await vm.create_on_disk()
    if not MANY and VER != "release4.2":
        # set with no await after it: the preload task that setting
        # preload-dispvm-max schedules never runs here (it would start a qube)
        pdvm.features["qrexec"] = "1"
        for rpc in ("qubes.WaitForRunningSystem", "qubes.WaitForSession"):
            pdvm.features["supported-rpc." + rpc] = "1"
        pre.features["preload-dispvm-completed"] = "1"
        pdvm.features["preload-dispvm-max"] = "1"
        pdvm.features["preload-dispvm"] = "disp-pre1"
    app.save()
    app.close()


def main():
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    os.makedirs(KERNELS, exist_ok=True)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if not os.path.exists(XML):
        loop.run_until_complete(make_fixture())
    app = qubes.Qubes(XML, offline_mode=True)
    # shim 5: loaded offline, then the stand-in VMM connection (not Xen)
    # instead of libvirt, so that qubes can be "running"
    conn = StandInConn(app)
    app.vmm._libvirt_conn = conn
    app.vmm._libvirt_conn_type = "test stand-in"
    app.vmm._offline_mode = False
    if hasattr(app.vmm, "_is_xen"):
        app.vmm._is_xen = False
    app.register_event_handlers()  # subscribes to the lifecycle events
    for name in running():  # what domain-load does for a running qube online
        app.domains[name]._domain_stopped_event_received = False
        app.domains[name]._domain_stopped_event_handled = False
    ctl = os.path.join(STATE, "control.sock")
    if os.path.exists(ctl):
        os.unlink(ctl)
    loop.run_until_complete(asyncio.start_unix_server(functools.partial(control, app, conn), ctl))
    # shim 4: the socket in the test folder; create_servers() would use
    # /var/run/qubesd.sock and chown it to group "qubes"
    if os.path.exists(SOCK):
        os.unlink(SOCK)
    server = loop.run_until_complete(loop.create_unix_server(
        functools.partial(qubes.api.QubesDaemonProtocol, qubes.api.admin.QubesAdminAPI,
                          app=app, debug=True), SOCK))

    def stop(*_):
        app.save()
        server.close()
        loop.stop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop)
    print("real qubesd ({}) listening on {}".format(VER, SOCK), flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
