#!/usr/bin/python3
"""bench-client --to-owner, as bench/bench.py runs it: a client that walks the ring once and sends
each put and get straight to its key's owner. What must show: every value lands and reads back;
the nodes make no forwarding call (the owner's two replica copies are the only Store calls any
node makes, where through one access node there is a forward for every key it does not own); and
the owner answers its own lookup without a call (while the puts run, the nodes serve only the few
LookupSteps of their own maintenance, where before each put at its owner routed round the ring)."""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from checks import Checks  # noqa: E402
from http_api_e2e import parse_prometheus  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402

NODES = 4
COUNT = 60


def calls(http_ports, method, direction):
    """chord.v1 calls of method made (out) or served (in) by the ring's nodes, summed."""
    total = 0
    for port in http_ports:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
            samples = parse_prometheus(r.read().decode())
        for name, value in samples.items():
            if name.startswith("chord_rpcs_total{") and 'method="%s"' % method in name and \
                    'direction="%s"' % direction in name:
                total += value
    return total


def settle(http_ports):
    """Waits for the copies still on their way: with W = 2 of 3 a put is acknowledged before its
    third copy has landed."""
    last, deadline = None, time.time() + 10
    while time.time() < deadline:
        now = calls(http_ports, "Store", "out")
        if now == last:
            return
        last = now
        time.sleep(0.5)


def bench(ring, via, op, prefix, to_owner):
    cmd = [ring.binary, "bench-client", "--via", via, "--op", op, "--count", str(COUNT), "--size", "4KiB",
           "--prefix", prefix] + (["--to-owner"] if to_owner else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return r.returncode, [json.loads(line) for line in r.stdout.splitlines() if line.strip()], r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--transport", default="grpc")
    args = ap.parse_args()
    check = Checks()
    ring = Ring(os.path.abspath(args.binary), args.transport, stabilize_ms=100)
    http_ports = free_ports(NODES)
    try:
        uris = ring.start(NODES, extra_for=lambda i: ["--http", "127.0.0.1:%d" % http_ports[i]])
        check(ring.wait_converged(), "the ring of %d converged" % NODES)

        # Through one access node: every key it does not own costs a forward.
        stores = calls(http_ports, "Store", "out")
        code, out, err = bench(ring, uris[0], "put", "via", False)
        settle(http_ports)
        check(code == 0 and out and out[0]["ok"] == COUNT, "puts through an access node: %s %s" % (out, err))
        forwards = calls(http_ports, "Store", "out") - stores - 2 * COUNT
        check(forwards > 0, "through an access node, %d puts made %d forwards" % (COUNT, forwards))

        # Straight to the owner: the owner's copies to its 2 replicas are all the Store calls made.
        stores, steps = calls(http_ports, "Store", "out"), calls(http_ports, "LookupStep", "in")
        code, out, err = bench(ring, uris[0], "put", "direct", True)
        served = calls(http_ports, "LookupStep", "in") - steps
        settle(http_ports)
        check(code == 0 and out and out[0]["ok"] == COUNT and out[0]["to_owner"] is True,
              "puts to the owner: %s %s" % (out, err))
        made = calls(http_ports, "Store", "out") - stores
        check(made == 2 * COUNT, "%d puts to the owner made %d Store calls, not 2 each" % (COUNT, made))
        # An owner that routed its own key would take a step or more for each put; what is left is
        # the ring's own maintenance (check_successor routes round each node now and then).
        check(served <= COUNT // 4, "%d lookup steps while %d puts ran at their owners" % (served, COUNT))

        code, out, err = bench(ring, uris[1], "get", "direct", True)
        check(code == 0 and out and out[0]["ok"] == COUNT and out[0]["failed"] == 0,
              "gets from the owner find every value: %s %s" % (out, err))
        # And the values are there for any other client, through any node.
        for i in (0, COUNT // 2, COUNT - 1):
            r = ring.cli("get", "direct-4096-%d" % i, "--via", uris[2], "--json", check=False)
            check(r.returncode == 0 and json.loads(r.stdout).get("bytes") == 4096,
                  "direct-4096-%d reads back through another node: %s %s" % (i, r.stdout, r.stderr))
    finally:
        ring.stop()
    check.finish("to-owner e2e (%s)" % args.transport, ring.workdir)


if __name__ == "__main__":
    main()
