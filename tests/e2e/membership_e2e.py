#!/usr/bin/env python3
"""End to end, membership under concurrency, on one transport:
- 16 processes started in one burst form one ring that every node agrees on, whether each joins
  through the node started before it (a chain, so most seeds are still joining themselves), all
  through the first (a star), or all through one shared seed list that names themselves;
- three nodes adjacent on the ring, sent SIGTERM at the same moment, each exit 0 within a few
  seconds, and every key is still readable; then puts through a node that stays, made while
  another node leaves, are all taken (a write that reaches a leaving owner is held until its
  leave is announced, and its access node sends it to the node that holds the key now);
- a node whose only seed never comes up exits non-zero after --join-timeout with one line that
  names the seed;
- SIGTERM ends a node whose peers are paused within the shutdown deadline, and a second signal
  ends it at once."""
import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402

BURST = 16


def ring_id(uri):
    return hashlib.sha1(uri.encode()).hexdigest()


def all_agree(ring, uris, timeout=180):
    """Waits until the walk along successors from every node is the whole ring in id order."""
    end = time.time() + timeout
    pending = list(uris)
    while pending and time.time() < end:
        pending = [u for u in pending if not ring.converged(via=u)]
        if pending:
            time.sleep(0.3)
    return pending


def burst(args, check, shape, seeds_for, n=None):
    n = n or args.burst
    ring = Ring(args.binary, args.transport)
    try:
        uris, took = ring.start_burst(n, seeds_for)
        print("%s: %d processes ready %.1f s after the burst" % (shape, n, took), flush=True)
        check(len(ring.live()) == n, "%s: all %d processes are running (%d)" % (shape, n, len(ring.live())))
        left = all_agree(ring, uris)
        check(not left, "%s: every node walks the same ring of %d in id order (not yet: %s; logs in %s)"
              % (shape, n, left, ring.workdir))
        return ring, uris
    except Exception:
        ring.stop()
        raise


def leave_together(ring, uris, check):
    keys = ["burst-key-%d" % i for i in range(40)]
    for i, key in enumerate(keys):
        put = ring.cli_json("put", key, "--dummy", "%d" % (1000 + i), "--via", uris[i % len(uris)])
        check(put["copies"] >= 2, "put %s taken by a quorum (%d copies)" % (key, put["copies"]))
    held = ring.wait_copies(uris[0], 3 * len(keys))
    check(held == 3 * len(keys), "the %d puts are held in 3 copies each (%d)" % (len(keys), held))
    order = sorted(uris, key=ring_id)
    trio = order[5:8]
    t0 = time.time()
    for u in trio:
        ring.signal(u, signal.SIGTERM)
    for u in trio:
        code = ring.wait_exit(u, timeout=15)
        check(code == 0, "adjacent %s exited 0 after SIGTERM together with its neighbours (%d)" % (u, code))
    took = time.time() - t0
    check(took < 8, "three adjacent nodes left within a few seconds (%.1f s)" % took)
    print("three adjacent nodes left together in %.1f s" % took, flush=True)
    live = ring.live()
    check(not all_agree(ring, live), "the ring re-converged after they left")
    for i, key in enumerate(keys):
        r = ring.cli("get", key, "-o", os.path.join(ring.workdir, "out"),
                     "--via", live[i % len(live)], check=False)
        check(r.returncode == 0, "%s still readable after the leave: %s" % (key, r.stderr.strip()))
    writes_during_leave(ring, sorted(live, key=ring_id), check)


def writes_during_leave(ring, order, check):
    """A client putting one small value after another through a node that stays, from before a
    node's SIGTERM to after its exit: some of its keys are the leaver's while it leaves. (Not
    during the three's leave: all k = 3 holders of a key leaving at once is the one case where a
    write routed just before they go can find none of them.)"""
    stays, leaver = order[0], order[len(order) // 2]
    load = subprocess.Popen([ring.binary, "bench-client", "--via", stays, "--op", "put", "--size", "1KiB",
                             "--count", "5000", "--prefix", "during-leave", "--timeout-ms", "10000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    ring.signal(leaver, signal.SIGTERM)
    code = ring.wait_exit(leaver, timeout=15)
    check(code == 0, "%s exited 0 after SIGTERM while puts went on (%d)" % (leaver, code))
    out, err = load.communicate(timeout=300)
    puts = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    check(puts.get("ok", 0) > 0 and puts.get("failed", 1) == 0,
          "every put through %s while %s left was taken: %s %s" % (stays, leaver, puts, err.strip()[-300:]))


def join_timeout(args, check):
    ring = Ring(args.binary, args.transport)
    port = free_ports(1)[0]
    dead_seed = ring.uri(port)
    mine = free_ports(1)[0]
    cmd = [args.binary, "serve", "--transport", args.transport, "--listen", ring.listen(mine),
           "--join", dead_seed, "--join-timeout", "3"]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    took = time.time() - t0
    check(r.returncode != 0, "a node whose seed never comes up exits non-zero (%d)" % r.returncode)
    check(3 <= took < 10, "it gives up after --join-timeout 3 (%.1f s)" % took)
    lines = [ln for ln in r.stderr.splitlines() if "could not join within 3 s" in ln]
    check(len(lines) == 1 and dead_seed in lines[0],
          "one line names the seed and the reason: %r" % (lines or r.stderr[-500:]))
    check(not r.stdout.startswith("ready"), "it never said ready")


def shutdown_bounds(args, check):
    ring = Ring(args.binary, args.transport)
    try:
        uris = ring.start(4)
        check(ring.wait_converged(), "4-node ring converged")
        for i in range(20):
            ring.cli("put", "pause-key-%d" % i, "--dummy", "2000", "--via", uris[0])
        order = sorted(uris, key=ring_id)
        # Pause two nodes; each of the others then has a paused successor to hand its keys to.
        paused = [order[1], order[3]]
        for u in paused:
            ring.signal(u, signal.SIGSTOP)
        first, second = order[0], order[2]
        t0 = time.time()
        ring.signal(first, signal.SIGTERM)
        ring.wait_exit(first, timeout=30)
        took = time.time() - t0
        check(took < 11, "SIGTERM ends a node whose successor is paused within 10 s (%.1f s)" % took)
        ring.signal(second, signal.SIGTERM)
        time.sleep(0.3)
        t1 = time.time()
        ring.signal(second, signal.SIGTERM)
        ring.wait_exit(second, timeout=30)
        took = time.time() - t1
        check(took < 1.5, "a second SIGTERM ends the node at once (%.2f s)" % took)
        for u in paused:
            ring.signal(u, signal.SIGCONT)
    finally:
        ring.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--transport", default="grpc")
    ap.add_argument("--burst", type=int, default=BURST, help="processes per burst (the sanitizer build uses fewer)")
    args = ap.parse_args()
    check = Checks()
    workdirs = []

    ring, _ = burst(args, check, "chain", lambda i, uris: uris[i - 1] if i else None)
    workdirs.append(ring.workdir)
    ring.stop()

    ring, uris = burst(args, check, "star", lambda i, uris: uris[0] if i else None)
    workdirs.append(ring.workdir)
    try:
        leave_together(ring, uris, check)
    finally:
        ring.stop()

    # One seed list for every node, naming three of them: the first starts the ring.
    ring, _ = burst(args, check, "shared seed list", lambda i, uris: ",".join(uris[:3]), n=min(8, args.burst))
    workdirs.append(ring.workdir)
    ring.stop()

    join_timeout(args, check)
    shutdown_bounds(args, check)
    check.finish("membership e2e %s" % args.transport, " ".join(workdirs))


if __name__ == "__main__":
    main()
