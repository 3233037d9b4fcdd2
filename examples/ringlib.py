"""Start, drive and stop a ring of real chordnode processes on 127.0.0.1 (tests and examples)."""
import json
import os
import random
import signal
import socket
import subprocess
import tempfile
import time


_issued = set()  # ports this process has handed out: never twice, even once the node has gone
_pick = random.Random(os.getpid() ^ time.time_ns())


def _listen_range():
    """Ports below the kernel's ephemeral range: an outgoing connection (of a node, a CLI, the
    broker) never takes one between our pick and the node's bind, as it can a port from bind(0)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return (max(1024, low - 16384), low - 1) if low - 1024 >= 4096 else None


def _bindable(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_ports(n):
    """n distinct ports that nothing listens on and that this process has not handed out before."""
    span = _listen_range()
    ports = []
    while len(ports) < n:
        if span:
            port = _pick.randint(*span)
        else:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
        if port not in _issued and _bindable(port):
            _issued.add(port)
            ports.append(port)
    return ports


def stop_processes(procs, timeout=30):
    """SIGTERM to each that runs (a node leaves gracefully), then SIGKILL for one that outlives timeout."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def free_port_blocks(n, size):
    """n starting ports p, each with p..p+size-1 free (a node with --vnodes size uses them all)."""
    found = []
    while len(found) < n:
        base = free_ports(1)[0]
        rest = range(base + 1, base + size)
        if all(p not in _issued and _bindable(p) for p in rest):
            _issued.update(rest)
            found.append(base)
    return found


class Ring:
    def __init__(self, binary, transport="grpc", stabilize_ms=100, workdir=None, extra=(), vnodes=1, tls=False):
        self.binary = binary
        self.tls = tls  # URIs of the TLS schemes (the nodes find their certificates in $CHORD_TLS_*)
        self.transport = transport
        self.stabilize_ms = stabilize_ms
        self.workdir = workdir or tempfile.mkdtemp(prefix="chordring-")
        self.extra = list(extra) + (["--vnodes", str(vnodes)] if vnodes > 1 else [])
        self.vnodes = vnodes
        self.broker = os.environ.get("CHORD_AMQP_BROKER", "127.0.0.1:5672")  # host:port of AMQP node URIs
        self.nodes = {}  # uri -> Popen
        self.ready = {}  # uri -> the fields of the node's ready line (id, uri, http)

    def uri(self, port, transport=None):
        t = (transport or self.transport).split(",")[0]  # a node serving several is known by its first
        scheme = {"grpc": "grpc", "rest": "http", "amqp": "amqp"}[t] + ("s" if self.tls else "")
        if t == "amqp":
            return "%s://%s/%s" % (scheme, self.broker, self.listen(port, t))
        return "%s://127.0.0.1:%d" % (scheme, port)

    def listen(self, port, transport=None):
        """--listen of a node: HOST:PORT, or for AMQP its queue (named after the port, to be unique)."""
        if (transport or self.transport).split(",")[0] == "amqp":
            return "chord-%d-%d" % (os.getpid(), port)
        return "127.0.0.1:%d" % port

    def spawn_node(self, port, join=None, extra=(), transport=None):
        """Starts a node's process without waiting for it: (uri, Popen, log path)."""
        t = transport or self.transport
        uri = self.uri(port, t)
        log = open(os.path.join(self.workdir, "node-%d.log" % port), "w")
        cmd = [self.binary, "serve", "--transport", t, "--listen", self.listen(port, t),
               "--stabilize-ms", str(self.stabilize_ms), "--rpc-timeout-ms", "1000"] + self.extra + list(extra)
        if join:
            cmd += ["--join", join]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        self.nodes[uri] = p
        return uri, p, log.name

    def await_ready(self, uri, p, log):
        line = p.stdout.readline()
        if not line.startswith("ready"):
            p.kill()
            raise RuntimeError("node %s did not start: %r (see %s)" % (uri, line, log))
        self.ready[uri] = dict(kv.split("=", 1) for kv in line.split()[1:])
        return uri

    def start_node(self, port, join=None, extra=(), transport=None):
        return self.await_ready(*self.spawn_node(port, join, extra, transport))

    def start_node_anywhere(self, join=None, extra=(), transport=None, tries=3):
        """start_node on a port of its own choosing: a port that another program took between the
        pick and the node's bind is given up for a fresh one, where a fixed port would fail."""
        for attempt in range(tries):
            port = free_port_blocks(1, self.vnodes)[0]  # a block of one is a single port
            uri, p, log = self.spawn_node(port, join, extra, transport)
            try:
                return self.await_ready(uri, p, log)
            except RuntimeError:
                p.wait()
                del self.nodes[uri]
                with open(log) as f:
                    taken = "in use" in f.read()
                if not taken or attempt == tries - 1:
                    raise

    def start_burst(self, n, seeds_for, extra=()):
        """Starts n nodes in one burst, as a script or an orchestrator does: node i joins through
        seeds_for(i, uris) (a comma list, or None to start the ring), and nobody waits for anyone.
        Returns the URIs and how long the last node took to be ready."""
        ports = free_ports(n)
        uris = [self.uri(p) for p in ports]
        t0 = time.time()
        started = [self.spawn_node(p, join=seeds_for(i, uris), extra=extra) for i, p in enumerate(ports)]
        for s in started:
            self.await_ready(*s)
        return uris, time.time() - t0

    def members(self, uri):
        """The ring URIs of the process started as uri: itself and its virtual nodes."""
        v = self.ready[uri].get("vnodes")
        return [uri] + (v.split(",") if v else [])

    def start(self, n, ports=None, extra_for=lambda i: (), transport_for=None):
        """Starts n nodes; extra_for(i) adds flags to node i (e.g. its --http); transport_for(i)
        picks node i's transport (a mixed ring), else the ring's."""
        pick = transport_for or (lambda i: self.transport)
        uris = []
        for i in range(n):
            # Join through different nodes, not all through the first.
            join = uris[(i * 7) % len(uris)] if uris else None
            if ports:
                uris.append(self.start_node(ports[i], join=join, extra=extra_for(i), transport=pick(i)))
            else:
                uris.append(self.start_node_anywhere(join=join, extra=extra_for(i), transport=pick(i)))
        return uris

    def cli(self, *args, check=True, timeout=120):
        r = subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("chordnode %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
        return r

    def cli_json(self, *args, **kw):
        return json.loads(self.cli(*args, "--json", **kw).stdout)

    def cli_json_lines(self, *args, **kw):
        """A command that prints one JSON object per line (lookup of several keys)."""
        return [json.loads(line) for line in self.cli(*args, "--json", **kw).stdout.splitlines()]

    def owners(self, keys, via_nodes):
        """{key: set of owner URIs that via_nodes name}, one lookup command per node."""
        keys = list(keys)
        named = {k: set() for k in keys}
        for via in via_nodes:
            answers = self.cli_json_lines("lookup", *keys, "--via", via)
            assert [a["key"] for a in answers] == keys, "lookup via %s answered %s" % (via, answers)
            for a in answers:
                named[a["key"]].add(a["owner"]["uri"])
        return named

    def live(self):
        return [u for u, p in self.nodes.items() if p.poll() is None]

    def converged(self, via=None):
        """True when walking successors from via visits every live node once, in id order."""
        live = self.live()
        try:
            ring = self.cli_json("ring", "--via", via or live[0], check=False)
        except (json.JSONDecodeError, RuntimeError):
            return False
        nodes = ring.get("nodes", [])
        expected = sorted(m for u in live for m in self.members(u))
        if sorted(n["uri"] for n in nodes) != expected or "error" in ring:
            return False
        ids = [n["id"] for n in nodes]
        start = ids.index(min(ids))
        rotated = ids[start:] + ids[:start]
        preds_ok = all(nodes[i]["predecessor"] == nodes[i - 1]["uri"] for i in range(len(nodes)))
        return rotated == sorted(ids) and preds_ok

    def wait_converged(self, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if self.converged():
                return True
            time.sleep(0.2)
        return False

    def copies_held(self, via):
        """Copies of values held in the whole ring (owners' and replicas'), as `ring` counts them."""
        ring = self.cli_json("ring", "--via", via, check=False)
        return sum(n.get("keys", 0) for n in ring.get("nodes", []))

    def wait_copies(self, via, expected, timeout=15):
        """Waits until the ring holds exactly `expected` copies; returns the last count. A put is
        acknowledged at W of k copies, so on a busy machine the last copy may land after the
        reply: a test that needs all k waits for them here rather than in the reply. There can
        also be one too many for a moment: an owner whose successor list is a round behind a
        join copies to a node that is no longer among its k-1 successors, replica maintenance
        copies to the one that is, and drops the extra copy a round or two later."""
        end = time.time() + timeout
        held = self.copies_held(via)
        while held != expected and time.time() < end:
            time.sleep(0.3)
            held = self.copies_held(via)
        return held

    def signal(self, uri, sig):
        self.nodes[uri].send_signal(sig)

    def wait_exit(self, uri, timeout=30):
        return self.nodes[uri].wait(timeout=timeout)

    def stop(self):
        stop_processes(list(self.nodes.values()))
