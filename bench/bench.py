#!/usr/bin/env python3
"""Benchmarks of chordnode on each transport: for every transport it starts a ring of N real node
processes on 127.0.0.1, waits for convergence, and measures with `chordnode bench-client`
(inproc, the floor: the same engine with no transport, an ideal ring inside the client process):

  ping      round trip to one peer (the per-hop cost), p50/p90/p99
  lookup    latency p50/p99 and mean hops, random keys from one access node
  lookup/s  throughput with C = 1, 4, 16 concurrent callers
  put, get  MB/s for values of 4 KiB, 1 MiB and 64 MiB; 4 KiB p50 with the default quorums
            (W = R = 2 of 3) through an access node and from a client that sends each value to
            its key's owner (bench-client --to-owner), and on a second ring with W = R = 1;
            64 MiB (quick: 8 MiB) also as the CLI sends them, between the client and the key's
            holder (bench-client --cli-route)
  idle      RSS, PSS, private memory and threads per node; CPU time of the ring per lookup; CPU
            of each node of an idle ring of 64 processes (full mode, --idle-nodes)
  sizes     lookup latency against N (full mode: rings of 4 to 32 processes, in process up to 1024)
  opendht   4 KiB put and get p50 of OpenDHT (Debian's dhtnode, as many local nodes, one client
            through python3-opendht) against each transport's (bench/opendht_rows.py)
  security  the same ping, lookup and put rows on a ring with a cluster key (every node-to-node
            call signed and checked) and on one with TLS (grpcs, https, amqps), as ratios of the
            open ring's rows (full mode; quick mode on one transport)

and, in the same run, the frameworks with no Chord on top (`chordnode bench-raw`: plain TCP, a
Beast HTTP echo, a gRPC unary ping and 1 MiB-chunk stream, an AMQP request/reply through the same
broker), so that the ping, lookup and value rows show chordnode / raw framework.

Results go to a folder (JSON and CSV, with the machine, library versions and date, goals.md: each
performance goal as the ratio this run measured (bench/goals.py), and the plots
of bench/plot.py when gnuplot is installed, with the latency CDFs from every ping and lookup); the
table is printed as rows complete. --quick is the CI mode (seconds per transport).

  bench/bench.py [--quick [--security]] [--nodes 8] [--transports inproc,grpc,rest,amqp] [--out bench/results]

AMQP needs a broker on 127.0.0.1 (scripts/rabbitmq.sh start).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
from certs import broker_ca, make_ca, make_cert, tls_env  # noqa: E402
from ringlib import Ring  # noqa: E402
sys.path.insert(0, HERE)
import gnuplot  # noqa: E402
import goals  # noqa: E402
from goals import FRAMEWORK  # noqa: E402
import opendht_rows  # noqa: E402
from procstat import cpu_seconds, memory  # noqa: E402

MEMORY = {"rss": "RSS", "pss": "PSS", "private": "private memory"}
FULL = {"raw_stream": "256MiB", "ping": 2000, "lookup": 2000, "throughput": 2000, "concurrency": [1, 4, 16],
        "values": [("4KiB", 4096, 500), ("1MiB", 1 << 20, 50), ("64MiB", 64 << 20, 3)],
        "cli_route_values": [("64MiB", 64 << 20, 3)],
        "sizes": [4, 8, 16, 32], "inproc_sizes": [4, 8, 16, 32, 64, 128, 256, 512, 1024], "size_lookups": 1000}
QUICK = {"raw_stream": "16MiB", "ping": 200, "lookup": 200, "throughput": 200, "concurrency": [1, 4],
         "values": [("4KiB", 4096, 20), ("1MiB", 1 << 20, 4)], "cli_route_values": [("8MiB", 8 << 20, 2)],
         "sizes": [], "inproc_sizes": [4, 16, 64], "size_lookups": 200}


def machine():
    def pkg(name):
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
        return r.stdout.strip() or None
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(), "kernel": platform.release(), "cpu": cpu, "cores": os.cpu_count(),
            "libraries": {p: pkg(p) for p in ["libgrpc++-dev", "libboost1.81-dev", "librabbitmq-dev",
                                                "rabbitmq-server", "libprotobuf-dev"]}}


class Bench:
    def __init__(self, binary, rows):
        self.binary = binary
        self.rows = rows
        self.raw = {}  # framework -> {"ping": ms p50, "stream": MB/s}
        self.samples = {}  # transport -> op -> latencies in ms (the CDF plot)

    def baselines(self, frameworks, plan):
        for fw in frameworks:
            cmd = [self.binary, "bench-raw", "--framework", fw]
            ping = json.loads(subprocess.run(cmd + ["--op", "ping", "--count", str(plan["ping"])], capture_output=True,
                                             text=True, timeout=600, check=True).stdout)
            stream = json.loads(subprocess.run(cmd + ["--op", "stream", "--bytes", plan["raw_stream"]], capture_output=True,
                                               text=True, timeout=600, check=True).stdout)
            self.raw[fw] = {"ping": ping["p50_ms"], "stream": stream["mb_per_s"]}
            self.row("raw " + fw, "ping p50", ping["p50_ms"], "ms")
            self.row("raw " + fw, "ping p99", ping["p99_ms"], "ms")
            self.row("raw " + fw, "stream of 1 MiB pieces", stream["mb_per_s"], "MB/s")

    def ratio(self, transport, kind, value):
        """chordnode / the raw framework it runs on, for the row's kind of measurement."""
        raw = self.raw.get(FRAMEWORK.get(transport, ""), {}).get(kind)
        return round(value / raw, 2) if raw else None

    def client(self, via, op, count, concurrency=1, size=None, prefix="bench", samples=False, to_owner=False,
               cli_route=False):
        """Runs bench-client against via (a URI, or an int: an in-process ring of that many nodes);
        op may list several operations (put,get): then a list of results comes back. to_owner:
        each put and get goes to its key's owner, from a walk of the ring before the clock;
        cli_route: each goes as `chordnode put` and `get` send it (big values to their holder)."""
        target = ["--inproc", str(via)] if isinstance(via, int) else ["--via", via]
        cmd = [self.binary, "bench-client"] + target + ["--op", op, "--count", str(count),
                                                       "--concurrency", str(concurrency), "--prefix", prefix]
        if size:
            cmd += ["--size", size]
        if samples:
            cmd += ["--samples"]
        if to_owner:
            cmd += ["--to-owner"]
        if cli_route:
            cmd += ["--cli-route"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(cmd[1:]), r.stderr.strip() or r.stdout.strip()))
        out = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        for o in out:
            if "samples_ms" in o:
                name = {"http": "rest"}.get(o["transport"], o["transport"])
                self.samples.setdefault(name, {})[o["op"]] = o.pop("samples_ms")
        return out if "," in op else out[0]

    def row(self, transport, metric, value, unit, ratio=None, quiet=False, **extra):
        row = {"transport": transport, "metric": metric, "value": value, "unit": unit, "ratio": ratio, **extra}
        self.rows.append(row)
        if not quiet:
            print("  %-9s %-30s %12s %-5s %s" % (transport, metric, value, unit, "" if ratio is None else "x%.2f of %s" %
                                               (ratio, extra.get("ratio_of", "raw"))), flush=True)

    def transport(self, transport, nodes, plan):
        if transport == "inproc":
            self.measure(transport, nodes, [nodes] * 6, plan, cpu=None)
            return
        ring = Ring(self.binary, transport, stabilize_ms=500)
        try:
            uris = self.start(ring, nodes)
            pids = [p.pid for p in ring.nodes.values()]
            stats = [memory(pid) for pid in pids]
            for kind in ("rss", "pss", "private"):
                self.row(transport, "idle %s per node (max)" % MEMORY[kind], round(max(s[kind] for s in stats) / 1024, 1),
                         "MiB")
            self.row(transport, "threads per node (max)", max(s["threads"] for s in stats), "")
            self.measure(transport, nodes, uris, plan, cpu=lambda: cpu_seconds(pids))
        finally:
            ring.stop()

    @staticmethod
    def start(ring, nodes):
        uris = ring.start(nodes)
        if not ring.wait_converged(timeout=180):
            raise RuntimeError("%s ring of %d did not converge (logs in %s)" % (ring.transport, nodes, ring.workdir))
        time.sleep(2)
        return uris

    def measure(self, transport, nodes, uris, plan, cpu):
        """The rows of one ring; uris are access nodes (ints: in-process rings); cpu() is the CPU
        time of the ring's processes, None when the ring runs inside the client."""
        ping = self.client(uris[1], "ping", plan["ping"], samples=True)
        for p in ("p50", "p90", "p99"):
            self.row(transport, "ping %s" % p, ping[p + "_ms"], "ms",
                     ratio=self.ratio(transport, "ping", ping[p + "_ms"]) if p == "p50" else None)

        cpu0 = cpu() if cpu else 0
        look = self.client(uris[2], "lookup", plan["lookup"], samples=True)
        cpu1 = cpu() if cpu else 0
        self.row(transport, "lookup p50", look["p50_ms"], "ms", ratio=self.ratio(transport, "ping", look["p50_ms"]))
        self.row(transport, "lookup p99", look["p99_ms"], "ms")
        self.row(transport, "lookup hops (mean)", look["hops_mean"], "")
        per_lookup = (cpu1 - cpu0) / look["ok"] * 1e3 if cpu else look["client_cpu_ms_per_op"]
        self.row(transport, "ring CPU per lookup", round(per_lookup, 4), "ms")
        self.row(transport, "lookup p50, %d nodes" % nodes, look["p50_ms"], "ms", nodes=nodes, p99=look["p99_ms"],
                 hops=look["hops_mean"], quiet=True)
        for c in plan["concurrency"]:
            t = self.client(uris[3], "lookup", plan["throughput"], concurrency=c, prefix="tput%d" % c)
            self.row(transport, "lookups/s, %d callers" % c, round(t["per_second"]), "1/s", concurrency=c)

        for label, size, count in plan["values"]:
            if isinstance(uris[4], int):  # one process: the values must be read where they were written
                put, get = self.client(uris[4], "put,get", count, size=label, prefix="v" + label)
                put_cpu, get_cpu = put["client_cpu_ms_per_op"], get["client_cpu_ms_per_op"]
            else:  # a ring of processes: cpu() reads theirs
                cpu0 = cpu()
                put = self.client(uris[4], "put", count, size=label, prefix="v" + label)
                cpu1 = cpu()
                get = self.client(uris[5 % nodes], "get", count, size=label, prefix="v" + label)
                put_cpu, get_cpu = (cpu1 - cpu0) / put["ok"] * 1e3, (cpu() - cpu1) / get["ok"] * 1e3
            # Against the raw 1 MiB stream only where a value is made of such pieces; a 4 KiB
            # value costs calls, not bandwidth.
            big = size >= (1 << 20)
            self.row(transport, "put %s" % label, put["mb_per_s"], "MB/s", size=size,
                     ratio=self.ratio(transport, "stream", put["mb_per_s"]) if big else None)
            self.row(transport, "get %s" % label, get["mb_per_s"], "MB/s", size=size,
                     ratio=self.ratio(transport, "stream", get["mb_per_s"]) if big else None)
            # The ring's CPU per value: latency moves with the machine's minute (and, for big
            # puts, with how much memory it already holds); the work done moves less.
            self.row(transport, "ring CPU per put %s" % label, round(put_cpu, 3), "ms")
            self.row(transport, "ring CPU per get %s" % label, round(get_cpu, 3), "ms")
            if size == 4096:
                self.row(transport, "put 4KiB p50, W=R=2 of 3", put["p50_ms"], "ms")
                self.row(transport, "get 4KiB p50, W=R=2 of 3", get["p50_ms"], "ms")
            if size == 4096 and not isinstance(uris[4], int):
                # A client that keeps the ring's picture, as OpenDHT's does: no access node, no lookup.
                put = self.client(uris[4], "put", count, size=label, prefix="o" + label, to_owner=True)
                get = self.client(uris[5 % nodes], "get", count, size=label, prefix="o" + label, to_owner=True)
                self.row(transport, "put 4KiB p50 to the owner, W=R=2 of 3", put["p50_ms"], "ms")
                self.row(transport, "get 4KiB p50 to the owner, W=R=2 of 3", get["p50_ms"], "ms")

        # Big values as the CLI sends them (src/cli/value_route.cpp): between the client and the
        # key's holder, not through the access node (a get's first 4 MiB excepted).
        if not isinstance(uris[4], int):
            for label, size, count in plan["cli_route_values"]:
                put = self.client(uris[4], "put", count, size=label, prefix="c" + label, cli_route=True)
                get = self.client(uris[5 % nodes], "get", count, size=label, prefix="c" + label, cli_route=True)
                for op, r in (("put", put), ("get", get)):
                    self.row(transport, "%s %s, the CLI's route" % (op, label), r["mb_per_s"], "MB/s", size=size,
                             ratio=self.ratio(transport, "stream", r["mb_per_s"]))

    def security(self, transport, nodes, plan):
        """Ping, lookup and 4 KiB / 1 MiB put on a ring with a cluster key and on one with TLS, each
        against the open ring's row of this run (ratio: secured / open)."""
        open_rows = {r["metric"]: r["value"] for r in self.rows if r["transport"] == transport}
        d = tempfile.mkdtemp(prefix="chord-bench-sec-")
        key = os.path.join(d, "cluster.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(os.urandom(32).hex())
        ca = broker_ca() if transport == "amqp" else make_ca(d, "bench-ca")
        # The bench client proves no key: without --peer-rate 0 it would be held to the default rate.
        variants = [("cluster key", {}, ["--cluster-key", key, "--peer-rate", "0"], False)]
        if ca:
            cert, cert_key = make_cert(d, "node", ca)
            env = tls_env(cert, cert_key, ca[0], base={})
            if transport == "amqp":
                env.update(CHORD_AMQP_URL="amqps://guest:guest@127.0.0.1:5671/", CHORD_AMQP_BROKER="127.0.0.1:5671")
            variants.append(("TLS", env, [], True))
        else:
            print("  %s: no TLS rows: the broker has no TLS listener (scripts/rabbitmq.sh start)" % transport)
        label, size, count = plan["values"][0]
        big_label, big_size, big_count = plan["values"][1]
        for name, env, extra, tls in variants:
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)  # the ring's processes and bench-client read them
            ring = Ring(self.binary, transport, stabilize_ms=500, extra=extra, tls=tls)
            try:
                uris = self.start(ring, nodes)
                rows = [("ping p50", self.client(uris[1], "ping", plan["ping"])["p50_ms"], "ms"),
                        ("lookup p50", self.client(uris[2], "lookup", plan["lookup"])["p50_ms"], "ms"),
                        ("put 4KiB p50, W=R=2 of 3",
                         self.client(uris[4], "put", count, size=label, prefix="s" + label)["p50_ms"], "ms"),
                        ("put %s" % big_label,
                         self.client(uris[4], "put", big_count, size=big_label, prefix="s" + big_label)["mb_per_s"],
                         "MB/s")]
                for metric, value, unit in rows:
                    base = open_rows.get(metric)
                    self.row(transport, "%s, %s" % (metric, name), value, unit, security=name,
                             ratio=round(value / base, 2) if base else None, ratio_of="open ring")
            finally:
                ring.stop()
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

    def weak_quorums(self, transport, nodes, plan):
        """4 KiB put and get latency on a ring of the same size with W = R = 1 of 3, for the cost of
        the default majority quorums (the rows above)."""
        label, size, count = plan["values"][0]
        ring = Ring(self.binary, transport, stabilize_ms=500, extra=["--write-quorum", "1", "--read-quorum", "1"])
        try:
            uris = self.start(ring, nodes)
            put = self.client(uris[4], "put", count, size=label, prefix="w1" + label)
            get = self.client(uris[5 % nodes], "get", count, size=label, prefix="w1" + label)
            self.row(transport, "put 4KiB p50, W=R=1 of 3", put["p50_ms"], "ms")
            self.row(transport, "get 4KiB p50, W=R=1 of 3", get["p50_ms"], "ms")
        finally:
            ring.stop()

    def opendht(self, nodes, plan):
        """OpenDHT's 4 KiB put and get p50 on as many local nodes, and each transport's rows of this
        run against them (ratio: chordnode / OpenDHT, below 1 is ahead)."""
        why_not = opendht_rows.missing()
        if why_not:
            print("  no OpenDHT rows: %s to measure it side by side" % why_not, flush=True)
            return
        label, size, count = plan["values"][0]
        r = opendht_rows.measure(nodes, count, size)
        if r["put_ok"] < count or r["get_ok"] < count:
            print("  OpenDHT: %d of %d puts and %d gets found their value" % (r["put_ok"], count, r["get_ok"]))
        self.row("opendht", "put 4KiB p50", r["put_p50_ms"], "ms", p99=r["put_p99_ms"])
        self.row("opendht", "get 4KiB p50", r["get_p50_ms"], "ms", p99=r["get_p99_ms"])
        for kind in ("rss", "pss", "private"):
            self.row("opendht", "idle %s per node (max)" % MEMORY[kind], r["idle_%s_mib" % kind], "MiB")
        mine = {(row["transport"], row["metric"]): row["value"] for row in self.rows}
        for t in sorted({row["transport"] for row in self.rows} - {"opendht"}):
            for op in ("put", "get"):
                for how in ("", " to the owner"):
                    value = mine.get((t, "%s 4KiB p50%s, W=R=2 of 3" % (op, how)))
                    if value is not None:
                        self.row(t, "%s 4KiB p50%s against OpenDHT" % (op, how), value, "ms", ratio_of="OpenDHT",
                                 ratio=round(value / r["%s_p50_ms" % op], 2))

    def idle(self, transport, nodes, seconds=30):
        """CPU of each node of a settled ring of `nodes` processes at the default periods, over
        `seconds` with no client: what maintenance alone costs (issue: < 1 % each at 64)."""
        ring = Ring(self.binary, transport, stabilize_ms=500)
        try:
            self.start(ring, nodes)
            time.sleep(5)  # past the first sweeps at full pace
            pids = [p.pid for p in ring.nodes.values()]
            before = {pid: cpu_seconds([pid]) for pid in pids}
            t0 = time.time()
            time.sleep(seconds)
            wall = time.time() - t0
            share = sorted(100 * (cpu_seconds([pid]) - before[pid]) / wall for pid in pids)
        finally:
            ring.stop()
        self.row(transport, "idle CPU per node, %d nodes (mean)" % nodes, round(sum(share) / len(share), 3), "%",
                 nodes=nodes)
        self.row(transport, "idle CPU per node, %d nodes (max)" % nodes, round(share[-1], 3), "%", nodes=nodes)

    def sizes(self, transport, plan, done):
        """Lookup latency against the ring's size N (sizes already measured are in done)."""
        sizes = plan["inproc_sizes"] if transport == "inproc" else plan["sizes"]
        for n in sizes:
            if n in done:
                continue
            if transport == "inproc":
                look = self.client(n, "lookup", plan["size_lookups"])
            else:
                ring = Ring(self.binary, transport, stabilize_ms=500)
                try:
                    uris = self.start(ring, n)
                    look = self.client(uris[n // 2], "lookup", plan["size_lookups"])
                finally:
                    ring.stop()
            self.row(transport, "lookup p50, %d nodes" % n, look["p50_ms"], "ms", nodes=n, p99=look["p99_ms"],
                     hops=look["hops_mean"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(HERE, "..", "build", "chordnode"))
    ap.add_argument("--nodes", type=int, default=8)
    ap.add_argument("--transports", default="inproc,grpc,rest,amqp",
                    help="inproc: the floor, the same engine in one process with no transport")
    ap.add_argument("--quick", action="store_true", help="small counts, small values: the CI mode")
    ap.add_argument("--security", action="store_true",
                    help="the security rows on every transport in quick mode too (full mode has them)")
    ap.add_argument("--no-opendht", action="store_true",
                    help="leave out the OpenDHT rows (measured when dhtnode and python3-opendht are installed)")
    ap.add_argument("--idle-nodes", type=int, default=None,
                    help="CPU of each node of an idle ring of this many processes, over 30 s (full mode: 64; 0: none)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if args.nodes < 6:
        ap.error("--nodes must be at least 6 (the measurements use different access nodes)")
    plan = QUICK if args.quick else FULL
    if args.idle_nodes is None:
        args.idle_nodes = 0 if args.quick else 64
    rows = []
    bench = Bench(os.path.abspath(args.binary), rows)
    info = machine()
    print("chordnode bench (%s): %d nodes per ring, %s" % ("quick" if args.quick else "full", args.nodes, info["cpu"]))
    transports = args.transports.split(",")
    print("raw frameworks:", flush=True)
    bench.baselines(["tcp"] + [FRAMEWORK[t] for t in transports if t in FRAMEWORK], plan)
    for t in transports:
        print("%s:" % t, flush=True)
        bench.transport(t, args.nodes, plan)
        if t in FRAMEWORK and (not args.quick or t == "grpc"):
            bench.weak_quorums(t, args.nodes, plan)
        if t in FRAMEWORK and (not args.quick or args.security or t == "rest"):
            bench.security(t, args.nodes, plan)
        bench.sizes(t, plan, done={args.nodes})
        if t in FRAMEWORK and args.idle_nodes:
            bench.idle(t, args.idle_nodes)
    if not args.no_opendht:
        print("opendht (%d dhtnode processes, one client):" % args.nodes, flush=True)
        bench.opendht(args.nodes, plan)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = os.path.join(args.out, "%s-%s" % (stamp, "quick" if args.quick else "full"))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "results.json"), "w") as f:
        json.dump({"machine": info, "nodes": args.nodes, "mode": "quick" if args.quick else "full", "rows": rows,
                   "samples": bench.samples}, f, indent=1)
    with open(os.path.join(folder, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["transport", "metric", "value", "unit", "ratio", "concurrency", "size", "nodes",
                                          "p99", "hops", "security", "ratio_of"])
        w.writeheader()
        for r in rows:
            w.writerow(r)
    print("results: %s" % folder)
    goal_table = goals.table(folder)
    with open(os.path.join(folder, "goals.md"), "w") as f:
        f.write(goal_table)
    print("goals (also in goals.md):\n" + goal_table, end="")
    if not gnuplot.available():
        print("no plots: gnuplot is not installed (apt-get install gnuplot-nox)")
        return
    plot = subprocess.run([sys.executable, os.path.join(HERE, "plot.py"), folder], capture_output=True, text=True)
    print((plot.stdout or plot.stderr).strip())
    if plot.returncode != 0:
        sys.exit("bench: the plots failed")


if __name__ == "__main__":
    main()
