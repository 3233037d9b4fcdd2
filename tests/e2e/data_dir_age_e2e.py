#!/usr/bin/env python3
"""A data dir left unused for longer than --tombstone-grace is refused: its node could bring back
values deleted meanwhile. `serve` exits 1 with one line naming the dir, its age and what to do;
a data dir used recently, or a new one, starts; a running node keeps its dir marked as in use."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402
from ringlib import free_ports  # noqa: E402


def serve(binary, port, data, grace):
    return subprocess.Popen([binary, "serve", "--transport", "grpc", "--listen", "127.0.0.1:%d" % port,
                             "--data-dir", data, "--tombstone-grace", str(grace)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    check = Checks()
    data = os.path.join(tempfile.mkdtemp(prefix="chordage-"), "data")
    port = free_ports(1)[0]

    p = serve(args.binary, port, data, 4)
    check(p.stdout.readline().startswith("ready"), "a new data dir starts")
    stamp = os.path.join(data, "last-up")
    check(os.path.exists(stamp), "the running node marks its data dir")
    os.utime(stamp, (time.time() - 3, time.time() - 3))
    time.sleep(1.6)  # the mark is renewed every grace/4
    check(time.time() - os.path.getmtime(stamp) < 2, "the mark is renewed while the node runs")
    p.terminate()
    p.wait(timeout=30)

    p = serve(args.binary, port, data, 4)
    check(p.stdout.readline().startswith("ready"), "a data dir used a moment ago starts")
    p.terminate()
    p.wait(timeout=30)

    os.utime(stamp, (time.time() - 3600, time.time() - 3600))
    p = serve(args.binary, port, data, 600)
    out, err = p.communicate(timeout=30)
    check(p.returncode == 1 and not out, "a data dir unused for an hour with a 600 s grace is refused (exit %s)" %
          p.returncode)
    check(data in err and "--tombstone-grace" in err and "Move it away" in err,
          "the refusal names the dir, the grace and what to do: %r" % err.strip())
    check(os.path.getmtime(stamp) < time.time() - 3000, "a refused start does not mark the dir as used")

    p = serve(args.binary, port, data, 7200)
    check(p.stdout.readline().startswith("ready"), "with a grace longer than the downtime it starts")
    p.terminate()
    p.wait(timeout=30)
    check.finish("data dir age")


if __name__ == "__main__":
    main()
