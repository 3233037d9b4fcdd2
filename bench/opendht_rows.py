"""OpenDHT side by side with chordnode: N `dhtnode` processes from Debian's package on 127.0.0.1 (a
network id of their own, no bootstrap outside the machine) and one client through Debian's Python
bindings (python3-opendht) that puts and gets 4 KiB values, one key each, one at a time: the same
load as chordnode's `put 4KiB p50` and `get 4KiB p50` rows of the same run.

OpenDHT keeps each value on the 8 nodes closest to its key and its put returns once they have
stored it; a get returns once the closest nodes have answered. chordnode keeps k = 3 copies and
answers at W = R = 2 of them. Both are the systems' defaults.
"""
import os
import shutil
import sys
import socket
import statistics
import subprocess
import time

from procstat import memory  # bench/, beside this file
from ringlib import stop_processes  # examples/, on the path bench.py sets


def missing():
    """None when OpenDHT can be measured here, else what to install."""
    what = []
    if not shutil.which("dhtnode"):
        what.append("dhtnode")
    try:
        import opendht  # noqa: F401
    except ImportError:
        what.append("python3-opendht")
    if not what:
        return None
    hint = "apt-get install " + " ".join(what)
    # Debian's bindings are for Debian's interpreter; another python3 first on PATH lacks them.
    if "python3-opendht" in what and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        hint += " and run the bench with /usr/bin/python3 (this is %s)" % sys.executable
    return hint


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(nodes, count, size=4096, settle_s=3.0):
    """Starts `nodes` dhtnode processes, puts then gets `count` values of `size` bytes through one
    client; returns p50/p99 in ms of each and how many succeeded, and the nodes' idle RSS, PSS and
    private memory."""
    import opendht as dht
    network = int.from_bytes(os.urandom(3), "big") + 1  # apart from any other OpenDHT network
    ports = [free_udp_port() for _ in range(nodes)]
    procs = []
    client = None
    try:
        for i, port in enumerate(ports):
            cmd = ["dhtnode", "-s", "-n", str(network), "-p", str(port)]
            if i:
                cmd += ["-b", "127.0.0.1:%d" % ports[0]]
            procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        config = dht.DhtConfig()
        config.setNetwork(network)
        client = dht.DhtRunner()
        client.run(port=free_udp_port(), config=config)
        client.bootstrap("127.0.0.1", str(ports[0]))
        time.sleep(settle_s)  # the routing tables fill, as chordnode's ring converges before its rows
        mem = []
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError("dhtnode exited with %s" % p.returncode)
            mem.append(memory(p.pid))
        keys = [dht.InfoHash.get("bench-opendht-%d" % i) for i in range(count)]
        values = [os.urandom(size) for _ in range(count)]
        put_ms, get_ms = [], []
        put_ok = get_ok = 0
        for key, value in zip(keys, values):
            t0 = time.perf_counter()
            ok = client.put(key, dht.Value(value))
            put_ms.append((time.perf_counter() - t0) * 1e3)
            put_ok += 1 if ok else 0
        for key, value in zip(keys, values):
            t0 = time.perf_counter()
            got = client.get(key)
            get_ms.append((time.perf_counter() - t0) * 1e3)
            get_ok += 1 if any(v.data == value for v in got) else 0
        return {"put_p50_ms": round(statistics.median(put_ms), 3), "put_p99_ms": round(percentile(put_ms, 0.99), 3),
                "get_p50_ms": round(statistics.median(get_ms), 3), "get_p99_ms": round(percentile(get_ms, 0.99), 3),
                "put_ok": put_ok, "get_ok": get_ok, "count": count,
                **{"idle_%s_mib" % k: round(max(m[k] for m in mem) / 1024, 1) for k in ("rss", "pss", "private")}}
    finally:
        if client is not None:
            client.join()
        stop_processes(procs, timeout=10)
