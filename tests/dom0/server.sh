# SPDX-License-Identifier: GPL-2.0-or-later
# The Admin API server for the dom0 tests, chosen by $DOM0_SERVER:
#   fake (default)      tests/dom0/fake-qubesd (also fault injection)
#   real-master, real-release4.3, real-release4.2
#                       the real qubesd of that Qubes version
#                       (tests/dom0/real-qubesd, offline mode)
# Source it, then: dom0_server_start DIR [--many N]; dom0_server_stop;
# dom0_server_restart (a qubesd restart: state reloaded from disk).
# Sets QUBESD_SOCKET, FAKE_QUBESD_SOCKET (for the qrexec stand-ins),
# DOM0_KERNELS_DIR=DIR/vm-kernels (the linux-kernel pool; fill it before
# the start), DOM0_SERVER_LOG and DOM0_REAL (0 = fake, 1 = real) and
# DOM0_VERSION (fake | master | release4.3 | release4.2).
# A real server whose sources cannot be had: prints "SKIPPED: ..." and the
# line "0 passed, 0 failed, 1 skipped", and exits the test script with 0.
DOM0_SERVER=${DOM0_SERVER:-fake}
_D0_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_D0_PY=/usr/bin/python3; [ -x "$_D0_PY" ] || _D0_PY=$(command -v python3)
_D0_PID= _D0_DIR= _D0_ARGS=()
case $DOM0_SERVER in
fake) DOM0_REAL=0 DOM0_VERSION=fake ;;
real-master | real-release4.3 | real-release4.2)
	# the qrexec stand-in's caller must be a qube the real qubesd knows
	DOM0_REAL=1 DOM0_VERSION=${DOM0_SERVER#real-} FAKE_QREXEC_SOURCE=dom0; export FAKE_QREXEC_SOURCE ;;
*) echo "DOM0_SERVER=$DOM0_SERVER: want fake, real-master, real-release4.3 or real-release4.2" >&2; exit 2 ;;
esac
export DOM0_SERVER DOM0_REAL DOM0_VERSION

dom0_server_start() { # DIR [--many N]
	if [ -n "${1:-}" ]; then
		_D0_DIR=$1; shift; _D0_ARGS=("$@")
	fi
	export QUBESD_SOCKET=$_D0_DIR/qubesd.sock FAKE_QUBESD_SOCKET=$_D0_DIR/qubesd.sock
	# the tool asks the server for the linux-kernel pool's folder (admin.pool.Info)
	export DOM0_KERNELS_DIR=$_D0_DIR/vm-kernels DOM0_SERVER_LOG=$_D0_DIR/server.log
	mkdir -p "$DOM0_KERNELS_DIR"
	if [ "$DOM0_REAL" = 1 ]; then
		local up rc
		up=$("$_D0_ROOT/tests/dom0/real-qubesd/get-upstream.sh" "$DOM0_VERSION"); rc=$?
		if [ $rc -eq 77 ]; then
			echo "$up"; echo "SKIPPED: ${0##*/} against real qubesd $DOM0_VERSION (no upstream sources)"
			echo "0 passed, 0 failed, 1 skipped"; exit 0
		fi
		[ $rc -eq 0 ] || { echo "could not prepare real qubesd $DOM0_VERSION"; return 1; }
		"$_D0_PY" "$_D0_ROOT/tests/dom0/real-qubesd/server.py" "$up" "$_D0_DIR" "$QUBESD_SOCKET" "${_D0_ARGS[@]}" \
			>>"$DOM0_SERVER_LOG" 2>&1 &
	else
		local fa=(--kernels "$DOM0_KERNELS_DIR" --log "$_D0_DIR/calls")
		[ "${1:-}" = --many ] && fa+=(--many "$2")
		[ "${_D0_ARGS[0]:-}" = --many ] && fa+=(--many "${_D0_ARGS[1]}")
		"$_D0_PY" "$_D0_ROOT/tests/dom0/fake-qubesd/fake_qubesd.py" "$QUBESD_SOCKET" "$_D0_DIR/qubes.json" "${fa[@]}" \
			>>"$DOM0_SERVER_LOG" 2>&1 &
	fi
	_D0_PID=$!
	local i
	for i in $(seq 300); do
		"$_D0_PY" "$_D0_ROOT/tests/dom0/fake-qubesd/qcall.py" admin.vm.List dom0 >/dev/null 2>&1 && return 0
		kill -0 "$_D0_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "$DOM0_SERVER qubesd did not start:"; tail -30 "$DOM0_SERVER_LOG"; return 1
}
dom0_server_stop() {
	[ -n "$_D0_PID" ] || return 0
	kill "$_D0_PID" 2>/dev/null; wait "$_D0_PID" 2>/dev/null; _D0_PID=
}
dom0_server_restart() { dom0_server_stop; dom0_server_start; }
# dom0_kernel_dir DIR NAME: a kernel folder as dom0 has it (small files)
dom0_kernel_dir() {
	mkdir -p "$1/$2"
	: >"$1/$2/vmlinuz"; : >"$1/$2/initramfs"; : >"$1/$2/modules.img"
	echo nopat >"$1/$2/default-kernelopts-common.txt"
	echo nopat >"$1/$2/default-kernelopts-nopci.txt"
}
# dom0_power start|stop VM: a qube starts or shuts down (fake: admin.vm.Start
# and Shutdown; real: the test server's control socket, as Xen would; see
# tests/dom0/real-qubesd/README.md)
dom0_power() {
	if [ "$DOM0_REAL" = 1 ]; then
		"$_D0_PY" - "$(dirname "$QUBESD_SOCKET")/control.sock" "$1" "$2" <<-'PY'
		import socket, sys
		s = socket.socket(socket.AF_UNIX)
		s.connect(sys.argv[1])
		s.sendall("{} {}\n".format(sys.argv[2], sys.argv[3]).encode())
		r = s.makefile().read()
		sys.exit(0 if r == "ok\n" else (print(r.strip(), file=sys.stderr) or 1))
		PY
	else
		local m=admin.vm.Start; [ "$1" = stop ] && m=admin.vm.Shutdown
		"$_D0_PY" "$_D0_ROOT/tests/dom0/fake-qubesd/qcall.py" "$m" "$2" >/dev/null
	fi
}
# dom0_xml_set_rw VM: (real server) root and private rw="True" written into
# qubes.xml while qubesd is stopped, then qubesd started again: the drift a
# 4.2 restart makes, made on 4.3+ (which keeps rw=False across restarts)
dom0_xml_set_rw() {
	dom0_server_stop
	sed -i -E '/<property name="name">'"$1"'</,/<\/domain>/s/(<volume [^>]*name="(root|private)"[^>]*) rw="False"/\1 rw="True"/' \
		"$_D0_DIR/qubes.xml"
	dom0_server_start
}
