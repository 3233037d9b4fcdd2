#!/usr/bin/env python3
"""Acknowledged writes and deletes stay, on real processes (each with --data-dir), over one
transport: a key is deleted and another overwritten while one of their holders is killed; the
holder restarts from its data dir with the old copies, and no read through any node ever returns
them. Then a holder is paused (SIGSTOP) through an overwrite and resumed; then all three holders
are paused: a put fails with a clear error and, once they resume, reads return the last
acknowledged value. Last, a key's owner is paused through an overwrite and then a delete sent
through another node: both are acknowledged, and neither is undone once the owner resumes; and a
put and a delete that sat in a paused owner's socket while its successor ordered them are not
applied again when it resumes."""
import argparse
import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402


def port_of(uri):
    return int(re.search(r"(\d+)$", uri).group(1))


class Versions:
    def __init__(self, ring, check):
        self.ring = ring
        self.check = check
        self.work = ring.workdir

    def data_dir(self, uri):
        return os.path.join(self.work, "data-%d" % port_of(uri))

    def holders(self, key):
        """The key's owner and its next two nodes, from the ring's own view."""
        for attempt in range(20):
            try:
                live = self.ring.live()
                owner = self.ring.cli_json("lookup", key, "--via", live[0])["owner"]["uri"]
                nodes = [n["uri"] for n in self.ring.cli_json("ring", "--via", live[0])["nodes"]]
                i = nodes.index(owner)
                return [nodes[(i + j) % len(nodes)] for j in range(3)]
            except (RuntimeError, ValueError):
                time.sleep(0.5)  # the ring is still settling (a node just came back)
        raise RuntimeError("no stable view of the holders of %s" % key)

    def key_held_by(self, uri, prefix):
        for i in range(1000):
            key = "%s-%d" % (prefix, i)
            if uri in self.holders(key)[1:]:
                return key
        raise RuntimeError("no key with %s as a replica" % uri)

    def put(self, key, value, via, check=True, *extra):
        path = os.path.join(self.work, "value.bin")
        with open(path, "wb") as f:
            f.write(value)
        return self.ring.cli("put", key, path, "--via", via, *extra, check=check, timeout=180)

    def read(self, key, via):
        """The value read through via, None for not found, or an error string."""
        out = os.path.join(self.work, "read.bin")
        r = self.ring.cli("get", key, "-o", out, "--via", via, check=False, timeout=60)
        if r.returncode == 3:
            return None
        if r.returncode != 0:
            return "error: " + r.stderr.strip()
        return open(out, "rb").read()

    def never_reverts(self, expect, seconds, label):
        """Reads every key through every live node for a while: none may return anything else."""
        end = time.time() + seconds
        rounds = 0
        bad = []
        while time.time() < end or rounds == 0:
            for via in self.ring.live():
                for key, want in expect.items():
                    got = self.read(key, via)
                    if got != want and not (isinstance(got, str) and got.startswith("error")):
                        bad.append("%s via %s: %r" % (key, via, got[:40] if got else got))
            rounds += 1
        self.check(not bad, "%s: no read reverts (%d rounds): %s" % (label, rounds, bad[:3]))

    def restart(self, uri, join):
        extra = ["--data-dir", self.data_dir(uri)]
        return self.ring.start_node(port_of(uri), join=join, extra=extra)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--transport", default="grpc")
    args = ap.parse_args()
    check = Checks()
    ring = Ring(args.binary, args.transport)
    v = Versions(ring, check)
    try:
        uris = [ring.uri(p) for p in free_ports(5)]
        first = v.restart(uris[0], None)
        for u in uris[1:]:
            v.restart(u, first)
        check(ring.wait_converged(), "5 nodes with data dirs converged")

        # 1. A holder killed through a delete and an overwrite, back from its data dir.
        victim = uris[2]
        gone = v.key_held_by(victim, "gone")
        kept = v.key_held_by(victim, "kept")
        v.put(gone, b"old value of gone", first)
        v.put(kept, b"first value of kept", first)
        time.sleep(0.5)
        ring.nodes[victim].kill()
        ring.nodes[victim].wait()
        access = [u for u in ring.live() if u not in v.holders(gone)][:1] or [first]
        d = ring.cli("delete", gone, "--via", access[0], check=False, timeout=60)
        check(d.returncode == 0, "delete with one holder dead is acknowledged: %s" % d.stderr.strip())
        p = v.put(kept, b"second value of kept", access[0], check=False)
        check(p.returncode == 0, "overwrite with one holder dead is acknowledged: %s" % p.stderr.strip())
        v.restart(victim, first)
        v.never_reverts({gone: None, kept: b"second value of kept"}, 6, "holder back from its data dir")

        # 2. A holder paused through an overwrite.
        paused = v.holders(kept)[1]
        via = [u for u in ring.live() if u != paused][0]
        os.kill(ring.nodes[paused].pid, signal.SIGSTOP)
        p = v.put(kept, b"third value of kept", via, check=False)
        os.kill(ring.nodes[paused].pid, signal.SIGCONT)
        check(p.returncode == 0, "overwrite with one holder paused is acknowledged: %s" % p.stderr.strip())
        v.never_reverts({gone: None, kept: b"third value of kept"}, 4, "holder resumed")

        # 3. All three holders paused: no quorum, a clear error; afterwards the last acknowledged value.
        three = v.holders(kept)
        outside = [u for u in ring.live() if u not in three][0]
        for u in three:
            os.kill(ring.nodes[u].pid, signal.SIGSTOP)
        # The client waits longer than the access node's own bounded attempts (lookups around the
        # paused nodes, then the store), so that the answer is the node's error.
        p = v.put(kept, b"fourth value of kept", outside, False, "--timeout-ms", "60000")
        for u in three:
            os.kill(ring.nodes[u].pid, signal.SIGCONT)
        check(p.returncode != 0 and p.stderr.strip(), "a put with every holder paused fails with a message: %r" %
              p.stderr.strip()[:200])
        check(ring.wait_converged(60), "the ring heals after the pause")
        final = v.read(kept, first)
        check(final in (b"third value of kept", b"fourth value of kept"),
              "after the pause the value is the last acknowledged one (or the refused write, if a quorum took "
              "it after all): %r" % (final[:40] if final else final))
        v.never_reverts({gone: None, kept: final}, 4, "after all holders resumed")

        # 4. A key's owner paused through an overwrite, then through a delete, each sent through a
        # node that holds no copy of the key. The access node's call to the paused owner misses its
        # deadline and it asks the owner's successor in its place; the successor, whose
        # predecessor the paused owner still is, must order the write itself, not hand it on to
        # the paused owner for the rest of the access node's deadline (the access node then gave
        # up on the successor too, and the write failed).
        key = "paused-owner"
        v.put(key, b"first value of paused-owner", first)
        expect = {gone: None, kept: final}
        for value, label in ((b"second value of paused-owner", "an overwrite"), (None, "a delete")):
            check(ring.wait_converged(60), "the ring is whole before %s with its owner paused" % label)
            holders = v.holders(key)
            outside = [u for u in ring.live() if u not in holders][0]
            os.kill(ring.nodes[holders[0]].pid, signal.SIGSTOP)
            began = time.time()
            if value is None:
                r = ring.cli("delete", key, "--via", outside, check=False, timeout=60)
            else:
                r = v.put(key, value, outside, False)
            took = time.time() - began
            os.kill(ring.nodes[holders[0]].pid, signal.SIGCONT)
            check(r.returncode == 0, "%s of a key whose owner is paused is acknowledged (after %.1f s): %s" %
                  (label, took, r.stderr.strip()))
            print("%s with the owner paused took %.1f s" % (label, took), flush=True)
            expect[key] = value
            v.never_reverts(expect, 3, "the owner resumed after %s" % label)

        # 5. A put and then a delete of one key, both while its owner is paused. Each reached the
        # paused owner first and sat in its socket until the access node gave up and had the key's
        # next holder order it. When the owner resumes it gets to both requests, long after their
        # deadline: applied then, with versions newer than the delete's, the put undid the
        # acknowledged delete. A node refuses a write that reaches it after its sender's deadline.
        key = "stale-at-owner"
        v.put(key, b"first value of stale-at-owner", first)
        check(ring.wait_converged(60), "the ring is whole before the stale writes")
        holders = v.holders(key)
        outside = [u for u in ring.live() if u not in holders][0]
        os.kill(ring.nodes[holders[0]].pid, signal.SIGSTOP)
        p = v.put(key, b"second value of stale-at-owner", outside, False)
        d = ring.cli("delete", key, "--via", outside, check=False, timeout=60)
        os.kill(ring.nodes[holders[0]].pid, signal.SIGCONT)
        check(p.returncode == 0 and d.returncode == 0, "a put and a delete with the owner paused are acknowledged: %s %s"
              % (p.stderr.strip(), d.stderr.strip()))
        expect[key] = None
        v.never_reverts(expect, 4, "the owner resumed with a stale put and delete in its socket")
    finally:
        ring.stop()
    check.finish("versions e2e (%s)" % args.transport, ring.workdir)


if __name__ == "__main__":
    main()
