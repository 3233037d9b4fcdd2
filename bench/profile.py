#!/usr/bin/env python3
"""Profiles chordnode with perf and draws flame graphs (bench/flamegraph.py):

- lookup: a ring of N processes on one transport; perf samples every node while bench-client
  runs lookups through one of them;
- put: the same ring, while bench-client puts values (k = 3 copies);
- sim: `chordnode simulate` (the real node code, in-process transport).

    bench/profile.py --binary build/chordnode --out docs/bench/profiles/after [--transport grpc]
                     [--only lookup,put,sim] [--nodes 8] [--sim-nodes 10000] [--put-size 1MiB]

For each profile, OUT gets NAME.svg (the flame graph), NAME.folded (folded stacks) and
NAME.top.txt (perf report's functions by own samples), and OUT/summary.json what was run.
Needs perf (linux-perf) and, for the ring profiles, the transport's dependencies (a broker on
127.0.0.1:5672 for amqp).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
from ringlib import Ring  # noqa: E402

PERF = ["perf", "record", "-q", "-F", "199", "--call-graph", "dwarf,16384"]


def draw(data, out, name, title):
    script = subprocess.run(["perf", "script", "-i", data], capture_output=True, check=True)
    with open(os.path.join(out, name + ".svg"), "wb") as svg:
        subprocess.run([sys.executable, os.path.join(HERE, "flamegraph.py"), "--title", title,
                        "--folded", os.path.join(out, name + ".folded")],
                       input=script.stdout, stdout=svg, check=True)
    top = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "-g", "none",
                          "--percent-limit", "0.5"], capture_output=True, text=True, check=True)
    shutil.rmtree(os.path.dirname(data))  # perf.data with dwarf stacks runs to tens of MB
    rows = [line for line in top.stdout.splitlines() if line.strip() and not line.startswith("#")]
    with open(os.path.join(out, name + ".top.txt"), "w") as f:
        f.write("\n".join(row[:160] for row in rows[:40]) + "\n")


def profile_ring(args, out, ops, summary):
    ring = Ring(args.binary, args.transport)
    try:
        uris = ring.start(args.nodes)
        if not ring.wait_converged():
            sys.exit("profile.py: the ring did not converge (logs in %s)" % ring.workdir)
        pids = ",".join(str(p.pid) for p in ring.nodes.values())
        for op, count, size in ops:
            data = os.path.join(tempfile.mkdtemp(prefix="chordprof-"), "perf.data")
            client = [args.binary, "bench-client", "--via", uris[0], "--op", op, "--count", str(count),
                      "--size", size, "--prefix", "profile-" + op]
            r = subprocess.run(PERF + ["-o", data, "-p", pids, "--"] + client, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit("profile.py: %s failed: %s" % (" ".join(client), r.stderr.strip()))
            result = json.loads(r.stdout.strip().splitlines()[-1])
            title = "%s of %s over %s, ring of %d processes (every node sampled)" % (op, size, args.transport, args.nodes)
            draw(data, out, op, title)
            summary[op] = {"transport": args.transport, "nodes": args.nodes, "count": count, "size": size,
                           "client": result}
            print("%s: %s" % (op, json.dumps(result)), flush=True)
    finally:
        ring.stop()


def profile_sim(args, out, summary):
    data = os.path.join(tempfile.mkdtemp(prefix="chordprof-"), "perf.data")
    cmd = [args.binary, "simulate", "--nodes", str(args.sim_nodes), "--lookups", str(args.sim_nodes), "--json"]
    r = subprocess.run(PERF + ["-o", data, "--"] + cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("profile.py: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
    result = json.loads(r.stdout.strip().splitlines()[-1])
    draw(data, out, "sim", "chordnode simulate --nodes %d --lookups %d" % (args.sim_nodes, args.sim_nodes))
    summary["sim"] = result
    print("sim: %s" % json.dumps(result), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--transport", default="grpc")
    ap.add_argument("--nodes", type=int, default=8)
    ap.add_argument("--sim-nodes", type=int, default=10000)
    ap.add_argument("--only", default="lookup,put,sim")
    ap.add_argument("--put-size", default="1MiB", help="value size of the put profile (e.g. 4KiB: the per-call cost)")
    ap.add_argument("--put-count", type=int, default=0, help="puts profiled (default 200, or 5000 below 64 KiB)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    only = set(args.only.split(","))
    summary = {"binary_version": subprocess.run([args.binary, "--version"], capture_output=True,
                                                text=True).stdout.strip()}
    small = args.put_size.upper().endswith("KIB") and float(args.put_size[:-3]) < 64
    puts = args.put_count or (5000 if small else 200)
    ops = [(op, count, size) for op, count, size in [("lookup", 5000, "4KiB"), ("put", puts, args.put_size)] if op in only]
    if ops:
        profile_ring(args, args.out, ops, summary)
    if "sim" in only:
        profile_sim(args, args.out, summary)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
