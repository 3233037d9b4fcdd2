#!/usr/bin/env python3
"""End to end: 8 chordnode processes on 127.0.0.1 form a ring; 20 values of 0 B to 16 MiB go in
through one node and come out through another; every node names the same owner for each key;
two nodes leave (SIGTERM) and one crashes (SIGKILL), and no key is lost."""
import argparse
import hashlib
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring  # noqa: E402

SIZES = [0, 1, 100, 4096, 65536, 1 << 20, (1 << 20) + 1, 3 << 20, 16 << 20] + [random.Random(i).randrange(1, 2 << 20) for i in range(11)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--transport", default="grpc")
    ap.add_argument("--nodes", type=int, default=8)
    args = ap.parse_args()

    ring = Ring(args.binary, args.transport)
    check = Checks()

    try:
        uris = ring.start(args.nodes)
        assert ring.wait_converged(), "the ring did not converge (logs in %s)" % ring.workdir
        print("ring of %d converged" % len(uris), flush=True)

        digests = {}
        for i, size in enumerate(SIZES):
            key = "e2e-key-%d" % i
            path = os.path.join(ring.workdir, key)
            data = random.Random(i).randbytes(size)
            with open(path, "wb") as f:
                f.write(data)
            digests[key] = hashlib.sha256(data).hexdigest()
            put = ring.cli_json("put", key, path, "--via", uris[i % len(uris)])
            check(put["sha256"] == digests[key] and put["bytes"] == size, "put %s" % key)
        print("put %d values of 0 B to 16 MiB" % len(SIZES), flush=True)

        def verify_all(via_nodes, label):
            for i, key in enumerate(digests):
                via = via_nodes[(i + 3) % len(via_nodes)]
                out = os.path.join(ring.workdir, key + ".out")
                r = ring.cli("get", key, "-o", out, "--via", via, check=False)
                ok = r.returncode == 0 and hashlib.sha256(open(out, "rb").read()).hexdigest() == digests[key]
                check(ok, "%s: get %s via %s: %s" % (label, key, via, r.stderr.strip()))

        verify_all(uris, "stable ring")
        walked = ring.cli_json("ring", "--via", uris[2])
        check(walked.get("settled") is True and walked.get("winds") == 1 and len(walked["nodes"]) == len(uris),
              "ring --json of the converged ring: settled, once round: %s" %
              {k: walked.get(k) for k in ("winds", "settled")})
        text = ring.cli("ring", "--via", uris[2]).stdout
        check(text.rstrip().endswith("%d nodes, settled: once round the circle, in id order" % len(uris)),
              "ring says the converged ring is settled: %r" % text[-120:])
        cut = ring.cli_json("ring", "--via", uris[2], "--limit", "3")
        check(len(cut["nodes"]) == 3 and cut.get("winds") == 0 and cut.get("settled") is False,
              "a walk cut by --limit is not called settled: %s" % {k: cut.get(k) for k in ("winds", "settled")})
        text = ring.cli("ring", "--via", uris[2], "--limit", "3").stdout
        check(text.rstrip().endswith("3 nodes, not settled: the walk did not come back to its start"),
              "ring says a cut walk did not close: %r" % text[-120:])

        # Every node names the same owner for every key (one lookup of all the keys per node),
        # and the same one a lookup of that key alone names.
        named = ring.owners(digests, uris)
        for key, owners in named.items():
            check(len(owners) == 1, "owners of %s disagree: %s" % (key, owners))
        alone = ring.cli_json("lookup", "e2e-key-7", "--via", uris[5])
        check({alone["owner"]["uri"]} == named["e2e-key-7"],
              "a lookup of one key names the owner that a lookup of several does: %s, %s" % (alone, named["e2e-key-7"]))
        text = ring.cli("lookup", "e2e-key-1", "e2e-key-2", "--via", uris[0]).stdout
        check(text.count("owner  ") == 2 and "key    e2e-key-2 " in text, "lookup of two keys prints two blocks: %r" % text)
        r = ring.cli("lookup", "a", "b", "--repeat", "3", "--via", uris[0], check=False)
        check(r.returncode == 2 and "--repeat" in r.stderr, "--repeat with two keys is refused: %s" % r.stderr.strip())
        print("all nodes agree on every owner", flush=True)

        # A node that stalls for a moment (a long GC-like pause, an overloaded machine) answers a
        # client that connected during the stall once it resumes, within the call's deadline: the
        # connection set-up must not give up sooner than the call would (gRPC once failed such a
        # call after 100 ms with "timed out before receiving SETTINGS frame").
        stalled = uris[4]
        ring.signal(stalled, signal.SIGSTOP)
        try:
            threading.Timer(0.6, lambda: ring.signal(stalled, signal.SIGCONT)).start()
            began = time.time()
            r = ring.cli("lookup", "stall-key", "--via", stalled, check=False)
            check(r.returncode == 0, "a node stalled for 0.6 s answers after it resumes: %s" % r.stderr.strip())
            check(time.time() - began >= 0.5, "the answer came after the stall")
        finally:
            ring.signal(stalled, signal.SIGCONT)

        # Two graceful leaves, then a crash.
        for uri in uris[1:3]:
            ring.signal(uri, signal.SIGTERM)
            check(ring.wait_exit(uri) == 0, "%s exited 0 after SIGTERM" % uri)
        ring.signal(uris[5], signal.SIGKILL)
        ring.wait_exit(uris[5])
        check(ring.wait_converged(), "ring re-converged after 2 leaves and 1 crash")
        time.sleep(2)  # a few replica-maintenance rounds
        live = ring.live()
        verify_all(live, "after failures")
        total = sum(n["keys"] for n in ring.cli_json("ring", "--via", live[0])["nodes"])
        check(total >= 3 * len(digests), "k = 3 copies of every key remain (%d copies held)" % total)
        print("0 keys lost after 2 leaves and 1 crash", flush=True)
    finally:
        ring.stop()
    check.finish("e2e %s" % args.transport, ring.workdir)


if __name__ == "__main__":
    main()
