#!/usr/bin/python3
"""`chordnode put` of a big value sends it straight to its key's owner, which --via names; a small
one, one with --if-version, and one with --through-via go through --via; an owner this client
cannot reach is passed by (with a warning) and the value goes through --via; an owner that is
paused is passed by, and its key's next holder takes the value. `chordnode get` of a big value
has its first 4 MiB through --via and the rest from the holder that sent them, or through --via
where that holder cannot be reached. Run on a mixed ring
of 3 REST nodes and 1 AMQP node, each node's served and made Store calls read from its /metrics.
What must show, for each put: the exit code, one JSON object on stdout (warnings go to stderr),
the owner it names, whether the access node forwarded a Store call and the owner served one, and
the value read back whole through another node."""
import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from checks import Checks  # noqa: E402
from http_api_e2e import parse_prometheus  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402

BIG = 6 << 20  # over the 4 MiB from which a put goes to the owner
SMALL = 1 << 20


def calls(port, method):
    """(served, made) calls of method by the node whose metrics listen on port."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        samples = parse_prometheus(r.read().decode())
    count = {"in": 0, "out": 0}
    for name, value in samples.items():
        if name.startswith("chord_rpcs_total{") and 'method="%s"' % method in name:
            for d in count:
                if 'direction="%s"' % d in name:
                    count[d] += value
    return count["in"], count["out"]


def stores(port):
    return calls(port, "Store")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    check = Checks()
    ring = Ring(os.path.abspath(args.binary), "rest", stabilize_ms=100)
    http = free_ports(4)
    tmp = tempfile.mkdtemp(prefix="value-route-")
    try:
        uris = ring.start(4, extra_for=lambda i: ["--http", "127.0.0.1:%d" % http[i]],
                          transport_for=lambda i: "amqp" if i == 3 else "rest")
        check(ring.wait_converged(), "the mixed ring of 3 REST nodes and 1 AMQP node converged")
        via, reader = uris[0], uris[1]
        metrics = dict(zip(uris, http))
        owner_of = {k: next(iter(v)) for k, v in ring.owners(["big-%d" % i for i in range(2000)], [via]).items()}
        rest_keys = [k for k, o in owner_of.items() if o not in (via, uris[3])]
        amqp_key = next((k for k, o in owner_of.items() if o == uris[3]), None)
        check(amqp_key is not None and len(rest_keys) >= 4, "keys owned by each kind of node: %s" % owner_of)

        def put(key, source, *flags, env=None, count=True):
            """Runs the put; returns (exit code, JSON out, stderr, Store calls the access node made,
            Store calls the owner served). The access node makes a Store call only to forward a
            value (the owner makes the replica copies; the access node may be a replica, so what
            it serves says nothing); the owner serves one, from the client or the access node."""
            owner = owner_of[key]
            if not count:  # the owner may not answer its /metrics
                before_via = before_owner = 0
            else:
                before_via, before_owner = stores(metrics[via])[1], stores(metrics[owner])[0]
            cmd = [ring.binary, "put", key] + source + ["--via", via, "--json"] + list(flags)
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, **(env or {})))
            try:
                out = json.loads(r.stdout) if r.returncode == 0 else None
            except ValueError:
                out = None
                check(False, "put %s prints one JSON object on stdout, and nothing else: %r" % (key, r.stdout))
            if not count:
                return r.returncode, out, r.stderr, None, None
            return (r.returncode, out, r.stderr, stores(metrics[via])[1] - before_via,
                    stores(metrics[owner])[0] - before_owner)

        def reads_back(key, digest, what):
            path = os.path.join(tmp, key + ".out")
            r = ring.cli("get", key, "--via", reader, "-o", path, check=False)
            got = hashlib.sha256(open(path, "rb").read()).hexdigest() if r.returncode == 0 else None
            check(got == digest, "%s: %s reads back whole through another node (%s)" % (what, key, r.stderr.strip()))

        # A big dummy value: straight to its owner; the access node serves a lookup and forwards nothing.
        key = rest_keys[0]
        code, out, err, via_forwarded, owner_served = put(key, ["--dummy", str(BIG)])
        check(code == 0 and out["owner"]["uri"] == owner_of[key] and out["bytes"] == BIG and out["copies"] == 3,
              "a %d-byte put is stored on its owner with 3 copies: %s %s" % (BIG, out, err))
        check(via_forwarded == 0 and owner_served == 1,
              "the big put went to the owner: the access node forwarded %d Store calls, the owner served %d" % (via_forwarded, owner_served))
        check(err == "", "no warning when the owner is reached: %r" % err)
        reads_back(key, out and out["sha256"], "to the owner")

        # A big file: the same.
        data = os.urandom(BIG + 12345)
        path = os.path.join(tmp, "big.bin")
        with open(path, "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).hexdigest()
        key = rest_keys[1]
        code, out, err, via_forwarded, owner_served = put(key, [path])
        check(code == 0 and out["sha256"] == digest and via_forwarded == 0 and owner_served == 1,
              "a big file goes to its owner: %s, access node forwarded %d, owner served %d, %s" % (out, via_forwarded, owner_served, err))
        reads_back(key, digest, "a file to the owner")

        # A big get: its first 4 MiB through --via, the rest from the holder that sent them. The
        # key is one of --via's successor, so that --via holds no copy of it and serves no Fetch
        # but the client's: the REST client asks for 1 MiB ranges, 4 of them for the first part,
        # 7 for the whole value through --via.
        successor = next(n["successor"] for n in ring.cli_json("ring", "--via", via)["nodes"] if n["uri"] == via)
        # Not one of the keys the puts below write: --if-version 0 needs a key that does not exist.
        key = next((k for k, o in owner_of.items() if o == successor and k not in rest_keys[:4]), None)
        check(key is not None, "a key of --via's successor: %s" % owner_of)
        code, out, err, _, _ = put(key, [path])
        check(code == 0 and out["sha256"] == digest, "a big file for a get is stored: %s %s" % (out, err))
        for flags, ranges in (([], 4), (["--through-via"], (len(data) + (1 << 20) - 1) >> 20)):
            got = os.path.join(tmp, "got.bin")
            before = calls(metrics[via], "Fetch")[0]
            others = [u for u in uris if u != via]
            before_others = sum(calls(metrics[u], "Fetch")[0] for u in others)
            r = ring.cli("get", key, "--via", via, "-o", got, *flags, check=False)
            served = calls(metrics[via], "Fetch")[0] - before
            check(r.returncode == 0 and open(got, "rb").read() == data,
                  "get %s of %d bytes comes back whole: %s" % (flags, len(data), r.stderr.strip()))
            check(served == ranges, "get %s: the access node served %d Fetch calls, not %d" % (flags, served, ranges))
            if flags:
                # Through --via, each later range names the version the first one came at, and
                # the access node reads it from that range's holder: one Fetch per range there,
                # where a lookup and a round of R = 2 holders per range made three.
                by_holders = sum(calls(metrics[u], "Fetch")[0] for u in others) - before_others
                check(ranges <= by_holders <= ranges + 4,
                      "get %s: the holders served %d Fetch calls for %d ranges" % (flags, by_holders, ranges))
            check("warning" not in r.stderr, "get %s: no warning: %r" % (flags, r.stderr))

        # Through --via: a value under 4 MiB, a conditional put, and --through-via.
        for what, key, source, flags in (
                ("a %d-byte value" % SMALL, rest_keys[2], ["--dummy", str(SMALL)], []),
                ("a big value with --if-version 0", rest_keys[3], ["--dummy", str(BIG)], ["--if-version", "0"]),
                ("a big value with --through-via", rest_keys[2], ["--dummy", str(BIG)], ["--through-via"])):
            code, out, err, via_forwarded, owner_served = put(key, source, *flags)
            check(code == 0 and out["owner"]["uri"] == owner_of[key], "%s is stored: %s %s" % (what, out, err))
            check(via_forwarded == 1 and owner_served == 1,
                  "%s goes through the access node: it forwarded %d Store calls, the owner served %d" % (what, via_forwarded, owner_served))
            reads_back(key, out and out["sha256"], what)

        # An owner this client cannot reach: an AMQP node, with a broker login this client lacks.
        # The put says so and goes through --via, which reaches the owner with the ring's login.
        if amqp_key:
            code, out, err, via_forwarded, owner_served = put(
                amqp_key, [path], env={"CHORD_AMQP_URL": "amqp://guest:not-the-password@127.0.0.1:5672/"})
            check(code == 0 and out["sha256"] == digest and out["owner"]["uri"] == uris[3],
                  "a big put whose owner cannot be reached is stored all the same: %s %s" % (out, err))
            check("cannot be reached from here" in err and via in err,
                  "the client says it sent the value through the access node: %r" % err)
            check(via_forwarded == 1 and owner_served == 1,
                  "through the access node: it forwarded %d Store calls, the owner served %d" % (via_forwarded, owner_served))
            reads_back(amqp_key, digest, "an unreachable owner's")
            # And read back by that client: the rest of the value comes through --via.
            got = os.path.join(tmp, "unreachable.bin")
            r = subprocess.run([ring.binary, "get", amqp_key, "--via", via, "-o", got], capture_output=True, text=True,
                               timeout=120, env=dict(os.environ, CHORD_AMQP_URL="amqp://guest:not-the-password@127.0.0.1:5672/"))
            check(r.returncode == 0 and open(got, "rb").read() == data and "cannot be reached from here" in r.stderr,
                  "a big get whose holder this client cannot reach comes back whole through --via: %s" % r.stderr)

        # A paused owner, not yet found silent: a big value, which the access node cannot send
        # again once it began to move, goes to the key's next holder, with --through-via (the
        # access node asks the owner first) and without (the client asks it first, then the access
        # node). Once the owner is back, the key reads the last value from any node.
        paused = [k for k, o in owner_of.items() if o == uris[2]]
        check(len(paused) >= 2, "two keys owned by %s: %s" % (uris[2], owner_of))
        ring.signal(uris[2], signal.SIGSTOP)
        try:
            for key, flags in zip(paused, (["--through-via"], [])):
                began = time.time()
                code, out, err, _, _ = put(key, [path] + flags, count=False)
                print("put %s to a paused owner: %.1f s, %s" % (flags, time.time() - began, err.strip()), flush=True)
                check(code == 0 and out["sha256"] == digest and out["owner"]["uri"] != uris[2],
                      "a big put %s whose owner is paused is stored on its next holder: %s" % (flags, out))
        finally:
            ring.signal(uris[2], signal.SIGCONT)
        for key in paused[:2]:
            reads_back(key, digest, "a paused owner's, once it is back,")
    finally:
        ring.stop()
    check.finish("value route e2e", ring.workdir)


if __name__ == "__main__":
    main()
