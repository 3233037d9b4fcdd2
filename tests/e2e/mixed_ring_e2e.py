#!/usr/bin/env python3
"""A ring of 9 nodes, 3 on each transport (gRPC, REST, AMQP), joined through one another: it
converges, every node names the same owner for each key, values put through any node come back
through any other; and a node serving gRPC and REST at once answers on both."""
import argparse
import hashlib
import json
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402

TRANSPORTS = ["grpc", "rest", "amqp"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    ring = Ring(args.binary, "grpc")
    check = Checks()

    try:
        uris = ring.start(9, transport_for=lambda i: TRANSPORTS[i % 3])
        check(sorted(u.split(":")[0] for u in uris) == sorted(["grpc", "http", "amqp"] * 3), "3 nodes per transport")
        check(ring.wait_converged(), "the mixed ring converged (logs in %s)" % ring.workdir)
        print("mixed ring of 9 converged", flush=True)

        # A tenth node on gRPC and REST at once, known to the ring by its gRPC URI.
        grpc_port, rest_port = free_ports(2)
        dual = ring.start_node(grpc_port, join=uris[2], transport="grpc,rest", extra=["--listen", "127.0.0.1:%d" % rest_port])
        check(ring.ready[dual].get("serves") == "grpc://127.0.0.1:%d,http://127.0.0.1:%d" % (grpc_port, rest_port),
              "the dual node says where it serves: %s" % ring.ready[dual])
        check(ring.wait_converged(), "the ring of 10 converged")
        via_rest = "http://127.0.0.1:%d" % rest_port
        info = ring.cli_json("lookup", "dual-key", "--via", via_rest)
        check(info["path"][0] == dual, "a call through the dual node's REST endpoint is answered by it")
        all_uris = uris + [dual]

        digests = {}
        for i in range(12):
            key = "mixed-%d" % i
            data = random.Random(i).randbytes(random.Random(50 + i).randrange(0, 2 << 20))
            path = os.path.join(ring.workdir, key)
            open(path, "wb").write(data)
            digests[key] = hashlib.sha256(data).hexdigest()
            put = ring.cli_json("put", key, path, "--via", all_uris[i % len(all_uris)])
            check(put["sha256"] == digests[key] and put["copies"] >= 2, "put %s via %s: %s"
                  % (key, all_uris[i % len(all_uris)], put))
        held = ring.wait_copies(all_uris[0], 3 * len(digests))
        check(held == 3 * len(digests), "the %d puts are held in 3 copies each (%d)" % (len(digests), held))
        for i, key in enumerate(digests):
            via = all_uris[(i + 4) % len(all_uris)]
            out = os.path.join(ring.workdir, key + ".out")
            r = ring.cli("get", key, "-o", out, "--via", via, check=False)
            check(r.returncode == 0 and hashlib.sha256(open(out, "rb").read()).hexdigest() == digests[key],
                  "get %s via %s: %s" % (key, via, r.stderr.strip()))
        for key, owners in ring.owners(digests, all_uris).items():
            check(len(owners) == 1, "every node names one owner for %s: %s" % (key, owners))
        print("values and lookups through every transport: checked", flush=True)
    finally:
        ring.stop()
    check.finish("mixed ring e2e", ring.workdir)


if __name__ == "__main__":
    main()
