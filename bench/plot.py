#!/usr/bin/env python3
"""Draws the plots of a bench/bench.py results folder with gnuplot (Debian's gnuplot-nox):

  throughput.png   put and get MB/s against value size, per transport
  latency.png      ping and lookup latency (p50, p90/p99) per transport, beside the raw framework

  bench/plot.py RESULTS_FOLDER
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

TRANSPORTS = ["grpc", "rest", "amqp"]
RAW = {"grpc": "raw grpc", "rest": "raw http", "amqp": "raw amqp"}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    if not shutil.which("gnuplot"):
        sys.exit("plot: gnuplot is not installed (apt-get install gnuplot-nox)")
    data = json.load(open(os.path.join(folder, "results.json")))
    rows = {(r["transport"], r["metric"]): r for r in data["rows"]}
    work = tempfile.mkdtemp(prefix="chord-plot-")

    # Throughput against size: one data file per transport and direction.
    sizes = sorted({r["size"] for r in data["rows"] if r.get("size")})
    series = []
    for t in TRANSPORTS:
        for op in ("put", "get"):
            pts = [(r["size"], r["value"]) for r in data["rows"]
                   if r["transport"] == t and r["metric"].startswith(op + " ") and r.get("size")]
            if not pts:
                continue
            path = os.path.join(work, "%s-%s.dat" % (t, op))
            with open(path, "w") as f:
                for size, mbs in sorted(pts):
                    f.write("%d %s\n" % (size, mbs))
            series.append("'%s' using 1:2 with linespoints title '%s %s'" % (path, t, op))
    if series:
        script = """
set terminal pngcairo size 900,560
set output '%s'
set title 'chordnode: put and get throughput (%d-node ring, %s)'
set logscale x 2
set xtics ("4 KiB" 4096, "64 KiB" 65536, "1 MiB" 1048576, "16 MiB" 16777216, "64 MiB" 67108864)
set xlabel 'value size'
set ylabel 'MB/s'
set key left top
set grid
plot %s
""" % (os.path.join(folder, "throughput.png"), data["nodes"], data["machine"]["date"][:10], ", \\\n     ".join(series))
        subprocess.run(["gnuplot"], input=script, text=True, check=True)

    # Latency: p50 bars with p90/p99 whiskers, chordnode beside its raw framework.
    path = os.path.join(work, "latency.dat")
    with open(path, "w") as f:
        i = 0
        for t in TRANSPORTS:
            for label, key, p90, p99 in (("%s raw ping" % t, (RAW[t], "ping p50"), None, (RAW[t], "ping p99")),
                                          ("%s ping" % t, (t, "ping p50"), (t, "ping p90"), (t, "ping p99")),
                                          ("%s lookup" % t, (t, "lookup p50"), None, (t, "lookup p99"))):
                if key not in rows:
                    continue
                hi = rows[p99]["value"] if p99 in rows else rows[key]["value"]
                f.write('%d "%s" %s %s\n' % (i, label, rows[key]["value"], hi))
                i += 1
    script = """
set terminal pngcairo size 900,560
set output '%s'
set title 'chordnode: latency p50 (bar) and p99 (whisker), %d-node ring'
set style fill solid 0.6
set boxwidth 0.6
set ylabel 'ms'
set xtics rotate by -35
set grid y
set yrange [0:*]
plot '%s' using 1:3:xtic(2) with boxes notitle, '' using 1:3:3:4 with yerrorbars notitle
""" % (os.path.join(folder, "latency.png"), data["nodes"], path)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print("plots: %s" % ", ".join(os.path.join(folder, p) for p in ("throughput.png", "latency.png")))


if __name__ == "__main__":
    main()
