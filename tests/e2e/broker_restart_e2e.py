#!/usr/bin/env python3
"""RabbitMQ restarted under an 8-node AMQP ring: the nodes lose the broker (and their queues),
reconnect with backoff, and the ring heals; no key is lost. Prints how long recovery took."""
import argparse
import hashlib
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    ring = Ring(args.binary, "amqp")
    check = Checks()
    try:
        uris = ring.start(8)
        assert ring.wait_converged(), "the ring did not converge (logs in %s)" % ring.workdir
        digests = {}
        for i in range(20):
            key = "restart-key-%d" % i
            data = random.Random(i).randbytes(random.Random(100 + i).randrange(0, 300000))
            path = os.path.join(ring.workdir, key)
            open(path, "wb").write(data)
            digests[key] = hashlib.sha256(data).hexdigest()
            ring.cli("put", key, path, "--via", uris[i % 8])
        print("ring of 8 converged, 20 keys stored", flush=True)

        t0 = time.time()
        subprocess.run([os.path.join(ROOT, "scripts", "rabbitmq.sh"), "restart"], check=True, timeout=120)
        back = time.time()
        print("broker restarted in %.1f s" % (back - t0), flush=True)
        check(ring.wait_converged(timeout=90), "the ring healed after the broker restart")
        healed = time.time()
        print("ring healed %.1f s after the broker was back (%.1f s after the restart began)" % (healed - back, healed - t0),
              flush=True)

        deadline = time.time() + 60
        pending = dict(digests)
        while pending and time.time() < deadline:
            for i, key in enumerate(list(pending)):
                out = os.path.join(ring.workdir, key + ".out")
                r = ring.cli("get", key, "-o", out, "--via", uris[(i + 3) % 8], check=False)
                if r.returncode == 0 and hashlib.sha256(open(out, "rb").read()).hexdigest() == pending[key]:
                    del pending[key]
            if pending:
                time.sleep(1)
        check(not pending, "no key lost after the broker restart (missing: %s)" % sorted(pending))
        print("all 20 keys readable %.1f s after the restart began" % (time.time() - t0), flush=True)
    finally:
        ring.stop()
    check.finish("broker restart e2e", ring.workdir)


if __name__ == "__main__":
    main()
