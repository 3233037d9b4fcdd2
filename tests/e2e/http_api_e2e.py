#!/usr/bin/env python3
"""The user HTTP API, driven with curl: an 8-node ring (REST by default) with --http on two
nodes. A value put through one node reads back through the other, byte for byte; a missing key
is a 404, an oversized body a 413, malformed input a 400, a wrong method a 405; errors are JSON;
/metrics parses as Prometheus text and counts what was done."""
import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from ringlib import Ring, free_ports  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def curl(*args, data_file=None):
    """Returns (status, headers, body bytes)."""
    cmd = ["curl", "-sS", "-D", "-", "-o", "-", "--max-time", "60", *args]
    if data_file:
        cmd += ["--data-binary", "@" + data_file]
    out = subprocess.run(cmd, capture_output=True, timeout=90).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):  # curl prints the interim 100 Continue too
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, headers, body


def is_json_error(body, code):
    try:
        e = json.loads(body)
    except ValueError:
        return False
    return e.get("code") == code and isinstance(e.get("message"), str) and e["message"] != ""


PROM_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? -?[0-9.eE+-]+|[+-]Inf|NaN$')


def parse_prometheus(text):
    """name{labels} -> value for every sample; raises on a line that is not exposition format."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            if line.startswith("# TYPE") or line.startswith("# HELP") or not line:
                continue
            raise ValueError("bad comment line: %r" % line)
        if not PROM_LINE.match(line):
            raise ValueError("not Prometheus text: %r" % line)
        name, _, value = line.rpartition(" ")
        samples[name] = float(value)
    return samples


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--transport", default="rest")
    args = ap.parse_args()

    ports = free_ports(2)
    http = {0: ports[0], 5: ports[1]}
    ring = Ring(args.binary, args.transport)
    try:
        ring.start(8, extra_for=lambda i: ["--http", "127.0.0.1:%d" % http[i], "--http-max-body", "4MiB"] if i in http else [])
        assert ring.wait_converged(), "the ring did not converge (logs in %s)" % ring.workdir
        a = "http://127.0.0.1:%d" % http[0]
        b = "http://127.0.0.1:%d" % http[5]

        # Put through A, get through B, for a few sizes and awkward keys.
        for i, (key, size) in enumerate([("plain", 10), ("with space/and slash", 1 << 20), ("grüße €", 3 << 20 | 7)]):
            data = random.Random(i).randbytes(size)
            path = os.path.join(ring.workdir, "v%d" % i)
            open(path, "wb").write(data)
            quoted = subprocess.run(["python3", "-c", "import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1], safe=''))", key],
                                    capture_output=True, text=True).stdout.strip()
            st, _, body = curl("-X", "PUT", a + "/v1/keys/" + quoted, data_file=path)
            check(st == 201, "PUT %r: status %d %s" % (key, st, body[:200]))
            if st == 201:
                put = json.loads(body)
                check(put["key"] == key and put["bytes"] == size and put["sha256"] == hashlib.sha256(data).hexdigest(),
                      "PUT %r answer %s" % (key, put))
            st, headers, got = curl(b + "/v1/keys/" + quoted)
            check(st == 200 and got == data, "GET %r through the other node: status %d, %d bytes" % (key, st, len(got)))
            check(headers.get("x-content-sha256") == hashlib.sha256(data).hexdigest(), "GET %r digest header" % key)
            check(st == 200 and put.get("version") and headers.get("etag") == '"%s"' % put["version"],
                  "GET %r: ETag is the version the PUT reported (%r, %r)" % (key, headers.get("etag"), put.get("version")))
            st, _, body = curl(b + "/v1/lookup/" + quoted)
            check(st == 200 and json.loads(body)["key"] == key, "lookup %r" % key)

        # A streamed PUT: the digest up front, the body bigger than what the node would buffer.
        big = random.Random(99).randbytes(6 << 20)
        path = os.path.join(ring.workdir, "big")
        open(path, "wb").write(big)
        digest = hashlib.sha256(big).hexdigest()
        st, _, body = curl("-X", "PUT", "-H", "X-Content-SHA256: " + digest, a + "/v1/keys/streamed", data_file=path)
        check(st == 201, "streamed PUT: %d %s" % (st, body[:200]))
        st, _, got = curl(b + "/v1/keys/streamed")
        check(st == 200 and hashlib.sha256(got).hexdigest() == digest, "streamed value reads back")
        # HEAD: GET's headers (the value's size and digest), no body; curl complains of any body.
        head = subprocess.run(["curl", "-sS", "-I", "--max-time", "30", b + "/v1/keys/streamed"], capture_output=True,
                              timeout=60)
        lines = head.stdout.decode().split("\r\n")
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        check(head.returncode == 0 and lines[0].split()[1] == "200" and hdrs.get("content-length") == str(len(big))
              and hdrs.get("x-content-sha256") == digest and not head.stderr,
              "HEAD on a key: 200, its size and digest, no body: %r %r" % (lines[:1], head.stderr))
        head = subprocess.run(["curl", "-sS", "-I", "--max-time", "30", b + "/v1/keys/never-put"], capture_output=True,
                              timeout=60)
        check(head.stdout.startswith(b"HTTP/1.1 404") and not head.stderr, "HEAD on a missing key: 404, no body")
        st, _, body = curl("-X", "PUT", "-H", "X-Content-SHA256: " + "0" * 64, a + "/v1/keys/lying", data_file=path)
        check(st == 422 and is_json_error(body, "data_loss") and curl(b + "/v1/keys/lying")[0] == 404,
              "a body that does not match its declared digest is refused and not stored (%d %s)" % (st, body[:200]))

        # Errors: status and a JSON body.
        st, _, body = curl(b + "/v1/keys/never-put")
        check(st == 404 and is_json_error(body, "not_found"), "missing key: %d %s" % (st, body))
        # Versions: an overwrite gets a newer one, a delete a newer one still, and the key is gone.
        small = os.path.join(ring.workdir, "small")
        with open(small, "wb") as f:
            f.write(b"first")
        v1 = json.loads(curl("-X", "PUT", a + "/v1/keys/versioned", data_file=small)[2])["version"]
        with open(small, "wb") as f:
            f.write(b"second")
        v2 = json.loads(curl("-X", "PUT", b + "/v1/keys/versioned", data_file=small)[2])["version"]
        st, _, body = curl("-X", "DELETE", a + "/v1/keys/versioned")
        v3 = json.loads(body).get("version", "") if st == 200 else ""
        hlc = lambda v: int(v.split("-")[0]) if v else 0  # noqa: E731
        check(0 < hlc(v1) < hlc(v2) < hlc(v3), "versions grow: put %s, overwrite %s, delete %s" % (v1, v2, v3))
        check(curl(b + "/v1/keys/versioned")[0] == 404, "the deleted key is gone through the other node")

        # Conditional writes: If-Match with the ETag a GET gave, If-None-Match: * to create only.
        st, _, body = curl("-X", "PUT", "-H", "If-None-Match: *", a + "/v1/keys/cas", data_file=small)
        check(st == 201, "create-only PUT of a new key: %d %s" % (st, body))
        st, _, body = curl("-X", "PUT", "-H", "If-None-Match: *", b + "/v1/keys/cas", "--data-binary", "other")
        check(st == 412 and is_json_error(body, "precondition_failed"), "create-only PUT of an existing key: %d %s" % (st, body))
        st, headers, got = curl(b + "/v1/keys/cas")
        etag = headers.get("etag", "")
        check(st == 200 and got == b"second" and etag, "the create-only value stands: %d %r %r" % (st, got, etag))
        st, _, body = curl("-X", "PUT", "-H", "If-Match: " + etag, a + "/v1/keys/cas", "--data-binary", "third")
        new_version = json.loads(body).get("version", "") if st == 201 else ""
        check(st == 201 and new_version and '"%s"' % new_version != etag, "PUT If-Match the current ETag: %d %s" % (st, body))
        st, _, body = curl("-X", "PUT", "-H", "If-Match: " + etag, b + "/v1/keys/cas", "--data-binary", "fourth")
        check(st == 412 and is_json_error(body, "precondition_failed") and b"nothing was changed" in body,
              "PUT If-Match a stale ETag: %d %s" % (st, body))
        st, _, body = curl("-X", "DELETE", "-H", "If-Match: " + etag, b + "/v1/keys/cas")
        check(st == 412 and is_json_error(body, "precondition_failed"), "DELETE If-Match a stale ETag: %d %s" % (st, body))
        check(curl(a + "/v1/keys/cas")[2] == b"third", "the refused writes changed nothing")
        st, _, body = curl("-X", "PUT", "-H", "If-Match: yesterday", a + "/v1/keys/cas", "--data-binary", "x")
        check(st == 400 and is_json_error(body, "invalid_argument"), "a malformed If-Match: %d %s" % (st, body))
        st, _, body = curl("-X", "DELETE", "-H", 'If-Match: "%s"' % new_version, a + "/v1/keys/cas")
        check(st == 200, "DELETE If-Match the current version: %d %s" % (st, body))
        # The CLI: --if-version, exit 5 when the key is not at that version.
        node = ring.live()[2]
        put = ring.cli_json("put", "cas-cli", small, "--via", node, "--if-version", "0")
        r = ring.cli("put", "cas-cli", small, "--via", node, "--if-version", "0", check=False)
        check(r.returncode == 5 and "nothing was changed" in r.stderr, "put --if-version 0 of an existing key: %d %s" % (r.returncode, r.stderr))
        again = ring.cli_json("put", "cas-cli", small, "--via", node, "--if-version", put["version"])
        r = ring.cli("delete", "cas-cli", "--via", node, "--if-version", put["version"], check=False)
        check(r.returncode == 5, "delete --if-version of a stale version: %d %s" % (r.returncode, r.stderr))
        r = ring.cli("put", "cas-cli", small, "--via", node, "--if-version", "not-a-version", check=False)
        check(r.returncode == 1 and "is not a version" in r.stderr, "a malformed --if-version: %d %s" % (r.returncode, r.stderr))
        ring.cli("delete", "cas-cli", "--via", node, "--if-version", again["version"])
        st, _, body = curl("-X", "PUT", a + "/v1/keys/too-big", data_file=path)  # 6 MiB > 4 MiB, no digest
        check(st == 413 and is_json_error(body, "too_large"), "oversized body: %d %s" % (st, body[:200]))
        check(curl(b + "/v1/keys/too-big")[0] == 404, "the oversized value was not stored")
        st, _, body = curl(a + "/v1/keys/%FF%FE")
        check(st == 400 and is_json_error(body, "invalid_argument"), "key that is not UTF-8: %d %s" % (st, body))
        st, _, body = curl("-X", "PUT", "-H", "X-Content-SHA256: xyz", "--data-binary", "v", a + "/v1/keys/k")
        check(st == 400 and is_json_error(body, "invalid_argument"), "malformed digest header: %d %s" % (st, body))
        st, _, body = curl("-X", "PUT", "--data-binary", "v", a + "/v1/keys/")
        check(st == 400, "empty key: %d" % st)
        st, headers, body = curl("-X", "POST", "--data-binary", "v", a + "/v1/keys/k")
        check(st == 405 and headers.get("allow") == "PUT, GET, HEAD, DELETE", "POST on a key: %d, Allow %r"
              % (st, headers.get("allow")))
        st, headers, body = curl("-X", "DELETE", a + "/v1/ring")
        check(st == 405 and headers.get("allow") == "GET, HEAD", "DELETE on the ring: %d, Allow %r"
              % (st, headers.get("allow")))
        st, _, body = curl(a + "/v1/nothing-here")
        check(st == 404 and is_json_error(body, "not_found"), "unknown path: %d" % st)

        # Delete through B: gone everywhere.
        st, _, body = curl("-X", "DELETE", b + "/v1/keys/plain")
        check(st == 200, "DELETE: %d %s" % (st, body))
        check(curl(a + "/v1/keys/plain")[0] == 404, "a deleted key is gone")
        check(curl("-X", "DELETE", b + "/v1/keys/plain")[0] == 404, "deleting it again is a 404")

        # This node's view and the ring walk.
        st, _, body = curl(a + "/v1/ring")
        info = json.loads(body)
        check(st == 200 and info["successors"] and info["fingers"] and "predecessor" in info, "/v1/ring: %s" % body[:200])
        st, _, body = curl(a + "/v1/ring/walk")
        check(st == 200 and len(json.loads(body)["nodes"]) == 8, "/v1/ring/walk lists 8 nodes")
        st, _, body = curl(a + "/v1/keys")
        check(st == 200 and "keys" in json.loads(body), "/v1/keys")

        # Puts in a burst through one node: 24 keys on the 8 arcs of the ring, so that most owners
        # are known from a lookup of their arc a moment before (chord_lookups_total{outcome="cached"}).
        burst = []
        for i in range(24):
            burst += ["-o", "/dev/null", "%s/v1/keys/burst-%d" % (a, i)]  # one curl: one kept connection
        out = subprocess.run(["curl", "-sS", "-w", "%{http_code} ", "-X", "PUT", "--data-binary", "b", "--max-time", "60",
                              *burst], capture_output=True, text=True, timeout=90).stdout.split()
        check(out == ["201"] * 24, "a burst of 24 PUTs: %s" % out)

        # Metrics: valid exposition text that counts what happened.
        st, headers, body = curl(a + "/metrics")
        check(st == 200 and headers.get("content-type", "").startswith("text/plain"), "/metrics status and type")
        try:
            samples = parse_prometheus(body.decode())
        except ValueError as e:
            samples = {}
            check(False, "/metrics does not parse: %s" % e)
        keys = [k for k in samples if k.startswith("chord_rpcs_total{")]
        check(any('direction="out"' in k and 'method="LookupStep"' in k for k in keys), "outgoing LookupStep counted")
        check(any('direction="in"' in k for k in keys), "incoming calls counted")
        check(samples.get("chord_stabilize_rounds_total", 0) > 0, "stabilize rounds counted")
        check(samples.get('chord_lookups_total{outcome="ok"}', 0) >= 3, "lookups counted")
        check(samples.get('chord_lookups_total{outcome="cached"}', 0) >= 1,
              "owners known from a lookup of their arc counted: %s" % samples.get('chord_lookups_total{outcome="cached"}'))
        check("chord_lookup_hops_count" in samples and "chord_keys_stored" in samples and "chord_bytes_stored" in samples
              and "chord_suspected_peers" in samples, "hop histogram and store gauges present")
    finally:
        ring.stop()
    print("http api e2e: %s" % ("FAILED (%d)" % len(failures) if failures else "ok"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
