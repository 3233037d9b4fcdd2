#!/usr/bin/env python3
"""End to end: 3 chordnode processes with --vnodes 3 form a ring of 9 nodes, each with the id of
its own URI; values go in and come out through other processes; every node names the same owner;
one whole process leaves (SIGTERM: its 3 nodes hand their keys off) and no key is lost."""
import argparse
import hashlib
import os
import random
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--transport", default="grpc")
    args = ap.parse_args()
    ring = Ring(args.binary, args.transport, vnodes=3)
    check = Checks()
    try:
        hosts = ring.start(3)
        assert ring.wait_converged(), "the ring did not converge (logs in %s)" % ring.workdir
        listed = ring.cli_json("ring", "--via", hosts[0])["nodes"]
        check(len(listed) == 9, "3 processes x 3 virtual nodes make 9 nodes: %d" % len(listed))
        for n in listed:
            check(n["id"] == hashlib.sha1(n["uri"].encode()).hexdigest(), "%s has the id of its URI" % n["uri"])
        every = [m for h in hosts for m in ring.members(h)]
        check(len(set(every)) == 9, "the virtual nodes have distinct URIs: %s" % every)

        digests = {}
        for i in range(12):
            key = "vnode-key-%d" % i
            path = os.path.join(ring.workdir, key)
            data = random.Random(i).randbytes(1000 * i + (1 << 20) * (i % 3))
            open(path, "wb").write(data)
            digests[key] = hashlib.sha256(data).hexdigest()
            ring.cli_json("put", key, path, "--via", every[i % 9])

        def verify(vias, label):
            for i, key in enumerate(digests):
                out = os.path.join(ring.workdir, "out")
                r = ring.cli("get", key, "-o", out, "--via", vias[i % len(vias)], check=False)
                ok = r.returncode == 0 and hashlib.sha256(open(out, "rb").read()).hexdigest() == digests[key]
                check(ok, "%s: get %s: %s" % (label, key, r.stderr.strip()))

        verify(every[::-1], "stable")
        for key, owners in ring.owners(digests, every).items():
            check(len(owners) == 1, "owners of %s disagree: %s" % (key, owners))

        ring.signal(hosts[1], signal.SIGTERM)
        check(ring.wait_exit(hosts[1]) == 0, "the leaving process exits 0")
        check(ring.wait_converged(), "the ring converges on the 6 nodes left")
        left = [m for h in (hosts[0], hosts[2]) for m in ring.members(h)]
        verify(left, "after a whole process left")
    finally:
        ring.stop()
    check.finish("vnodes e2e (%s)" % args.transport, ring.workdir)


if __name__ == "__main__":
    main()
