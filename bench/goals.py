#!/usr/bin/env python3
"""The performance goals, each as the ratio one bench/bench.py run measured, with whether it is met:

  bench/goals.py FOLDER        (a results folder of bench/bench.py; prints a Markdown table)

  ping       p50 <= 1.15 x the raw framework's ping p50
  lookup     p50 <= 1.2 x (mean hops + 1) x the same transport's ping p50
  values     put and get of 64 MiB >= 0.8 x the raw 1 MiB-piece stream; put of 1 MiB >= 0.5 x
  floor      in process, put and get of 64 MiB >= 1000 MB/s
  opendht    4 KiB put and get p50 <= OpenDHT's in the same run
  callers    lookups/s grow from 1 to 4 to 16 callers
  idle       RSS <= 12 MiB on gRPC (<= 4 threads), <= 8 MiB on REST and AMQP; < 1 % CPU per node
             of an idle ring of 64 processes
"""
import json
import os
import sys

FRAMEWORK = {"grpc": "grpc", "rest": "http", "amqp": "amqp"}  # transport -> the raw framework under it
NAMES = {"grpc": "gRPC", "rest": "REST", "amqp": "AMQP", "inproc": "in process"}


def load(folder):
    with open(os.path.join(folder, "results.json")) as f:
        data = json.load(f)
    return data["rows"], data["machine"]


def goals(rows):
    """(goal, transport, measured text, met or None when not measured)"""
    v = {(r["transport"], r["metric"]): r["value"] for r in rows}
    out = []

    def get(t, metric):
        return v.get((t, metric))

    for t in ("grpc", "rest", "amqp"):
        raw_rows = "raw " + FRAMEWORK[t]
        ping, raw = get(t, "ping p50"), get(raw_rows, "ping p50")
        if ping and raw:
            out.append(("ping p50 <= 1.15 x raw", t, "%.3f / %.3f ms = x%.2f" % (ping, raw, ping / raw), ping / raw <= 1.15))
        look, hops = get(t, "lookup p50"), get(t, "lookup hops (mean)")
        if look and hops is not None and ping:
            bound = (hops + 1) * ping
            out.append(("lookup p50 <= 1.2 x (hops + 1) x ping", t, "%.3f ms / (%.2f x %.3f ms) = x%.2f" % (look, hops + 1, ping, look / bound),
                        look / bound <= 1.2))
        stream = get(raw_rows, "stream of 1 MiB pieces")
        # Through an access node, and as the CLI sends a big value (between the client and its holder).
        for op, size, floor, how in (("put", "64MiB", 0.8, ""), ("get", "64MiB", 0.8, ""), ("put", "1MiB", 0.5, ""),
                                     ("put", "64MiB", 0.8, ", the CLI's route"), ("get", "64MiB", 0.8, ", the CLI's route")):
            mb = get(t, "%s %s%s" % (op, size, how))
            if mb and stream:
                out.append(("%s %s%s >= %.1f x raw stream" % (op, size, how, floor), t,
                            "%.0f / %.0f MB/s = x%.2f" % (mb, stream, mb / stream), mb / stream >= floor))
        # Through an access node, and (as OpenDHT's client, which keeps the routing table) to the owner.
        for op, how in (("put", ""), ("get", ""), ("put", " to the owner"), ("get", " to the owner")):
            mine, theirs = get(t, "%s 4KiB p50%s, W=R=2 of 3" % (op, how)), get("opendht", "%s 4KiB p50" % op)
            goal = "%s 4 KiB p50%s <= OpenDHT" % (op, how)
            if mine and theirs:
                out.append((goal, t, "%.3f / %.3f ms = x%.2f" % (mine, theirs, mine / theirs), mine <= theirs))
            elif mine:
                out.append((goal, t, "%.3f ms; OpenDHT not measured" % mine, None))
        rates = [get(t, "lookups/s, %d callers" % c) for c in (1, 4, 16)]
        if all(rates):
            out.append(("lookups/s grow 1 -> 4 -> 16 callers", t, " -> ".join("%.0f" % r for r in rates),
                        rates[0] < rates[1] < rates[2]))
        rss, threads = get(t, "idle RSS per node (max)"), get(t, "threads per node (max)")
        if rss:
            limit = 12 if t == "grpc" else 8
            pss, private = get(t, "idle PSS per node (max)"), get(t, "idle private memory per node (max)")
            text = "%.1f MiB, %d threads" % (rss, threads)
            if pss is not None:
                text += " (PSS %.1f MiB, private %.1f MiB)" % (pss, private)
            out.append(("idle RSS <= %d MiB%s" % (limit, ", <= 4 threads" if t == "grpc" else ""), t, text,
                        rss <= limit and (t != "grpc" or threads <= 4)))
        for r in rows:
            if r["transport"] == t and r["metric"].startswith("idle CPU per node") and r["metric"].endswith("(max)"):
                mean = get(t, r["metric"].replace("(max)", "(mean)"))
                out.append(("< 1 %% CPU per idle node, %d nodes" % r["nodes"], t,
                            "mean %.2f %%, max %.2f %%" % (mean, r["value"]), r["value"] < 1.0))
    for op in ("put", "get"):
        mb = get("inproc", "%s 64MiB" % op)
        if mb:
            out.append(("in-process %s 64 MiB >= 1000 MB/s" % op, "inproc", "%.0f MB/s" % mb, mb >= 1000))
    return out


def table(folder):
    rows, machine = load(folder)
    lines = ["%s, %s, %s cores" % (machine["date"], machine["cpu"], machine["cores"]), "",
             "| goal | transport | measured | met |", "| --- | --- | --- | :---: |"]
    for goal, t, text, met in goals(rows):
        lines.append("| %s | %s | %s | %s |" % (goal, NAMES.get(t, t), text, "-" if met is None else "yes" if met else "**no**"))
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(table(sys.argv[1]), end="")


if __name__ == "__main__":
    main()
