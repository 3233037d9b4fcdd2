#!/usr/bin/env python3
"""An AMQP node under a hostile publisher, through the real broker on 127.0.0.1:
- a 100 MiB request is refused from its content header, answered with Status too_large, counted
  in /metrics, and never raises the node's resident memory by anything near its size;
- the node consumes its queue with acknowledgements and a prefetch limit (as the broker reports
  it), so a flood waits at the broker;
- a flood of queued requests published while the node is paused is answered in full, with the
  node's memory bounded by the prefetch window rather than the flood's size;
- the node still answers afterwards."""
import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from amqp_client_from_proto import Caller, metric, pika_and_messages  # noqa: E402
from checks import Checks  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402
from hostile_load_e2e import rss_kib, small_quarantine  # noqa: E402


class PeakRss:
    """Samples a process's RSS every 20 ms until stopped."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, rss_kib(pid), threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            time.sleep(0.02)

    def done(self):
        self.stop.set()
        self.thread.join()
        return self.peak


def consumers(queue):
    """(ack_required, prefetch_count) of the consumers of queue, as rabbitmqctl lists them."""
    r = subprocess.run(["rabbitmqctl", "-q", "list_consumers", "queue_name", "ack_required", "prefetch_count"],
                       capture_output=True, text=True, timeout=60)
    out = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == queue:
            out.append((parts[1], parts[2]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rss-scale", type=int, default=1, help="memory bounds times this (sanitizer builds)")
    args = ap.parse_args()
    scale = args.rss_scale
    if scale > 1:
        small_quarantine()
    pika, pb = pika_and_messages()
    check = Checks()
    ring = Ring(args.binary, "amqp")
    http = free_ports(1)[0]
    try:
        uri = ring.start(1, extra_for=lambda i: ["--http", "127.0.0.1:%d" % http])[0]
        queue = uri.rsplit("/", 1)[1]
        pid = ring.nodes[uri].pid
        caller = Caller(pika, ring.broker)
        time.sleep(1)

        check(consumers(queue) == [("true", "64")],
              "the node consumes its queue with acks and prefetch 64: %s" % consumers(queue))

        idle = rss_kib(pid)
        sampler = PeakRss(pid)
        big = 100 << 20
        caller.send(queue, "Ping", b"\0" * big, "c-big")
        caller.wait(1, seconds=60)
        peak = sampler.done()
        props, body = caller.reply_to("c-big")
        status = pb.Status.FromString(body) if props is not None and props.type == "Status" else None
        check(status is not None and status.code == "too_large" and str(big) in status.message,
              "a 100 MiB request gets Status too_large naming its size (%s)" % status)
        print("oversized request: idle %d KiB, peak %d KiB" % (idle, peak))
        check(peak - idle < 16 * 1024 * scale, "reading it past raised RSS by %d KiB (bound %d MiB, the request is "
              "100 MiB)" % (peak - idle, 16 * scale))
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http, timeout=5).read().decode()
        check(metric(text, "chord_requests_refused_total", transport="amqp", reason="too_large") == 1,
              "/metrics counts it as refused, too_large")

        # A flood queued while the node cannot take it: 300 requests of 1 MiB each.
        ring.signal(uri, signal.SIGSTOP)
        flood, size = 300, 1 << 20
        junk = b"\xff" * size  # not a Ping: each is answered invalid_argument
        for i in range(flood):
            caller.send(queue, "Ping", junk, "c-flood-%d" % i)
        caller.conn.process_data_events(time_limit=0)
        idle = rss_kib(pid)
        sampler = PeakRss(pid)
        ring.signal(uri, signal.SIGCONT)
        replies = caller.wait(1 + flood, seconds=120)
        peak = sampler.done()
        answered = [b for p, b in replies if p.correlation_id and p.correlation_id.startswith("c-flood-")]
        print("flood of %d x %d bytes: idle %d KiB, peak %d KiB, %d answered" % (flood, size, idle, peak, len(answered)))
        check(len(answered) == flood and all(pb.Status.FromString(b).code == "invalid_argument" for b in answered),
              "every queued request is answered (%d of %d)" % (len(answered), flood))
        check(peak - idle < 160 * 1024 * scale,
              "the flood (%d MiB) raised RSS by %d KiB: the prefetch window, not the queue (bound %d MiB)" %
              (flood * size >> 20, peak - idle, 160 * scale))

        caller.send(queue, "Ping", pb.Empty().SerializeToString(), "c-after")
        caller.wait(2 + flood, seconds=10)
        props, _ = caller.reply_to("c-after")
        check(props is not None and props.type == "Ping", "the node answers a Ping afterwards")
        caller.conn.close()
    finally:
        ring.stop()
    check.finish("hostile amqp", ring.workdir)


if __name__ == "__main__":
    main()
