#!/usr/bin/python3
"""An AMQP client that nobody here wrote: Debian's python3-pika with Python messages generated
from proto/ alone, calling a real AMQP ring the way docs/API.md describes it (type = method,
content_type application/x-protobuf, reply_to = direct reply-to, a correlation_id). It looks a
key up and compares the owner with the CLI's; an unknown method and a malformed body get a
Status with the documented code; requests that cannot be answered (no correlation_id, no
reply_to) get nothing back, are logged once, and are counted in /metrics."""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402


def generate_messages(out):
    proto_dir = os.path.join(ROOT, "proto")
    subprocess.run(["protoc", "--proto_path=" + proto_dir, "--python_out=" + out,
                    os.path.join(proto_dir, "chord", "v1", "chord.proto")], check=True)
    sys.path.insert(0, out)


def pika_and_messages():
    """pika, and chord.v1's messages generated from proto/ (for the tests that talk AMQP alone)."""
    try:
        import pika
    except ImportError:
        sys.exit("FAIL: python3-pika is not installed for %s (scripts/install-deps.sh --tests installs it)" % sys.executable)
    generate_messages(tempfile.mkdtemp(prefix="chordamqp-"))
    from chord.v1 import chord_pb2
    return pika, chord_pb2


class Caller:
    """Publishes requests to a node's queue and collects replies on direct reply-to."""

    def __init__(self, pika, broker):
        host, port = broker.split(":")
        self.pika = pika
        self.conn = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=int(port)))
        self.ch = self.conn.channel()
        self.replies = []
        self.ch.basic_consume("amq.rabbitmq.reply-to", lambda ch, m, props, body: self.replies.append((props, body)),
                              auto_ack=True)

    def send(self, queue, method, body, correlation_id=None, reply_to="amq.rabbitmq.reply-to"):
        props = self.pika.BasicProperties(type=method, content_type="application/x-protobuf",
                                          correlation_id=correlation_id, reply_to=reply_to, expiration="5000")
        self.ch.basic_publish(exchange="", routing_key=queue, body=body, properties=props)

    def wait(self, count, seconds=5):
        end = time.time() + seconds
        while len(self.replies) < count and time.time() < end:
            self.conn.process_data_events(time_limit=0.1)
        return self.replies

    def reply_to(self, correlation_id):
        for props, body in self.replies:
            if props.correlation_id == correlation_id:
                return props, body
        return None, None


def metric(text, name, **labels):
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    pika, pb = pika_and_messages()
    check = Checks()
    ring = Ring(args.binary, "amqp")
    http = free_ports(1)[0]
    try:
        uris = ring.start(3, extra_for=lambda i: ["--http", "127.0.0.1:%d" % http] if i == 0 else [])
        check(ring.wait_converged(), "3-node AMQP ring converged")
        queue = uris[0].rsplit("/", 1)[1]
        caller = Caller(pika, ring.broker)

        caller.send(queue, "Lookup", pb.LookupRequest(key="photos/cat.jpg").SerializeToString(), "c-lookup")
        caller.send(queue, "Frobnicate", b"", "c-unknown")
        caller.send(queue, "Lookup", b"\xff\xff\xff", "c-malformed")
        caller.wait(3)

        props, body = caller.reply_to("c-lookup")
        if check(props is not None and props.type == "Lookup", "Lookup is answered with a LookupReply"):
            reply = pb.LookupReply.FromString(body)
            cli = ring.cli_json("lookup", "photos/cat.jpg", "--via", uris[1])
            check(reply.owner.uri == cli["owner"]["uri"] and reply.owner.id.hex() == cli["owner"]["id"],
                  "the owner matches the CLI's lookup through another node (%s, %s)" % (reply.owner, cli["owner"]))
        props, body = caller.reply_to("c-unknown")
        if check(props is not None and props.type == "Status", "an unknown method gets a Status"):
            status = pb.Status.FromString(body)
            check(status.code == "not_found" and "Frobnicate" in status.message,
                  "unknown method: not_found naming it (%s: %s)" % (status.code, status.message))
        props, body = caller.reply_to("c-malformed")
        if check(props is not None and props.type == "Status", "a malformed body gets a Status"):
            status = pb.Status.FromString(body)
            check(status.code == "invalid_argument", "malformed body: invalid_argument (%s)" % status.code)

        before = len(caller.replies)
        for _ in range(3):
            caller.send(queue, "Ping", b"", correlation_id=None)  # nobody can match an answer
        caller.send(queue, "Ping", b"", correlation_id="c-nowhere", reply_to=None)  # nowhere to answer
        caller.wait(before + 1, seconds=2)
        check(len(caller.replies) == before, "requests that cannot be answered get no reply")

        text = ""
        end = time.time() + 10
        while time.time() < end:
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=5).read().decode()
            if metric(text, "chord_requests_refused_total", transport="amqp", reason="no_reply_to") >= 1:
                break
            time.sleep(0.2)
        check(metric(text, "chord_requests_refused_total", transport="amqp", reason="no_correlation_id") == 3,
              "/metrics counts the 3 requests without correlation_id")
        check(metric(text, "chord_requests_refused_total", transport="amqp", reason="no_reply_to") == 1,
              "/metrics counts the request without reply_to")
        log = open(os.path.join(ring.workdir, "node-%s.log" % queue.rsplit("-", 1)[1])).read()
        check(log.count("cannot be answered") == 1, "the log names the first unanswerable request, once a minute")
        caller.conn.close()
    finally:
        ring.stop()
    check.finish("amqp client from proto", ring.workdir)


if __name__ == "__main__":
    main()
