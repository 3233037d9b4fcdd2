#!/usr/bin/env python3
"""bench/ab.py as its users run it: two binaries (here the same one twice) on a small REST ring,
one round, small counts; every ring gives one JSON line with every figure measured."""
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
    usage = subprocess.run([sys.executable, SCRIPT, "--nodes", "1", binary], capture_output=True, text=True)
    check(usage.returncode != 0 and "--nodes" in usage.stderr, "a ring of one is refused: %r" % usage.stderr)
    check.finish("ab.py")


if __name__ == "__main__":
    main()
