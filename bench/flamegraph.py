#!/usr/bin/env python3
"""Draws a flame graph (SVG) from `perf script` output: one box per function on a stack, as wide
as the share of samples it was on the stack for; the frames it called stand on top of it.

    perf record -F 499 -g --call-graph dwarf -o perf.data -- COMMAND
    perf script -i perf.data | bench/flamegraph.py --title "..." > out.svg

Debian 12 packages neither Brendan Gregg's FlameGraph scripts nor perf's flamegraph report (it
fetches its template from the web), so the folding and drawing are done here. `--folded FILE`
also writes the folded stacks ("a;b;c count" per line), for diffing two profiles.
"""
import argparse
import html
import re
import sys
import zlib

ROW = 16
WIDTH = 1200
FONT = 11
MIN_PX = 0.3  # narrower boxes are left out


def fold(lines):
    """Stacks (root first) and their sample counts from perf script's text."""
    stacks = {}
    frames = []
    in_sample = False

    def flush():
        if frames:
            key = tuple(reversed(frames))
            stacks[key] = stacks.get(key, 0) + 1
        frames.clear()

    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            in_sample = False
            continue
        if not line.startswith((" ", "\t")):
            flush()
            in_sample = True
            continue
        if not in_sample:
            continue
        # "\t    55d1c2 symbol+0x12 (/path/lib.so)"
        parts = line.strip().split(" ", 1)
        if len(parts) < 2:
            continue
        sym = parts[1]
        sym = re.sub(r" \([^()]*\)$", "", sym)  # the object file
        sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
        if sym in ("[unknown]", ""):
            continue
        frames.append(shorten(sym))
    flush()
    return stacks


def shorten(sym):
    """Drops template arguments and parameter lists, which make C++ names unreadably long."""
    out, depth = [], 0
    for ch in sym:
        if ch == "<":
            depth += 1
            if depth == 1:
                out.append("<…>")
            continue
        if ch == ">" and depth:
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    s = "".join(out)
    s = re.sub(r"\(.*\)( const)?$", "", s)
    return s.replace(" (inlined)", "")


def tree(stacks):
    root = {"name": "all", "count": 0, "kids": {}}
    for stack, n in stacks.items():
        root["count"] += n
        node = root
        for f in stack:
            node = node["kids"].setdefault(f, {"name": f, "count": 0, "kids": {}})
            node["count"] += n
    return root


def colour(name):
    h = zlib.crc32(name.encode())
    return "rgb(%d,%d,%d)" % (205 + h % 50, 80 + (h >> 8) % 120, 40 + (h >> 16) % 40)


def svg(root, title, subtitle):
    total = root["count"] or 1
    boxes = []
    depth_max = [0]

    def walk(node, x, depth):
        w = node["count"] / total * (WIDTH - 20)
        if w < MIN_PX:
            return
        depth_max[0] = max(depth_max[0], depth)
        boxes.append((x, depth, w, node))
        cx = x
        for kid in sorted(node["kids"].values(), key=lambda k: k["name"]):
            walk(kid, cx, depth + 1)
            cx += kid["count"] / total * (WIDTH - 20)

    walk(root, 10, 0)
    height = (depth_max[0] + 1) * ROW + 70
    out = ['<?xml version="1.0" standalone="no"?>',
           '<svg version="1.1" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg" font-family="monospace" font-size="%d">'
           % (WIDTH, height, FONT),
           '<rect width="100%" height="100%" fill="#f8f8f0"/>',
           '<text x="%d" y="20" text-anchor="middle" font-size="15">%s</text>' % (WIDTH // 2, html.escape(title)),
           '<text x="%d" y="38" text-anchor="middle">%s</text>' % (WIDTH // 2, html.escape(subtitle))]
    for x, depth, w, node in boxes:
        y = height - 10 - (depth + 1) * ROW
        pct = 100.0 * node["count"] / total
        label = "%s (%d samples, %.2f%%)" % (node["name"], node["count"], pct)
        out.append('<g><title>%s</title><rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" rx="2"/>'
                   % (html.escape(label), x, y, w, ROW - 1, colour(node["name"])))
        chars = int(w / (FONT * 0.6))
        if chars >= 4:
            text = node["name"] if len(node["name"]) <= chars else node["name"][:chars - 1] + "…"
            out.append('<text x="%.1f" y="%d">%s</text>' % (x + 2, y + ROW - 4, html.escape(text)))
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--title", default="flame graph")
    ap.add_argument("--folded", help="also write the folded stacks to this file")
    args = ap.parse_args()
    stacks = fold(sys.stdin)
    if not stacks:
        sys.exit("flamegraph.py: no samples with call stacks on stdin (perf record -g?)")
    if args.folded:
        with open(args.folded, "w") as f:
            for stack, n in sorted(stacks.items(), key=lambda kv: -kv[1]):
                f.write("%s %d\n" % (";".join(stack), n))
    root = tree(stacks)
    sys.stdout.write(svg(root, args.title, "%d samples; width = share of samples on the stack" % root["count"]))


if __name__ == "__main__":
    main()
