#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test-only stand-in for the parts of Salt that qubes-ephemeral's states use
(Salt is not packaged in Debian 12): renders an .sls with Jinja (salt's
pillar.get and the `quote` filter), follows `include`, parses the YAML and
checks its shape (known state functions, requisites naming existing states),
then with --run executes the cmd.run states in order as Salt does: `unless`
first (exit 0 = skip), then `name`, both with bash (root's shell in dom0).

usage: salt_run.py SALTDIR PILLAR.sls SLS [--run]
prints one line per state: "ID FUNCTION ARG..." and, when run,
"ID skip" or "ID ran rc=N" followed by the command's output indented.
Exit 1 when the file does not render, parse or check."""
import os
import shlex
import subprocess
import sys

import jinja2
import yaml

KNOWN = {"pkg.installed", "cmd.run", "service.running"}


def render(saltdir, sls, pillar):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(saltdir), undefined=jinja2.StrictUndefined)
    env.filters["quote"] = shlex.quote
    rel = sls.replace(".", "/")
    path = rel + ".sls" if os.path.exists(os.path.join(saltdir, rel + ".sls")) else rel + "/init.sls"
    text = env.get_template(path).render(salt={"pillar.get": lambda k, d=None: pillar.get(k, d)})
    return yaml.safe_load(text) or {}


def load(saltdir, sls, pillar, seen=None):
    """states of SLS and of what it includes, included ones first"""
    seen = seen if seen is not None else set()
    if sls in seen:
        return {}
    seen.add(sls)
    data = render(saltdir, sls, pillar)
    out = {}
    for inc in data.pop("include", []):
        out.update(load(saltdir, inc, pillar, seen))
    out.update(data)
    return out


def fail(msg):
    print("salt_run: " + msg)
    sys.exit(1)


def main():
    saltdir, pillar_file, sls = sys.argv[1:4]
    run = "--run" in sys.argv[4:]
    with open(pillar_file) as f:
        pillar = yaml.safe_load(f) or {}
    try:
        states = load(saltdir, sls, pillar)
    except (jinja2.TemplateError, yaml.YAMLError, OSError) as e:
        fail("{}: {}".format(sls, e))
    funcs = {}
    for sid, body in states.items():
        if not isinstance(body, dict) or len(body) != 1:
            fail("{}: one state function wanted, got {!r}".format(sid, body))
        (fun, args), = body.items()
        if fun not in KNOWN:
            fail("{}: unknown state function {}".format(sid, fun))
        if not isinstance(args, list) or not all(isinstance(a, dict) and len(a) == 1 for a in args):
            fail("{}: arguments must be a list of one-key maps".format(sid))
        funcs[sid] = (fun, {k: v for a in args for k, v in a.items()})
    for sid, (fun, args) in funcs.items():
        for req in args.get("require", []):
            (mod, target), = req.items()
            if target not in funcs or funcs[target][0].split(".")[0] != mod:
                fail("{}: require {}: {} names no such state".format(sid, mod, target))
        if fun == "cmd.run" and not isinstance(args.get("name"), str):
            fail("{}: cmd.run without a name".format(sid))
    for sid, (fun, args) in funcs.items():
        name = args.get("name", sid)
        if fun == "pkg.installed":
            print("{} pkg.installed {}".format(sid, name))
        elif fun == "service.running":
            print("{} service.running {} enable={}".format(sid, name, args.get("enable")))
        else:
            print("{} cmd.run {}".format(sid, name))
            if "unless" in args:
                print("{} unless {}".format(sid, args["unless"]))
            if not run:
                continue
            if "unless" in args and subprocess.run(["bash", "-c", args["unless"]],
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
                print("{} skip".format(sid))
                continue
            p = subprocess.run(["bash", "-c", name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            print("{} ran rc={}".format(sid, p.returncode))
            for line in p.stdout.splitlines():
                print("    " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
