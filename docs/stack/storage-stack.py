#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Draws the storage stack of an ephemeral qube from the device-mapper tables
of a real test boot.

The `systemd` scenario of tests/vm/run.sh prints, from inside the guest,
`dmsetup table`, the number/name/size of every block device and the mounts
(tests/vm/guest-systemd/qe-report.sh: "GUEST dm-table:", "GUEST blockdev:",
"GUEST mount:", "GUEST swaps=" lines). This script reads those lines from a
console log (or from the extract it writes) and

  storage-stack.py extract CONSOLE_LOG > stack.txt   keeps only those lines
  storage-stack.py svg STACK_OR_LOG > stack.svg      draws the picture
  storage-stack.py signature STACK_OR_LOG            one line per device:
      name, target, what it stands on (what docs/stack/check.sh compares)

Only the standard library; the output is deterministic (no dates), so the
committed SVG can be compared with a fresh rendering.
"""
import re
import sys
from xml.sax.saxutils import escape

# The QEMU disks stand in for a qube's Xen disks (tests/vm/README.md).
QUBES_NAME = {"vda": "xvda", "vdb": "xvdb", "vdc": "xvdc", "vdd": "xvdd"}
DISK_ROLE = {"vda": "root volume (template's)", "vdb": "private volume",
             "vdc": "volatile volume", "vdd": "kernel modules"}

LINE = re.compile(r"GUEST (dm-table: .*|blockdev: .*|mount: .*|swaps=.*)$")


def extract(text):
    out = []
    for raw in text.splitlines():
        m = LINE.search(raw.replace("\r", ""))
        if m and re.match(r"blockdev: \S+ (ram|loop|zram)", m.group(1)):
            continue
        if m:
            out.append("GUEST " + m.group(1).rstrip())
    return out


def human(sectors):
    b = sectors * 512
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= size:
            v = b / size
            return ("%.0f %s" if v >= 10 or v == int(v) else "%.1f %s") % (v, unit)
    return "%d B" % b


class Stack:
    def __init__(self, lines):
        self.dev = {}        # maj:min -> {name, size, ro, dm}
        self.tables = {}     # dm name -> list of (start, length, target, args)
        self.mounts = []     # (source, mountpoint)
        self.swaps = []
        for line in lines:
            body = line[len("GUEST "):]
            if body.startswith("dm-table: "):
                m = re.match(r"dm-table: (\S+): (\d+) (\d+) (\S+) ?(.*)$", body)
                if m:
                    self.tables.setdefault(m.group(1), []).append(
                        (int(m.group(2)), int(m.group(3)), m.group(4), m.group(5).split()))
            elif body.startswith("blockdev: "):
                f = body.split()
                dm = f[5][3:] if len(f) > 5 and f[5].startswith("dm=") else ""
                self.dev[f[1]] = {"name": f[2], "size": int(f[3]), "ro": f[4] == "ro=1", "dm": dm}
            elif body.startswith("mount: "):
                f = body.split()
                self.mounts.append((f[1], f[2]))
            elif body.startswith("swaps="):
                self.swaps = [s for s in body[len("swaps="):].split(",") if s]
        if not self.tables:
            sys.exit("storage-stack: no 'GUEST dm-table:' lines: not a console log of the "
                     "systemd scenario (tests/vm/run.sh systemd)")

    def node_of(self, ref):
        """A table's device reference (maj:min or /dev/NAME) -> node name."""
        d = self.dev.get(ref)
        if d:
            return d["dm"] or d["name"]
        return ref.rsplit("/", 1)[-1]

    def kernel_name(self, node):
        for d in self.dev.values():
            if d["dm"] == node:
                return d["name"]
        return node

    def nodes(self):
        """node -> {kind, label lines, deps [(node, how)]}"""
        g = {}
        for name, segs in sorted(self.tables.items()):
            _start, length, target, a = segs[0]
            deps, detail = [], ""
            if target == "crypt" and len(a) >= 5:
                key = "kernel keyring (" + a[1].split(":")[2] + ")" if a[1].startswith(":") else "key in table"
                sect = next((x.split(":")[1] for x in a if x.startswith("sector_size:")), "512")
                detail = "%s, %s-byte sectors; key: %s" % (a[0], sect, key)
                deps = [(self.node_of(a[3]), "on")]
            elif target == "linear" and len(a) >= 2:
                detail = "slice at %s" % human(int(a[1]))
                deps = [(self.node_of(a[0]), "on")]
            elif target == "thin-pool" and len(a) >= 3:
                detail = "%s blocks" % human(int(a[2]))
                deps = [(self.node_of(a[0]), "metadata"), (self.node_of(a[1]), "data")]
            elif target == "thin" and len(a) >= 2:
                detail = "thin device %s" % a[1]
                deps = [(self.node_of(a[0]), "on")]
                if len(a) >= 3:
                    deps.append((self.node_of(a[2]), "origin"))
                    detail += "; unchanged blocks read from the origin"
            elif target == "snapshot" and len(a) >= 2:
                detail = "snapshot (stock Qubes)"
                deps = [(self.node_of(a[0]), "origin"), (self.node_of(a[1]), "on")]
            g[name] = {"kind": target, "size": length, "detail": detail, "deps": deps}
        for name in [d for n in list(g.values()) for d, _ in n["deps"]]:
            if name not in g:
                d = next((v for v in self.dev.values() if v["name"] == name), None)
                base, part = re.match(r"(.*?)(\d*)$", name).groups()
                role = DISK_ROLE.get(base, "disk") + (" (partition %s)" % part if part else "")
                detail = "%s%s in Qubes: %s%s" % (QUBES_NAME.get(base, base), part, role,
                                                  ", read-only" if d and d["ro"] else "")
                g[name] = {"kind": "disk", "size": d["size"] if d else 0, "detail": detail, "deps": []}
        # what uses the top devices
        where = {}
        for src, mnt in self.mounts:
            node = self.node_of(src)
            if node in g:
                where.setdefault(node, []).append(mnt)
        for node, mnts in where.items():   # /home is a bind mount of /rw's
            g["mount " + ", ".join(mnts)] = {"kind": "mount", "size": 0, "detail": "", "deps": [(node, "on")]}
        for s in self.swaps:
            node = self.node_of(s)
            node = next((v["dm"] for v in self.dev.values() if v["name"] == node and v["dm"]), node)
            if node in g:
                g["swap"] = {"kind": "mount", "size": 0, "detail": "", "deps": [(node, "on")]}
        return g


def layers(g):
    depth = {}

    def d(n):
        if n not in depth:
            depth[n] = 0 if not g[n]["deps"] else 1 + max(d(x) for x, _ in g[n]["deps"])
        return depth[n]
    for n in g:
        d(n)
    # mounts go on the top row together
    top = max(depth.values())
    for n in g:
        if g[n]["kind"] == "mount":
            depth[n] = top
    return depth


def wrap(text, width):
    """Splits text into lines of at most width characters, at spaces."""
    out, cur = [], ""
    for w in text.split():
        if cur and len(cur) + 1 + len(w) > width:
            out.append(cur)
            cur = w
        else:
            cur = cur + " " + w if cur else w
    return out + ([cur] if cur else [])


def signature(st):
    g = st.nodes()
    out = []
    for n in sorted(g):
        deps = ",".join("%s(%s)" % (x, how) for x, how in g[n]["deps"])
        out.append("%s %s %s" % (n, g[n]["kind"], deps or "-"))
    return out


COLORS = {"disk": "#e8e8e8", "crypt": "#f9d9a8", "linear": "#fdeccf", "thin-pool": "#cfe3f7",
          "thin": "#d8f0d2", "snapshot": "#f4c7c3", "mount": "#ffffff"}


def svg(st):
    g = st.nodes()
    depth = layers(g)
    rows = max(depth.values()) + 1
    bw, bh, gapx, gapy, margin, gutter = 270, 80, 24, 70, 20, 56
    width = max(sum(1 for n in g if depth[n] == r) for r in range(rows)) * (bw + gapx) - gapx + 2 * (margin + gutter)
    title_h = 56
    height = title_h + rows * (bh + gapy) - gapy + 2 * margin + 40
    # top row by name; every lower row by the mean x of what stands on it,
    # so an origin disk ends up on the side of the thin device reading it
    box = {}
    for r in range(rows - 1, -1, -1):
        row = [n for n in g if depth[n] == r]

        def users_x(n):
            xs = [box[u][0] for u in box if any(d == n for d, _ in g[u]["deps"])]
            return sum(xs) / len(xs) if xs else 0
        row.sort(key=lambda n: (users_x(n), n))
        roww = len(row) * (bw + gapx) - gapx
        x0 = (width - roww) / 2
        y = title_h + margin + (rows - 1 - r) * (bh + gapy)
        for i, n in enumerate(row):
            box[n] = (x0 + i * (bw + gapx), y)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">' % (width, height, width, height),
         '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
         'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>',
         '<rect width="100%" height="100%" fill="#ffffff"/>',
         '<text x="%d" y="26" font-size="16" font-weight="bold">Storage stack of an ephemeral qube</text>' % margin,
         '<text x="%d" y="44" fill="#555">drawn by docs/stack/storage-stack.py from the device-mapper '
         'tables of a test boot (tests/vm/run.sh systemd)</text>' % margin]
    labels = []
    for n in sorted(g):
        x, y = box[n]
        for dep, how in g[n]["deps"]:
            dx, dy = box[dep]
            if how == "origin":
                # around the boxes, through the gutter on the disk's side
                left = dx + bw / 2 < width / 2
                gx = margin + gutter / 2 if left else width - margin - gutter / 2
                sx = x if left else x + bw
                ex = dx if left else dx + bw
                o.append('<path d="M%.0f,%.0f H%.0f V%.0f H%.0f" fill="none" stroke="#444" stroke-width="1.4" '
                         'stroke-dasharray="6,4" marker-end="url(#a)"/>' % (sx, y + bh / 2, gx, dy + bh / 2, ex))
                labels.append((gx, (y + dy + bh) / 2, "origin (read only)", True))
                continue
            x1, y1, x2, y2 = x + bw / 2, y + bh, dx + bw / 2, dy
            o.append('<path d="M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f" fill="none" stroke="#444" '
                     'stroke-width="1.4" marker-end="url(#a)"/>' % (x1, y1, x1, y1 + 30, x2, y2 - 30, x2, y2))
            if how in ("metadata", "data"):
                labels.append(((x1 + x2) / 2, (y1 + y2) / 2, how, False))
    for n in sorted(g):
        x, y = box[n]
        k = g[n]
        o.append('<rect x="%.0f" y="%.0f" width="%d" height="%d" rx="6" fill="%s" stroke="#333"/>'
                 % (x, y, bw, bh, COLORS.get(k["kind"], "#fff")))
        if k["kind"] == "mount":
            label = n[len("mount "):] if n.startswith("mount ") else n
            sub = "file system" if label != "swap" else "swap space"
            lines = [(label, True), (sub, False)]
        else:
            title = n if k["kind"] == "disk" else "%s (%s)" % (n, st.kernel_name(n))
            lines = [(title, True), ("%s, %s" % (k["kind"], human(k["size"])), False), (k["detail"], False)]
        shown = []
        for t, bold in lines:
            shown += [(w, bold) for w in wrap(t, 40)]
        for i, (t, bold) in enumerate(shown[:4]):
            o.append('<text x="%.0f" y="%.0f" text-anchor="middle"%s>%s</text>'
                     % (x + bw / 2, y + 20 + i * 17, ' font-weight="bold"' if bold else "", escape(t)))
    for tx, ty, t, vertical in labels:
        rot = ' transform="rotate(-90 %.0f %.0f)"' % (tx, ty) if vertical else ""
        o.append('<text x="%.0f" y="%.0f" text-anchor="middle" dominant-baseline="middle" fill="#333" '
                 'font-style="italic" stroke="#fff" stroke-width="4" paint-order="stroke"%s>%s</text>'
                 % (tx, ty, rot, escape(t)))
    ly = height - margin - 6
    o.append('<text x="%d" y="%d" fill="#555">Everything the qube writes passes the dm-crypt layer; '
             'the origins (dashed) are only read; the key lives in the kernel only.</text>' % (margin, ly))
    o.append("</svg>")
    return "\n".join(o) + "\n"


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("extract", "svg", "signature"):
        sys.exit("usage: storage-stack.py extract|svg|signature FILE")
    with open(sys.argv[2], errors="replace") as f:
        lines = extract(f.read())
    if sys.argv[1] == "extract":
        if not any(x.startswith("GUEST dm-table: ") for x in lines):
            sys.exit("storage-stack: no 'GUEST dm-table:' lines in %s" % sys.argv[2])
        print("\n".join(lines))
    elif sys.argv[1] == "svg":
        sys.stdout.write(svg(Stack(lines)))
    else:
        print("\n".join(signature(Stack(lines))))


if __name__ == "__main__":
    main()
