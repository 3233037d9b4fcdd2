#!/usr/bin/python3
"""The per-peer rate limit (serve --peer-rate): on a ring with a cluster key, one caller that
floods a node with calls is refused past its rate (resource_exhausted: gRPC RESOURCE_EXHAUSTED,
HTTP 503 with the JSON error, AMQP Status) while another caller is served throughout, the ring's
own traffic (members, who prove the key) is never limited, and /metrics counts the refusals
(reason "rate").

Callers are told apart by IP address on gRPC and REST (here 127.0.0.2 and 127.0.0.3 as source
addresses: REST only, since Python's gRPC cannot pick one; on gRPC the flood is followed by a
quiet second, after which the same address is served again), and by connection on AMQP."""
import argparse
import http.client
import json
import os
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from checks import Checks  # noqa: E402
from cluster_key_e2e import Outsider, write_key  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402

RATE = 40  # calls/s; bursts of twice that


class RestCaller:
    """POST /chord.v1.Chord/Ping from a chosen source address, on one kept-alive connection."""

    def __init__(self, uri, source):
        host, port = uri[len("http://"):].split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))

    def ping(self):
        self.conn.request("POST", "/chord.v1.Chord/Ping", body=b"{}", headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        body = r.read()
        if r.status == 200:
            return "ok"
        return json.loads(body or b"{}").get("code", "http %d" % r.status)


def flood(call, seconds):
    """Calls as fast as call() answers for seconds: {outcome: count}."""
    seen = {}
    end = time.time() + seconds
    while time.time() < end:
        outcome = call()
        seen[outcome] = seen.get(outcome, 0) + 1
    return seen


def scenario(binary, transport, check, pb):  # noqa: C901 (one ring, one story)
    ring = Ring(binary, transport)
    key = write_key(os.path.join(ring.workdir, "cluster.key"), os.urandom(32).hex().encode())
    http_port = free_ports(1)[0]
    ring.extra += ["--cluster-key", key, "--peer-rate", str(RATE)]
    try:
        uris = ring.start(3, extra_for=lambda i: ["--http", "127.0.0.1:%d" % http_port] if i == 0 else [])
        if not check(ring.wait_converged(), "%s: a keyed ring of 3 with --peer-rate %d forms" % (transport, RATE)):
            return
        target = uris[0]
        seconds = 3
        if transport == "rest":
            noisy, quiet = RestCaller(target, "127.0.0.2"), RestCaller(target, "127.0.0.3")
            quiet_seen = {}

            def noisy_then_quiet():
                # Between the flood's calls, the quiet caller's, ten a second: well within its rate.
                if time.time() >= noisy_then_quiet.next:
                    noisy_then_quiet.next += 0.1
                    o = quiet.ping()
                    quiet_seen[o] = quiet_seen.get(o, 0) + 1
                return noisy.ping()
            noisy_then_quiet.next = time.time()
            seen = flood(noisy_then_quiet, seconds)
            check(quiet_seen.get("ok", 0) > 0 and set(quiet_seen) == {"ok"},
                  "rest: the quiet caller is served throughout the flood: %s" % quiet_seen)
        else:
            noisy = Outsider(transport, target, pb, ring.broker)
            seen = flood(lambda: noisy.call("Ping", pb.Empty())[0], seconds)
            if transport == "amqp":
                quiet = Outsider(transport, target, pb, ring.broker)
                outcomes = [quiet.call("Ping", pb.Empty())[0] for _ in range(5)]
                check(outcomes == ["ok"] * 5, "amqp: another connection is served right after the flood: %s" % outcomes)
            time.sleep(1.5)  # the bucket refills
            code = noisy.call("Ping", pb.Empty())[0]
            check(code == "ok", "%s: after a quiet second the flooding caller is served again: %s" % (transport, code))
        refused = seen.get("resource_exhausted", 0)
        accepted = seen.get("ok", 0)
        # What the bucket allows in the flood's time: the burst and the rate, with slack for timing.
        allowed = 2 * RATE + RATE * (seconds + 1)
        check(refused > 0 and accepted <= allowed and set(seen) <= {"ok", "resource_exhausted"},
              "%s: a flood of %d calls in %d s: %d answered (at most %d allowed), %d refused as resource_exhausted: %s" %
              (transport, sum(seen.values()), seconds, accepted, allowed, refused, seen))
        check(ring.converged(), "%s: the ring's own calls were not limited: it is still converged" % transport)
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http_port, timeout=10).read().decode()
        counted = [line for line in text.splitlines()
                   if line.startswith("chord_requests_refused_total") and 'reason="rate"' in line]
        total = sum(float(line.split()[-1]) for line in counted)
        check(total >= refused, "%s: /metrics counts %d refusals for the rate (%d seen): %s" %
              (transport, total, refused, counted))
    finally:
        ring.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--transport", choices=["grpc", "rest", "amqp"], required=True)
    args = ap.parse_args()
    from grpc_client_from_proto import grpc_and_stubs
    _, pb, _ = grpc_and_stubs()
    check = Checks()
    scenario(args.binary, args.transport, check, pb)
    check.finish("peer rate %s" % args.transport)


if __name__ == "__main__":
    main()
