#!/usr/bin/env python3
"""Start an N-node chordnode ring on 127.0.0.1, wait until it has converged, and stop it cleanly.

  examples/local_ring.py --nodes 8 --transport grpc --base-port 5000         # runs until Ctrl-C
  examples/local_ring.py --nodes 8 --demo                                     # the README's main job
"""
import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ringlib import Ring, free_ports  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def demo(ring, uris):
    print("\n== put an 8 MiB dummy value through %s" % uris[1], flush=True)
    print(ring.cli("put", "demo/file.bin", "--dummy", "8MiB", "--via", uris[1]).stdout, end="")
    print("== get it back through %s" % uris[-1], flush=True)
    out = os.path.join(ring.workdir, "file.bin")
    ring.cli("get", "demo/file.bin", "-o", out, "--via", uris[-1])
    got = ring.cli_json("get", "demo/file.bin", "--via", uris[-1])
    print("got %d bytes from %s, sha256 %s (verified)" % (got["bytes"], got["owner"]["uri"], got["sha256"]))
    print("\n== lookups, with their hop counts", flush=True)
    for i, key in enumerate(["apple", "banana", "cherry", "durian", "elderberry", "fig"]):
        r = ring.cli_json("lookup", key, "--via", uris[i % len(uris)])
        print("%-11s -> %-24s hops %d  path %s" % (key, r["owner"]["uri"], r["hops"], " ".join(r["path"])))
    print("\n== the ring, walked from %s" % uris[0], flush=True)
    print(ring.cli("ring", "--via", uris[0]).stdout, end="")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=8)
    ap.add_argument("--transport", default="grpc", choices=["grpc"])
    ap.add_argument("--base-port", type=int, default=0, help="first port (default: free ports)")
    ap.add_argument("--stabilize-ms", type=int, default=200)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "chordnode"))
    ap.add_argument("--demo", action="store_true", help="move a file, look keys up, print the ring, then stop")
    args = ap.parse_args()

    ports = [args.base_port + i for i in range(args.nodes)] if args.base_port else free_ports(args.nodes)
    ring = Ring(args.binary, args.transport, stabilize_ms=args.stabilize_ms)
    try:
        t0 = time.time()
        uris = ring.start(args.nodes, ports)
        print("started %d %s nodes: %s" % (len(uris), args.transport, " ".join(uris)), flush=True)
        if not ring.wait_converged():
            print("the ring did not converge; logs in %s" % ring.workdir, file=sys.stderr)
            return 1
        print("converged in %.1f s (logs in %s)" % (time.time() - t0, ring.workdir), flush=True)
        if args.demo:
            demo(ring, uris)
        else:
            print("Ctrl-C stops the ring.", flush=True)
            signal.sigwait([signal.SIGINT, signal.SIGTERM])
    finally:
        ring.stop()
        print("stopped: every node left the ring", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
