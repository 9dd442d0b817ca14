#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Salt states in packaging/salt, without Salt (not packaged in Debian
# 12): tests/pkg/salt_run.py renders them with Jinja, parses and checks the
# YAML, and runs their commands (`unless`, then the command) against
# qubesd ($DOM0_SERVER: the fake by default or a real one, see
# tests/dom0/server.sh) and a fixture kernel folder, with the real
# qvm-ephemeral. qvm-features is a stand-in (admin.vm.feature.Get; exit 1
# when the feature is not set, as qubesadmin's qvm-features does).
# Ends with "N passed, N failed".
. "$(dirname "$0")/../dom0/common.sh"
. tests/pkg/lib.sh
SALT=$ROOT/packaging/salt
QVM=$ROOT/build/qvm-ephemeral-test   # Salt runs the test build (test hooks, ASan)
dom0_build qvm-ephemeral-test ephemeral-init
. tests/dom0/kernel/lib.sh
dom0_tmp qe-salt
mkdir -p "$T/bin"
ln -s "$ROOT/build/qvm-ephemeral-test" "$T/bin/qvm-ephemeral"  # the test build (test hooks, ASan)
ln -s "$PY" "$T/bin/python3"
cat >"$T/bin/qvm-features" <<EOF
#!/bin/sh
# stand-in: qvm-features VM FEATURE (get only)
[ \$# -eq 2 ] || { echo "stand-in qvm-features: VM FEATURE only" >&2; exit 2; }
"$PY" "$FAKE/qcall.py" admin.vm.feature.Get "\$1" "\$2" 2>/dev/null && echo || exit 1
EOF
chmod +x "$T/bin/qvm-features"
export PATH=$T/bin:$FAKE/bin:$PATH
export FAKE_GUEST_DIR=$T/guest QVM_EPHEMERAL_INIT=$ROOT/build/ephemeral-init
mkdir -p "$T/guest" "$T/w/mods" "$T/w/root"
echo "# empty" >"$T/w/mods/modules.dep"
printf '#!/bin/sh\n' >"$T/w/root/init"
(cd "$T/w/root" && find . | cpio -o -H newc --quiet -R 0:0 | gzip) >"$T/w/initrd"
echo "not a kernel" >"$T/w/vmlinuz"
KV=6.1.0
kt_kernel_folder "$T/vm-kernels" 6.1.0 "$T/w/vmlinuz" "$T/w/initrd" "$T/w/mods" 2 >/dev/null 2>&1

dom0_server_start "$T" || { echo "0 passed, 1 failed"; exit 1; }
echo "== server: $DOM0_SERVER"
verdict() { qvm-ephemeral status --format json "$1" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["verdict"])'; }
# state ID OUTPUT: the result line of state ID ("skip", "ran rc=N")
state() { sed -n "s/^$1 \(skip\|ran rc=[0-9]*\)\$/\1/p" <<<"$2"; }
salt_apply() { # PILLAR SLS
	"$PY" "$ROOT/tests/pkg/salt_run.py" "$SALT" "$1" "$2" --run 2>&1
}

echo "== files: YAML, top, pillar"
for f in "$SALT/qubes-ephemeral.top" "$SALT/pillar/top.sls" "$SALT/pillar/qubes-ephemeral.sls"; do
	check "${f#$ROOT/} is YAML" 0 "" -- "$PY" -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$f"
done
top_sls=$("$PY" -c 'import sys, yaml; t = yaml.safe_load(open(sys.argv[1])); print("\n".join(x for x in t["base"]["dom0"] if isinstance(x, str)))' "$SALT/qubes-ephemeral.top")
same_list "top file applies qubes-ephemeral and qubes-ephemeral.enable to dom0" "qubes-ephemeral
qubes-ephemeral.enable" "$top_sls"
for s in $top_sls; do
	check "$s renders and checks (example pillar)" 0 "" -- "$PY" "$ROOT/tests/pkg/salt_run.py" "$SALT" "$SALT/pillar/qubes-ephemeral.sls" "$s"
done
plan=$("$PY" "$ROOT/tests/pkg/salt_run.py" "$SALT" "$SALT/pillar/qubes-ephemeral.sls" qubes-ephemeral.enable)
spec_name=$(sed -n 's/^Name: *//p' packaging/rpm/qubes-ephemeral-dom0.spec.in)
check "pkg.installed names the dom0 RPM ($spec_name)" 0 "" -- grep -qx "qubes-ephemeral-dom0 pkg.installed $spec_name" <<<"$plan"
svc=$(sed -n 's/^[^ ]* service.running \([^ ]*\) enable=True$/\1/p' <<<"$plan")
units_ok=yes
for u in $svc; do [[ $u == *.* ]] || u=$u.service; [ -f "dom0/systemd/$u" ] || { units_ok=no; echo "     | no unit dom0/systemd/$u"; }; done
[ $units_ok = yes ] && [ -n "$svc" ] && ok "services it enables are the package's units: $(echo $svc)" || bad "services it enables are the package's units"
# every command it runs is a qvm-ephemeral command its CLI knows
cli_ok=yes
while read -r sub; do
	qvm-ephemeral "$sub" --help >/dev/null 2>&1 || { cli_ok=no; echo "     | qvm-ephemeral $sub --help fails"; }
done < <(grep -oE 'qvm-ephemeral [a-z]+' <<<"$plan" | awk '{ print $2 }' | sort -u)
[ $cli_ok = yes ] && ok "every qvm-ephemeral subcommand it runs exists ($(grep -oE 'qvm-ephemeral [a-z]+' <<<"$plan" | awk '{ print $2 }' | sort -u | tr '\n' ' '))" || bad "qvm-ephemeral subcommands"

echo "== first run (example pillar: work, vault, all disposables)"
out=$(salt_apply "$SALT/pillar/qubes-ephemeral.sls" qubes-ephemeral.enable)
sed 's/^/     | /' <<<"$out"
[ "$(state qubes-ephemeral-kernel-variants "$out")" = "ran rc=0" ] && ok "kernel sync ran (6.1.0 had no variant)" || bad "kernel sync ran"
[ -d "$T/vm-kernels/6.1.0-ephemeral" ] && ok "variant 6.1.0-ephemeral made" || bad "variant 6.1.0-ephemeral made"
for q in work vault; do
	[ "$(state "qubes-ephemeral-enable-$q" "$out")" = "ran rc=0" ] && ok "enable $q ran, exit 0" || bad "enable $q ran, exit 0"
done
[ "$(state qubes-ephemeral-all-disposables "$out")" = "ran rc=1" ] && grep -q 'named-busy: Running' <<<"$out" &&
	ok "all-disposables: exit 1, names the running named disposable (state fails, as documented)" || bad "all-disposables first run"
v_ok=yes
for q in work vault dvm named-disp; do [ "$(verdict $q)" = ephemeral ] || { v_ok=no; echo "     | $q: $(verdict $q)"; }; done
[ $v_ok = yes ] && ok "work, vault, dvm, named-disp are ephemeral" || bad "verdicts after the first run"
[ "$(verdict personal)" = off ] && ok "personal (not listed) is untouched" || bad "personal touched: $(verdict personal)"

echo "== second run: nothing to do"
out=$(salt_apply "$SALT/pillar/qubes-ephemeral.sls" qubes-ephemeral.enable)
ran=$(grep -E '^[^ ]+ ran rc=' <<<"$out")
[ -z "$ran" ] && ok "every command skipped by its unless check ($(grep -c ' skip$' <<<"$out") states)" || { bad "second run ran commands"; sed 's/^/     | /' <<<"$ran"; }

if [ "$DOM0_VERSION" = fake ] || [ "$DOM0_VERSION" = release4.2 ]; then
	echo "== drift: a qubesd restart forgets rw=False (R4.2)"
	dom0_server_restart
else
	echo "== a qubesd restart keeps rw=False ($DOM0_VERSION); drift made in qubes.xml"
	dom0_server_restart
	[ "$(verdict work)" = ephemeral ] && ok "work still ephemeral after the restart" || bad "work after restart: $(verdict work)"
	dom0_xml_set_rw work
fi
[ "$(verdict work)" != ephemeral ] && ok "work drifted: $(verdict work)" || bad "work did not drift (fixture)"
out=$(salt_apply "$SALT/pillar/qubes-ephemeral.sls" qubes-ephemeral.enable)
[ "$(state qubes-ephemeral-enable-work "$out")" = "ran rc=0" ] && [ "$(verdict work)" = ephemeral ] &&
	ok "the state re-enables work: ephemeral again" || { bad "drift repaired"; sed 's/^/     | /' <<<"$out"; }

echo "== pillar change: exclude, dom0-crypt"
cat >"$T/p2.sls" <<'EOF'
qubes-ephemeral:
  qubes: [work]
  all-disposables: True
  exclude: [named-busy, dvm]
  dom0-crypt: True
EOF
out=$(salt_apply "$T/p2.sls" qubes-ephemeral.enable)
[ "$(state qubes-ephemeral-all-disposables "$out")" = "ran rc=0" ] && ok "all-disposables runs again with the new policy, exit 0 (named-busy excluded)" ||
	{ bad "all-disposables with the new policy"; sed 's/^/     | /' <<<"$out"; }
pol=$(qvm-features dom0 qubes-ephemeral.all-disposables)
[ "$pol" = "dom0-crypt=1 exclude=dvm,named-busy" ] && ok "saved policy: $pol" || bad "saved policy: $pol"
[ "$(state qubes-ephemeral-enable-work "$out")" = "ran rc=0" ] &&
	qvm-ephemeral status --format json work | grep -q '"volatile_ephemeral": true' &&
	ok "dom0-crypt: work enabled again, volatile ephemeral" || { bad "dom0-crypt for work"; sed 's/^/     | /' <<<"$out"; }
out=$(salt_apply "$T/p2.sls" qubes-ephemeral.enable)
[ -z "$(grep -E '^[^ ]+ ran rc=' <<<"$out")" ] && ok "then nothing to do" || { bad "p2 second run ran commands"; sed 's/^/     | /' <<<"$out"; }

echo "== errors and names"
cat >"$T/p3.sls" <<'EOF'
qubes-ephemeral:
  qubes: [browser, nosuchqube, "x;touch pwned"]
EOF
out=$(cd "$T" && salt_apply "$T/p3.sls" qubes-ephemeral.enable)
[ "$(state qubes-ephemeral-enable-browser "$out")" = "ran rc=1" ] && grep -q 'browser: Running' <<<"$out" &&
	ok "a running qube: the state fails with the tool's reason" || { bad "running qube"; sed 's/^/     | /' <<<"$out"; }
[ "$(state qubes-ephemeral-enable-nosuchqube "$out")" = "ran rc=1" ] && ok "an unknown qube: the state fails" || { bad "unknown qube"; sed 's/^/     | /' <<<"$out"; }
[ ! -e "$T/pwned" ] && ok "a qube name with ; is quoted (no command run)" || bad "shell injection through a qube name"
cat >"$T/p4.sls" <<'EOF'
qubes-ephemeral: {}
EOF
plan=$("$PY" "$ROOT/tests/pkg/salt_run.py" "$SALT" "$T/p4.sls" qubes-ephemeral.enable)
same_list "empty pillar: package, kernel variants, units only" "qubes-ephemeral-dom0
qubes-ephemeral-kernel-variants
qvm-ephemeral-kernel-sync.path
qvm-ephemeral-watch" "$(grep -vE ' unless ' <<<"$plan" | cut -d' ' -f1)"

summary
