#!/usr/bin/env python3
"""The simulator, run as a user runs it: `chordnode simulate --build at-once` starts every node in
the same instant through seeds that are themselves joining, and the ring must converge to one
correct ring (every successor, predecessor and finger right, every lookup answered by the true
owner) at 10^4 nodes, for seeds picked at random among earlier nodes and for one shared list.
With --huge-pages (a build whose malloc is glibc's, not a sanitizer's) and a kernel that gives
transparent huge pages on request, the simulator's memory must be in them."""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--huge-pages", action="store_true", help="expect the memory in transparent huge pages")
    args = ap.parse_args()
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            thp = "[never]" not in f.read()
    except OSError:
        thp = False
    check = Checks()
    for seeds in ("random", "shared"):
        cmd = [args.binary, "simulate", "--nodes", str(args.nodes), "--lookups", "10000", "--build", "at-once",
               "--seeds", seeds, "--json"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=850)
        check(r.returncode == 0, "%s exited 0: %s" % (" ".join(cmd[1:]), r.stderr.strip()[-300:]))
        if r.returncode != 0 and not r.stdout.strip():
            continue
        out = json.loads(r.stdout)
        print("seeds %s: %d nodes in after %d rounds (%d attempts found no seed in a ring), converged in %s "
              "rounds, %.1f s" % (seeds, out["nodes"], out["at_once"]["join_rounds"], out["at_once"]["join_retries"],
                                  out["build_rounds"], out["seconds"]), flush=True)
        check(out["nodes"] == args.nodes and out["build"] == "at-once", "%s: the run was the one asked for" % seeds)
        check(out["build_rounds"] is not None, "%s: converged" % seeds)
        check(out["fingers_correct"] == 1, "%s: every finger right (%s)" % (seeds, out["fingers_correct"]))
        check(out["wrong"] == 0 and out["failed"] == 0,
              "%s: every lookup found the true owner (wrong %d, failed %d)" % (seeds, out["wrong"], out["failed"]))
        check(out["at_once"]["join_retries"] > 0, "%s: some nodes found their seeds still joining" % seeds)
        if args.huge_pages and thp:
            check(out["huge_page_bytes"] >= out["peak_rss_bytes"] // 4,
                  "%s: the ring's memory is in huge pages (%d of %d bytes)" % (seeds, out["huge_page_bytes"],
                                                                              out["peak_rss_bytes"]))
        else:
            print("huge pages not checked (%s)" % ("a sanitizer build" if thp else "the kernel gives none"))
    check.finish("simulate at once")


if __name__ == "__main__":
    main()
