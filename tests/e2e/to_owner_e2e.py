#!/usr/bin/python3
"""bench-client --to-owner, as bench/bench.py runs it: a client that walks the ring once and sends
each put and get straight to its key's owner. What must show:
- every value lands and reads back;
- the nodes make no forwarding call: the owner's two replica copies are the Store calls the nodes
  make, give or take a push of the ring's own, where through one access node there is a forward
  for every key it does not own;
- the owner answers its own lookup without a call: while the puts run, the nodes serve only the
  few LookupSteps of their own maintenance, where before each put at its owner routed round the
  ring;
- when an owner crashes while the client runs, its requests go through the access node instead,
  and none fails (gRPC and REST)."""
import argparse
import json
import os
import signal
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
MANY = 1000  # gets of which an owner's share outlasts the first MANY/40 it serves


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


def bench_cmd(ring, via, op, prefix, to_owner, count=COUNT):
    return [ring.binary, "bench-client", "--via", via, "--op", op, "--count", str(count), "--size", "4KiB",
            "--prefix", prefix] + (["--to-owner"] if to_owner else [])


def bench(ring, via, op, prefix, to_owner, count=COUNT):
    r = subprocess.run(bench_cmd(ring, via, op, prefix, to_owner, count), capture_output=True, text=True, timeout=120)
    return r.returncode, [json.loads(line) for line in r.stdout.splitlines() if line.strip()], r.stderr


def crash_mid_run(ring, uris, http_ports, check):
    """An owner that crashes while the client runs: its calls there fail, and the client retries
    them through its access node, which routes around it to the keys' other holders. Nothing
    fails. The owner is killed once it has served a tenth of its keys' gets, so that the kill
    lands after the client's walk and before its end, however fast the machine is. (Not on AMQP:
    a call to a killed node's queue can wait out the client's whole deadline, and the broker is
    shared by the other AMQP tests.)"""
    code, out, err = bench(ring, uris[0], "put", "many", True, MANY)
    check(code == 0 and out and out[0]["ok"] == MANY, "%d puts to the owner: %s %s" % (MANY, out, err))
    settle(http_ports)
    # The victim is the node (other than the reader's access node) that owns the most of the keys:
    # node ids come from random ports, and a node that owns a sliver of the ring would be asked too
    # few times for the kill to land mid-run.
    owned = {u: 0 for u in uris}
    for named in ring.owners(["many-4096-%d" % i for i in range(MANY)], [uris[0]]).values():
        for u in named:
            owned[u] += 1
    index = max((0, 2, 3), key=lambda i: owned[uris[i]])
    print("keys owned per node:", [owned[u] for u in uris], "victim: node", index, flush=True)
    victim = http_ports[index:index + 1]
    before = calls(victim, "Fetch", "in")
    reader = subprocess.Popen(bench_cmd(ring, uris[1], "get", "many", True, MANY), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline, enough = time.time() + 60, max(1, owned[uris[index]] // 10)
    while reader.poll() is None and time.time() < deadline and calls(victim, "Fetch", "in") - before < enough:
        time.sleep(0.005)
    check(reader.poll() is None, "the gets were still running when the owner was killed (it owns %d of %d keys)"
          % (owned[uris[index]], MANY))
    ring.signal(uris[index], signal.SIGKILL)
    stdout, stderr = reader.communicate(timeout=120)
    out = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    print("gets while an owner crashed:", out[0] if out else stderr, flush=True)
    check(reader.returncode == 0 and out and out[0]["ok"] == MANY and out[0]["failed"] == 0,
          "every get found its value while an owner crashed: %s %s" % (out, stderr))
    check(out and out[0].get("rerouted", 0) > 0, "gets whose owner had crashed went through the access node: %s" % out)


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
        # Forwards would add about 3/4 of a call per put; a replica push of the ring's own (after a
        # node missed a deadline on a loaded machine) may add one or two.
        check(2 * COUNT <= made <= 2 * COUNT + COUNT // 6,
              "%d puts to the owner made %d Store calls, not 2 each" % (COUNT, made))
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

        if args.transport != "amqp":
            crash_mid_run(ring, uris, http_ports, check)
    finally:
        ring.stop()
    check.finish("to-owner e2e (%s)" % args.transport, ring.workdir)


if __name__ == "__main__":
    main()
