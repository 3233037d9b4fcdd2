#!/usr/bin/env python3
"""The simulation figures of the Chord paper (Stoica et al., SIGCOMM 2001) from `chordnode simulate`:

  path     mean, 1st and 99th percentile path length for N = 2^3 .. 2^14 hosts, every ring built
           by joins through the protocol (Fig. 10: the mean is about 1/2 log2 N)
  load     keys per host with 10^4 hosts and 5x10^5 keys put through the protocol, with 1, 2, 5, 10
           and 20 virtual nodes per host (Fig. 8 and 9)
  failure  keys lost when a fraction p = 0.1 .. 0.5 of 10^4 hosts fail at once, right after the
           failure and after the ring re-stabilized, with one copy of each key (Fig. 11: about p)
           and with three (k = 3)

Every run is seeded (--seed), so a figure is the same on every machine. Results go to a new folder:
results.json and results.csv, and PNG plots drawn with gnuplot (Debian's gnuplot-nox).

  bench/paper.py [--quick] [--only path,load,failure] [--out bench/results]
  bench/paper.py --plot FOLDER      (redraw an earlier run's plots)
"""
import argparse
import csv
import datetime
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gnuplot  # noqa: E402

FULL = {"path": [2 ** k for k in range(3, 15)], "path_lookups": 10000,
        "hosts": 10000, "keys": 500000, "vnodes": [1, 2, 5, 10, 20],
        "fail": [0.1, 0.2, 0.3, 0.4, 0.5], "fail_keys": 100000, "fail_lookups": 10000}
QUICK = {"path": [2 ** k for k in range(3, 10)], "path_lookups": 2000,
         "hosts": 1000, "keys": 50000, "vnodes": [1, 4],
         "fail": [0.1, 0.3, 0.5], "fail_keys": 10000, "fail_lookups": 2000}


class Sweep:
    def __init__(self, binary, seed):
        self.binary = binary
        self.seed = seed
        self.rows = []

    def simulate(self, *args):
        cmd = [self.binary, "simulate", "--json", "--seed", str(self.seed)] + [str(a) for a in args]
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
        # simulate exits 1 when a lookup was wrong after repair: that is a result, not a crash.
        if r.returncode not in (0, 1) or not r.stdout.strip():
            raise RuntimeError("%s: %s" % (" ".join(cmd[1:]), r.stderr.strip()))
        out = json.loads(r.stdout)
        out["wall_s"] = round(time.time() - t0, 1)
        return out

    def row(self, figure, **fields):
        self.rows.append({"figure": figure, **fields})
        print("  %-8s %s" % (figure, "  ".join("%s=%s" % kv for kv in fields.items())), flush=True)

    def path(self, plan):
        for n in plan["path"]:
            r = self.simulate("--nodes", n, "--lookups", plan["path_lookups"], "--build", "join")
            h = r["hops"]
            self.row("path", nodes=n, mean=h["mean"], p1=h["p1"], p50=h["p50"], p99=h["p99"],
                     half_log2n=round(0.5 * math.log2(n), 3), wrong=r["wrong"], failed=r["failed"],
                     build_rounds=r["build_rounds"], wall_s=r["wall_s"])

    def load(self, plan):
        for v in plan["vnodes"]:
            r = self.simulate("--nodes", plan["hosts"], "--vnodes", v, "--keys", plan["keys"], "--replicas", 1,
                              "--lookups", 0, "--build", "ideal")
            k = r["keys"]["per_host"]
            self.row("load", hosts=plan["hosts"], vnodes=v, keys=r["keys"]["stored"], refused=r["keys"]["refused"],
                     mean=k["mean"], p1=k["p1"],
                     p50=k["p50"], p99=k["p99"], max=k["max"], p99_over_mean=round(k["p99"] / k["mean"], 2),
                     max_over_mean=round(k["max"] / k["mean"], 2), wall_s=r["wall_s"])

    def failure(self, plan):
        for replicas in (1, 3):
            for p in plan["fail"]:
                # --read-quorum 1: Fig. 11 counts the keys no live node holds, not what a
                # majority read can reach while the ring is still broken.
                r = self.simulate("--nodes", plan["hosts"], "--keys", plan["fail_keys"], "--replicas", replicas,
                                  "--read-quorum", 1, "--fail", p, "--lookups", plan["fail_lookups"],
                                  "--build", "ideal")
                f = r["failure"]
                before, after = f["before_repair"], f["after_repair"]
                self.row("failure", hosts=plan["hosts"], replicas=replicas, fraction=p, killed=f["killed_hosts"],
                         keys=before["keys"]["fetched"],
                         lost_before=round(before["keys"]["lost"] / before["keys"]["fetched"], 4),
                         lost_after=round(after["keys"]["lost"] / after["keys"]["fetched"], 4),
                         wrong_owner_before=round(before["wrong"] / before["lookups"], 4),
                         lookups_failed_before=before["failed"], wrong_after=after["wrong"],
                         repair_rounds=f["repair_rounds"], wall_s=r["wall_s"])


def plot(folder, rows):
    by = lambda fig: [r for r in rows if r["figure"] == fig]  # noqa: E731
    drawn = []
    if by("path"):
        data = gnuplot.data_file([(r["nodes"], r["mean"], r["p1"], r["p99"]) for r in by("path")], "path.dat")
        png = os.path.join(folder, "path-length.png")
        gnuplot.draw(png, "Path length against the number of nodes (Chord Fig. 10)", """
set logscale x 2
set format x '2^{%%L}'
set xlabel 'number of nodes N'
set ylabel 'path length (hops)'
set key left top
set yrange [0:*]
plot '%s' using 1:2:3:4 with yerrorbars title 'chordnode: mean, 1st and 99th percentile', \\
     '' using 1:2 with lines notitle, \\
     0.5*log(x)/log(2) with lines dashtype 2 title '1/2 log2 N'""" % data)
        drawn.append(png)
    if by("load"):
        data = gnuplot.data_file([(r["vnodes"], r["mean"], r["p1"], r["p99"], r["max"]) for r in by("load")], "load.dat")
        png = os.path.join(folder, "keys-per-node.png")
        hosts, keys = by("load")[0]["hosts"], by("load")[0]["keys"]
        gnuplot.draw(png, "Keys per host, %d hosts, %d keys (Chord Fig. 8, 9)" % (hosts, keys), """
set logscale x
set xrange [0.8:25]
set xtics (1, 2, 5, 10, 20)
set xlabel 'virtual nodes per host'
set ylabel 'keys per host'
set key right top
set yrange [0:*]
plot '%s' using 1:2:3:4 with yerrorbars lc rgb '#2166ac' title '1st and 99th percentile, mean', \\
     '' using 1:2 with lines lc rgb '#2166ac' notitle, \\
     '' using 1:5 with linespoints lc rgb '#d73027' title 'max'""" % data)
        drawn.append(png)
    if by("failure"):
        series = []
        for k in (1, 3):
            pts = [(r["fraction"], r["lost_before"], r["lost_after"]) for r in by("failure") if r["replicas"] == k]
            if pts:
                path = gnuplot.data_file(pts, "fail-%d.dat" % k)
                series.append("'%s' using 1:3 with linespoints title 'k = %d, after re-stabilizing'" % (path, k))
                series.append("'%s' using 1:2 with points title 'k = %d, right after the failure'" % (path, k))
        png = os.path.join(folder, "failed-lookups.png")
        gnuplot.draw(png, "Keys lost after a fraction p of the hosts fail at once (Chord Fig. 11)", """
set xlabel 'fraction of failed hosts p'
set ylabel 'fraction of keys not found'
set key left top
set xrange [0:0.55]
set yrange [0:*]
plot %s, \\
     x with lines dashtype 2 title 'p', x**3 with lines dashtype 3 title 'p^3'""" % ", \\\n     ".join(series))
        drawn.append(png)
    return drawn


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(HERE, "..", "build", "chordnode"))
    ap.add_argument("--quick", action="store_true", help="smaller rings and fewer keys")
    ap.add_argument("--only", default="path,load,failure")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--plot", metavar="FOLDER", help="only redraw the plots of an earlier run's folder")
    args = ap.parse_args()
    if args.plot:
        print("plots: %s" % ", ".join(plot(args.plot, json.load(open(os.path.join(args.plot, "results.json")))["rows"])))
        return
    plan = QUICK if args.quick else FULL
    sweep = Sweep(os.path.abspath(args.binary), args.seed)
    mode = "quick" if args.quick else "full"
    print("chordnode simulate sweeps (%s), seed %d" % (mode, args.seed), flush=True)
    for part in args.only.split(","):
        getattr(sweep, part)(plan)

    folder = os.path.join(args.out, "%s-paper-%s" % (datetime.datetime.now().strftime("%Y%m%d-%H%M%S"), mode))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "results.json"), "w") as f:
        json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   "mode": mode, "seed": args.seed, "plan": plan, "rows": sweep.rows}, f, indent=1)
    with open(os.path.join(folder, "results.csv"), "w", newline="") as f:
        fields = []
        for r in sweep.rows:
            fields += [k for k in r if k not in fields]
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(sweep.rows)
    print("results: %s" % folder)
    if gnuplot.available():
        print("plots: %s" % ", ".join(plot(folder, sweep.rows)))
    else:
        print("no plots: gnuplot is not installed (apt-get install gnuplot-nox)")


if __name__ == "__main__":
    main()
