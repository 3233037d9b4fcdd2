#!/usr/bin/env python3
"""Draws the plots of a bench/bench.py results folder with gnuplot (Debian's gnuplot-nox):

  throughput.png   put and get MB/s against value size, per transport
  latency.png      ping and lookup latency (p50 bar, p99 whisker) per transport, beside the raw framework
  cdf.png          the distribution (CDF) of every lookup's and ping's latency, per transport
  scaling.png      lookup latency (p50, p99) against the number of nodes N, per transport

  bench/plot.py RESULTS_FOLDER
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gnuplot  # noqa: E402

TRANSPORTS = ["inproc", "grpc", "rest", "amqp"]
RAW = {"grpc": "raw grpc", "rest": "raw http", "amqp": "raw amqp"}
COLOR = {"inproc": "#7b3294", "grpc": "#2166ac", "rest": "#1a9850", "amqp": "#d73027"}


def throughput(folder, data):
    series = []
    for t in TRANSPORTS:
        for op in ("put", "get"):
            pts = sorted((r["size"], r["value"]) for r in data["rows"]
                         if r["transport"] == t and r["metric"].startswith(op + " ") and r.get("size"))
            if pts:
                path = gnuplot.data_file(pts, "%s-%s.dat" % (t, op))
                series.append("'%s' using 1:2 with linespoints %s lc rgb '%s' title '%s %s'"
                              % (path, "lw 2" if op == "get" else "dashtype 2", COLOR[t], t, op))
    if not series:
        return None
    png = os.path.join(folder, "throughput.png")
    gnuplot.draw(png, "put and get throughput (%d-node ring, %s)" % (data["nodes"], data["machine"]["date"][:10]), """
set logscale x 2
set logscale y 10
set xtics ("4 KiB" 4096, "64 KiB" 65536, "1 MiB" 1048576, "16 MiB" 16777216, "64 MiB" 67108864)
set xlabel 'value size'
set ylabel 'MB/s (log scale)'
set key left top
plot %s""" % ", \\\n     ".join(series))
    return png


def latency(folder, data):
    rows = {(r["transport"], r["metric"]): r for r in data["rows"]}
    bars = []
    for t in TRANSPORTS:
        for label, key, p99 in (("%s raw ping" % t, (RAW.get(t), "ping p50"), (RAW.get(t), "ping p99")),
                                ("%s ping" % t, (t, "ping p50"), (t, "ping p99")),
                                ("%s lookup" % t, (t, "lookup p50"), (t, "lookup p99"))):
            if key in rows:
                hi = rows[p99]["value"] if p99 in rows else rows[key]["value"]
                bars.append((len(bars), '"%s"' % label, rows[key]["value"], hi))
    png = os.path.join(folder, "latency.png")
    gnuplot.draw(png, "latency p50 (bar) and p99 (whisker), %d-node ring" % data["nodes"], """
set style fill solid 0.6
set boxwidth 0.6
set ylabel 'ms'
set xtics rotate by -35
set yrange [0:*]
plot '%s' using 1:3:xtic(2) with boxes notitle, '' using 1:3:3:4 with yerrorbars notitle""" % gnuplot.data_file(bars, "latency.dat"))
    return png


def cdf(folder, data):
    series = []
    for t in TRANSPORTS:
        for op, style in (("lookup", "lines lw 2 lc rgb '%s'" % COLOR[t]), ("ping", "lines dashtype 2 lc rgb '%s'" % COLOR[t])):
            ms = sorted(data.get("samples", {}).get(t, {}).get(op, []))
            if not ms:
                continue
            pts = [(max(v, 1e-4), (i + 1) / len(ms)) for i, v in enumerate(ms)]
            path = gnuplot.data_file(pts, "cdf-%s-%s.dat" % (t, op))
            series.append("'%s' using 1:2 with %s title '%s %s'" % (path, style, t, op))
    if not series:
        return None
    png = os.path.join(folder, "cdf.png")
    gnuplot.draw(png, "latency CDF, every ping and lookup, %d-node ring" % data["nodes"], """
set logscale x 10
set xlabel 'latency (ms, log scale)'
set ylabel 'fraction of calls at most this slow'
set yrange [0:1]
set key left top
plot %s""" % ", \\\n     ".join(series))
    return png


def scaling(folder, data):
    series = []
    for t in TRANSPORTS:
        pts = sorted((r["nodes"], r["value"], r["p99"]) for r in data["rows"]
                     if r["transport"] == t and r.get("nodes") and r["metric"].startswith("lookup p50, "))
        if len(pts) < 2:
            continue
        path = gnuplot.data_file(pts, "scaling-%s.dat" % t)
        series.append("'%s' using 1:2 with linespoints lw 2 lc rgb '%s' title '%s p50'" % (path, COLOR[t], t))
        series.append("'%s' using 1:3 with linespoints dashtype 2 lc rgb '%s' title '%s p99'" % (path, COLOR[t], t))
    if not series:
        return None
    png = os.path.join(folder, "scaling.png")
    gnuplot.draw(png, "lookup latency against the number of nodes", """
set logscale x 2
set logscale y 10
set xlabel 'nodes in the ring N'
set ylabel 'lookup latency (ms, log scale)'
set key outside right top
plot %s""" % ", \\\n     ".join(series))
    return png


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    if not gnuplot.available():
        sys.exit("plot: gnuplot is not installed (apt-get install gnuplot-nox)")
    data = json.load(open(os.path.join(folder, "results.json")))
    drawn = [p for p in (throughput(folder, data), latency(folder, data), cdf(folder, data), scaling(folder, data)) if p]
    print("plots: %s" % ", ".join(drawn))


if __name__ == "__main__":
    main()
