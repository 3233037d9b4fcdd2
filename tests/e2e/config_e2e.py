#!/usr/bin/env python3
"""End to end: `chordnode serve --config FILE` as the README documents it.
- a TOML file that sets every option of serve starts a node that does what each option says;
- a second node takes its seeds from a list in its file, and a flag on the command line
  overrides the file;
- a missing file, an unknown key and a bad value are errors that name the file (and the line);
- examples/node.toml lists every option that `serve --help` shows, and starts a node as it is;
- an INI file works too."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402
from certs import make_ca, make_cert, tls_env  # noqa: E402
from ringlib import Ring, free_port_blocks, free_ports  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def serve_options(binary):
    help_text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout
    return sorted(set(re.findall(r"^\s+(?:-\w,)?--([a-z][a-z0-9-]*)", help_text, re.M)) - {"help", "config"})


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    check = Checks()
    work = tempfile.mkdtemp(prefix="chordconfig-")
    ring = Ring(args.binary, "grpc", workdir=work)
    options = serve_options(args.binary)
    check(len(options) >= 15, "serve --help lists its options (%s)" % options)

    # The shipped example names every option.
    example = open(os.path.join(ROOT, "examples", "node.toml")).read()
    for name in options:
        check(re.search(r"^#? ?%s = " % re.escape(name), example, re.M), "examples/node.toml shows %s" % name)

    a_port, b_port = free_port_blocks(2, 2)
    http_port = free_ports(1)[0]
    data_dir = os.path.join(work, "data-a")
    share_dir = os.path.join(work, "shared-a")
    os.makedirs(share_dir)
    write(os.path.join(share_dir, "config-shared.txt"), "shared through the config file\n")
    key = os.path.join(work, "cluster.key")
    write(key, os.urandom(32).hex())
    os.chmod(key, 0o600)
    token = os.path.join(work, "client.token")
    write(token, os.urandom(16).hex())
    os.chmod(token, 0o600)
    ca = make_ca(work, "ca")
    cert, cert_key = make_cert(work, "node", ca)
    tls_lines = 'tls-cert = "%s"\ntls-key = "%s"\ntls-ca = "%s"\n' % (cert, cert_key, ca[0])
    every = {
        "transport": '"grpc"', "listen": '"127.0.0.1:%d"' % a_port, "advertise": '"grpcs://127.0.0.1:%d"' % a_port,
        "amqp-url": '"amqp://guest:guest@127.0.0.1:5672/"', "join": "[]", "join-timeout": "5", "bits": "32",
        "successors": "4", "replicas": "2", "write-quorum": "2", "read-quorum": "1",
        "tombstone-grace": "3600", "stabilize-ms": "100", "rpc-timeout-ms": "1000",
        "shutdown-timeout": "5", "vnodes": "2", "data-dir": '"%s"' % data_dir, "http": '"127.0.0.1:%d"' % http_port,
        "http-max-body": '"64KiB"', "log-level": '"debug"', "max-connections": "64", "max-transfers-per-peer": "8",
        "share": '"%s"' % share_dir, "share-ttl": "60", "cluster-key": '"%s"' % key, "insecure": "false",
        "client-token": '"%s"' % token, "tls-cert": '"%s"' % cert, "tls-key": '"%s"' % cert_key,
        "tls-ca": '"%s"' % ca[0], "peer-rate": "500",
    }
    check(sorted(every) == options, "the test sets every option: %s" % sorted(set(options) ^ set(every)))
    a_conf = write(os.path.join(work, "a.toml"),
                   "# every option\n" + "".join("%s = %s\n" % kv for kv in every.items()))
    a_log = open(os.path.join(work, "a.log"), "w")
    a = subprocess.Popen([args.binary, "serve", "--config", a_conf], stdout=subprocess.PIPE, stderr=a_log, text=True)
    b = None
    try:
        ready = dict(kv.split("=", 1) for kv in a.stdout.readline().split()[1:])
        a_uri = "grpcs://127.0.0.1:%d" % a_port  # TLS from the file
        check(ready.get("uri") == a_uri, "listen/advertise from the file: %s" % ready)
        check(ready.get("http") == "http://127.0.0.1:%d" % http_port, "http from the file: %s" % ready)
        check(ready.get("vnodes") == "grpcs://127.0.0.1:%d" % (a_port + 1), "vnodes = 2 from the file: %s" % ready)
        check(len(ready.get("id", "")) == 8, "bits = 32: an id of 8 hex digits (%s)" % ready.get("id"))

        # The second node: seeds from a list in its file; --listen on the command line wins.
        b_conf = write(os.path.join(work, "b.toml"),
                       '[serve]\nlisten = "127.0.0.1:1"\njoin = ["grpc://127.0.0.1:1", "%s"]\nbits = 32\n'
                       'stabilize-ms = 100\nreplicas = 2\ncluster-key = "%s"\n%s' % (a_uri, key, tls_lines))
        b = subprocess.Popen([args.binary, "serve", "--config", b_conf, "--listen", "127.0.0.1:%d" % b_port],
                             stdout=subprocess.PIPE, stderr=open(os.path.join(work, "b.log"), "w"), text=True)
        b_ready = b.stdout.readline()
        check("uri=grpcs://127.0.0.1:%d" % b_port in b_ready, "--listen overrides the file: %r" % b_ready)
        ring.nodes = {a_uri: a, "grpcs://127.0.0.1:%d" % b_port: b}
        ring.ready = {a_uri: ready, "grpcs://127.0.0.1:%d" % b_port: {}}
        os.environ.update(tls_env(cert, cert_key, ca[0]))  # the CLI's certificate; the nodes read theirs from the files
        check(ring.wait_converged(), "the two processes (3 nodes) form one ring through the seed list")

        put = ring.cli_json("put", "config-key", "--dummy", "1000", "--via", a_uri, "--token-file", token)
        check(put["copies"] == 2, "replicas = 2 from the file: %d copies" % put["copies"])
        owner = put["owner"]["uri"]
        if owner == a_uri:
            check(len(os.listdir(data_dir)) > 0, "data-dir from the file holds the value")
        status = None
        try:
            req = urllib.request.Request("http://127.0.0.1:%d/v1/keys/big" % http_port, data=b"x" * (100 << 10),
                                         method="PUT", headers={"Authorization": "Bearer " + open(token).read()})
            urllib.request.urlopen(req, timeout=30)
            status = 201
        except urllib.error.HTTPError as e:
            status = e.code
        check(status == 413, "http-max-body = 64KiB from the file: a 100 KiB PUT gets %s" % status)
        shared = []
        for _ in range(50):
            shared = ring.cli_json("search", "config-shared.txt", "--via", a_uri, check=False).get("files", [])
            if shared:
                break
            time.sleep(0.2)
        check([f["holders"] for f in shared] == [[a_uri]], "share from the file: %s" % shared)
        node = json.load(urllib.request.urlopen("http://127.0.0.1:%d/v1/ring" % http_port, timeout=10))
        check(len(node.get("successors", [])) <= 4, "successors = 4 from the file: %d" % len(node.get("successors", [])))
    finally:
        for p in (a, b):
            if p and p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
    a_log.close()
    check(" debug " in open(os.path.join(work, "a.log")).read(), "log-level = debug from the file")

    # Errors name the file and the line.
    def refused(conf, what, expect):
        r = subprocess.run([args.binary, "serve", "--config", conf], capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and expect in r.stderr, "%s: exit 2 and %r in %r" % (what, expect, r.stderr.strip()))

    missing = os.path.join(work, "missing.toml")
    refused(missing, "a missing file", missing + ": cannot read")
    refused(write(os.path.join(work, "typo.toml"), 'listen = "127.0.0.1:1"\n\nlisen = "x"\n'), "an unknown key",
            "typo.toml:3: unknown option 'lisen'")
    refused(write(os.path.join(work, "bad.toml"), 'listen = "127.0.0.1:1"\nbits = 999\n'), "a bad value",
            "bad.toml:2: --bits")

    # The shipped example starts a node as it is (its port taken from the command line here).
    port = free_ports(1)[0]
    r = subprocess.Popen([args.binary, "serve", "--config", os.path.join(ROOT, "examples", "node.toml"),
                          "--listen", "127.0.0.1:%d" % port], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    line = r.stdout.readline()
    r.terminate()
    r.wait(timeout=30)
    check(line.startswith("ready") and ":%d" % port in line, "examples/node.toml starts a node: %r" % line)

    # INI.
    port = free_ports(1)[0]
    ini = write(os.path.join(work, "node.ini"), "; INI\nlisten = 127.0.0.1:%d\nstabilize-ms = 200\n" % port)
    r = subprocess.Popen([args.binary, "serve", "--config", ini], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    line = r.stdout.readline()
    r.terminate()
    r.wait(timeout=30)
    check(line.startswith("ready") and ":%d" % port in line, "an INI file starts a node: %r" % line)
    check.finish("config e2e", work)


if __name__ == "__main__":
    main()
