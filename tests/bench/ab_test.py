#!/usr/bin/env python3
"""bench/ab.py as its users run it: two binaries (here the same one twice) on a small REST ring,
one round, small counts; every ring gives one JSON line with every figure measured. Then with
--together (the rings up at once): a line per ring and operation, with the ring's CPU."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "ab.py")
FIGURES = ["ping_p50_ms", "lookup_p50_ms", "put_4k_p50_ms", "get_4k_p50_ms", "put_1m_mb_per_s"]


def main():
    binary = sys.argv[1]
    check = Checks()
    r = subprocess.run([sys.executable, SCRIPT, "--transport", "rest", "--nodes", "3", "--rounds", "1",
                        "--count", "70", "--json", binary, binary], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, "ab.py exits 0: %s" % r.stderr.strip()[-2000:])
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    check(len(rows) == 2, "one line per binary and round: %r" % r.stdout)
    for row in rows:
        check(row.get("binary") == binary and row.get("nodes") == 3, "the line names its ring: %r" % row)
        for f in FIGURES:
            check(isinstance(row.get(f), (int, float)) and row[f] > 0, "%s measured: %r" % (f, row.get(f)))
        check(0 <= row.get("hops_mean", -1) <= 2, "hops in a ring of 3: %r" % row.get("hops_mean"))
    # --together: both rings up at once, one line per ring, round and operation, with the ring's CPU.
    r = subprocess.run([sys.executable, SCRIPT, "--together", "--transport", "rest", "--nodes", "3", "--rounds", "1",
                        "--count", "40", "--ops", "lookup,put", "--size", "8KiB", "--replicas", "2", "--json",
                        binary, binary], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, "ab.py --together exits 0: %s" % r.stderr.strip()[-2000:])
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    check([row.get("op") for row in rows] == ["lookup", "put", "lookup", "put"],
          "one line per ring and operation, the rings in turn: %r" % r.stdout)
    for row in rows:
        check(isinstance(row.get("p50_ms"), (int, float)) and row["p50_ms"] > 0, "p50 measured: %r" % row)
        check(isinstance(row.get("ring_cpu_ms_per_op"), (int, float)) and row["ring_cpu_ms_per_op"] >= 0,
              "the ring's CPU per operation: %r" % row)
        check(row.get("nodes") == 3 and row.get("round") == 0, "the line names its ring and round: %r" % row)
    puts = [row for row in rows if row.get("op") == "put"]
    check(all(row.get("size") == "8KiB" and row.get("mb_per_s", 0) > 0 for row in puts), "puts of --size: %r" % puts)
    check(all(row.get("hops_mean") is not None for row in rows if row.get("op") == "lookup"), "lookups give hops")
    bad = subprocess.run([sys.executable, SCRIPT, "--together", "--ops", "ping,scan", binary, binary],
                         capture_output=True, text=True)
    check(bad.returncode != 0 and "scan" in bad.stderr, "an unknown --ops is refused: %r" % bad.stderr)
    usage = subprocess.run([sys.executable, SCRIPT, "--nodes", "1", binary], capture_output=True, text=True)
    check(usage.returncode != 0 and "--nodes" in usage.stderr, "a ring of one is refused: %r" % usage.stderr)
    check.finish("ab.py")


if __name__ == "__main__":
    main()
