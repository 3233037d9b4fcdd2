#!/usr/bin/env python3
"""A/B of chordnode binaries on one transport: for each round and each binary in turn, a ring of
N processes of that binary (converged, then left 2 s to settle), measured by that binary's
bench-client: ping, lookup, 4 KiB put and get p50, and 1 MiB put throughput. Rings are started
anew per binary and round, so that a difference of code shows beside the difference between two
rings (random ports give each ring other ids, hence other hop counts).

    bench/ab.py --transport grpc [--nodes 8] [--rounds 2] [--count 2000] BINARY [BINARY...]

With --together, one ring per binary is started once and all stay up while each round runs the
--ops on each ring in turn (a 64 MiB get: --ops put,get --size 64MiB --count 3): the rings share
the machine's good and bad minutes, and each measurement also gives the ring's CPU per operation
(all its processes, user and system, from /proc), which the machine's load moves less than
latency. The medians per binary and operation come last. Fresh rings per round can hide a change
of a tenth (other ids, other paths); rings held together show one, but a pair of rings can differ
too: swap the binaries between the rings (run again with the binaries in the other order).

    bench/ab.py --together --transport rest --ops put,get --size 64MiB --count 3 --rounds 3 A B

Prints one line per ring and, with --json, one JSON object per ring (with --together, per ring,
round and operation) instead. AMQP needs a broker (scripts/rabbitmq.sh start)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
from ringlib import Ring  # noqa: E402
from procstat import cpu_seconds  # noqa: E402


def client(binary, via, op, count, size=None, prefix="ab"):
    cmd = [binary, "bench-client", "--via", via, "--op", op, "--count", str(count), "--prefix", prefix]
    if size:
        cmd += ["--size", size]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip() or r.stdout.strip()))
    return json.loads(r.stdout.splitlines()[0])


def measure(binary, transport, nodes, count, tag):
    ring = Ring(binary, transport, stabilize_ms=500)
    try:
        uris = ring.start(nodes)
        if not ring.wait_converged(timeout=120):
            raise RuntimeError("%s ring of %d did not converge (logs in %s)" % (transport, nodes, ring.workdir))
        time.sleep(2)
        values = max(1, count * 3 // 20)
        ping = client(binary, uris[1 % nodes], "ping", count)
        look = client(binary, uris[2 % nodes], "lookup", count)
        put = client(binary, uris[3 % nodes], "put", values, "4KiB", "small" + tag)
        get = client(binary, uris[4 % nodes], "get", values, "4KiB", "small" + tag)
        big = client(binary, uris[3 % nodes], "put", max(1, values // 10), "1MiB", "big" + tag)
        return {"binary": binary, "transport": transport, "nodes": nodes, "ping_p50_ms": ping["p50_ms"],
                "lookup_p50_ms": look["p50_ms"], "hops_mean": look["hops_mean"], "put_4k_p50_ms": put["p50_ms"],
                "get_4k_p50_ms": get["p50_ms"], "put_1m_mb_per_s": big["mb_per_s"]}
    finally:
        ring.stop()


def together(args):
    """Rings of every binary up at once; each round runs every op on each ring in turn."""
    rings = []
    try:
        for b in args.binaries:
            ring = Ring(b, args.transport, stabilize_ms=500, extra=["--replicas", str(args.replicas)])
            rings.append(ring)
            ring.start(args.nodes)
            if not ring.wait_converged(timeout=120):
                raise RuntimeError("%s ring of %d did not converge (logs in %s)" % (args.transport, args.nodes, ring.workdir))
        time.sleep(2)
        seen = {}
        for r in range(args.rounds):
            for b, ring in zip(args.binaries, rings):
                uris = list(ring.nodes)
                pids = [p.pid for p in ring.nodes.values()]
                for op in args.ops:
                    before = cpu_seconds(pids)
                    size = args.size if op in ("put", "get") else None
                    out = client(b, uris[0], op, args.count, size, "ab%d" % r)
                    cpu_ms = (cpu_seconds(pids) - before) * 1e3 / max(1, out["ok"])
                    m = {"binary": b, "transport": args.transport, "nodes": args.nodes, "round": r, "op": op,
                         "size": size, "p50_ms": out["p50_ms"], "hops_mean": out.get("hops_mean"),
                         "mb_per_s": out.get("mb_per_s"), "ring_cpu_ms_per_op": round(cpu_ms, 4)}
                    seen.setdefault((b, op), []).append(m)
                    if args.json:
                        print(json.dumps(m), flush=True)
                    else:
                        print("round %d  %-30s %-6s p50 %.3f ms  ring CPU %.3f ms/op%s%s" % (
                            r, b[-30:], op, m["p50_ms"], cpu_ms,
                            "  hops %.2f" % m["hops_mean"] if m["hops_mean"] is not None else "",
                            "  %.1f MB/s" % m["mb_per_s"] if m["mb_per_s"] else ""), flush=True)
        if not args.json:
            for (b, op), ms in seen.items():
                med = lambda k: statistics.median(x[k] for x in ms)  # noqa: E731
                print("median    %-30s %-6s p50 %.3f ms  ring CPU %.3f ms/op%s%s" % (
                    b[-30:], op, med("p50_ms"), med("ring_cpu_ms_per_op"),
                    "  hops %.2f" % med("hops_mean") if ms[0]["hops_mean"] is not None else "",
                    "  %.1f MB/s" % med("mb_per_s") if ms[0]["mb_per_s"] else ""), flush=True)
    finally:
        for ring in rings:
            ring.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transport", default="grpc", choices=["grpc", "rest", "amqp"])
    ap.add_argument("--nodes", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--count", type=int, default=2000, help="pings and lookups per ring (0.15 as many 4 KiB puts and gets, 0.015 as many of 1 MiB); with --together, operations of each kind per ring and round")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--together", action="store_true", help="the rings of all binaries up at once, with CPU per operation")
    ap.add_argument("--ops", default="ping,lookup,put,get", help="with --together: ping, lookup, put, get, in order (a get reads what the round's put wrote)")
    ap.add_argument("--size", default="4KiB", help="with --together: the value size of put and get")
    ap.add_argument("--replicas", type=int, default=3, help="with --together: copies of each value (k)")
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    if args.nodes < 2:
        sys.exit("ab.py: --nodes must be at least 2")
    args.ops = args.ops.split(",")
    bad = [op for op in args.ops if op not in ("ping", "lookup", "put", "get")]
    if bad:
        sys.exit("ab.py: unknown --ops %s (ping, lookup, put, get)" % ",".join(bad))
    if args.together:
        together(args)
        return
    for r in range(args.rounds):
        for b in args.binaries:
            m = measure(b, args.transport, args.nodes, args.count, "%d" % r)
            if args.json:
                print(json.dumps(m), flush=True)
            else:
                print("%-30s ping %.3f  lookup %.3f (hops %.2f)  put 4KiB %.3f  get 4KiB %.3f ms  put 1MiB %.1f MB/s" % (
                    b[-30:], m["ping_p50_ms"], m["lookup_p50_ms"], m["hops_mean"], m["put_4k_p50_ms"],
                    m["get_4k_p50_ms"], m["put_1m_mb_per_s"]), flush=True)


if __name__ == "__main__":
    main()
