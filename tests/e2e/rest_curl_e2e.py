#!/usr/bin/env python3
"""The ring API on REST, driven with curl the way docs/API.md documents it: every path
(POST /chord.v1.Chord/<Method>) with a proto3 JSON body, on a ring of 3 REST nodes. A value is
stored in two chunks, fetched by range, listed, synced, and deleted; the neighbour calls answer
from the node's state; and the documented errors come back as documented (405 with Allow, 404,
400 naming an unknown field, the Status body)."""
import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring  # noqa: E402

METHODS = ["Ping", "GetPredecessor", "Notify", "LookupStep", "Leave", "SyncReplicas", "Lookup", "Delete",
           "GetNodeInfo", "ListKeys", "Store", "Fetch"]


def b64(data):
    return base64.b64encode(data).decode()


def curl(uri, method, body=None, verb="POST", headers=()):
    """(status, headers as a dict of lower-case names, parsed JSON body or None)."""
    cmd = ["curl", "-s", "-i", "-X", verb, "--max-time", "10"]
    for h in headers:
        cmd += ["-H", h]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    r = subprocess.run(cmd + ["%s/chord.v1.Chord/%s" % (uri, method)], capture_output=True, timeout=30,
                       input=json.dumps(body).encode() if body is not None else None)
    head, _, payload = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    fields = dict((k.strip().lower(), v.strip()) for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l))
    try:
        data = json.loads(payload) if payload else None
    except ValueError:
        data = payload
    return status, fields, data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    check = Checks()
    ring = Ring(args.binary, "rest")
    try:
        uris = ring.start(3)
        check(ring.wait_converged(), "3-node REST ring converged")
        a = uris[0]
        ids = {u: ring.ready[u]["id"] for u in uris}

        s, _, ping = curl(a, "Ping", {})
        check(s == 200 and base64.b64decode(ping["id"]).hex() == ids[a] and ping["uri"] == a,
              "Ping: the node's id (base64) and URI: %s %s" % (s, ping))

        s, _, nb = curl(a, "GetPredecessor", {})
        succ = [n["uri"] for n in nb.get("successors", [])] if s == 200 else []
        check(s == 200 and nb["predecessor"]["uri"] in uris and succ and set(succ) <= set(uris),
              "GetPredecessor: predecessor and successors are ring members: %s" % nb)

        s, _, notify = curl(a, "Notify", {"candidate": nb["predecessor"]})
        check(s == 200 and isinstance(notify, dict), "Notify by the current predecessor: 200 (%s %s)" % (s, notify))

        key = "docs/curl.bin"
        key_id = hashlib.sha1(key.encode()).digest()
        s, _, step = curl(a, "LookupStep", {"keyId": b64(key_id)})
        check(s == 200 and step.get("nodes") and all(n["uri"] in uris for n in step["nodes"]),
              "LookupStep: nodes of the ring (%s %s)" % (s, step))

        s, _, look = curl(a, "Lookup", {"key": key})
        owner = look.get("owner", {}).get("uri") if s == 200 else None
        check(owner in uris and base64.b64decode(look["keyId"]) == key_id,
              "Lookup: an owner in the ring, keyId = SHA-1(key) (%s %s)" % (s, look))

        value = os.urandom(300000)
        half = len(value) // 2
        meta = {"key": key, "size": str(len(value)), "sha256": b64(hashlib.sha256(value).digest())}
        s1, _, r1 = curl(a, "Store", {"transfer": "curl-1", "offset": "0", "data": b64(value[:half]),
                                      "header": {"meta": meta, "role": "ROLE_CLIENT"}})
        s2, _, r2 = curl(a, "Store", {"transfer": "curl-1", "offset": str(half), "data": b64(value[half:]),
                                      "last": True})
        check(s1 == 200 and r1 == {}, "Store, first chunk: {} (%s %s)" % (s1, r1))
        check(s2 == 200 and r2.get("owner", {}).get("uri") == owner and r2.get("bytes") == str(len(value)) and
              r2.get("copies") == 3, "Store, last chunk: the StoreReply names the owner, bytes, 3 copies: %s" % r2)

        other = [u for u in uris if u != a][0]
        s, _, part = curl(other, "Fetch", {"key": key, "offset": "1000", "length": "5000"})
        check(s == 200 and base64.b64decode(part.get("data", "")) == value[1000:6000] and
              part["header"]["meta"]["size"] == str(len(value)),
              "Fetch of a range through another node: those bytes, and the value's size in the header")

        s, _, listed = curl(owner, "ListKeys", {"limit": 10})
        check(s == 200 and key in [k["key"] for k in listed.get("keys", [])], "ListKeys on the owner lists the key")

        stranger_key = hashlib.sha1(b"nobody has this").digest()
        s, _, sync = curl(owner, "SyncReplicas", {"owner": {"id": b64(bytes.fromhex(ids[owner])), "uri": owner},
                                                  "keys": [{"keyId": b64(stranger_key), "sha256": b64(b"\0" * 32)}]})
        check(s == 200 and b64(stranger_key) in sync.get("missing", []),
              "SyncReplicas: a key the node lacks is named missing (%s %s)" % (s, sync))

        s, _, info = curl(a, "GetNodeInfo", {})
        check(s == 200 and info["self"]["uri"] == a and info["bits"] == 160 and info["transport"] == "rest" and
              len(info.get("fingers", [])) > 0, "GetNodeInfo: self, bits, transport, fingers")

        s, _, deleted = curl(a, "Delete", {"key": key})
        check(s == 200 and deleted.get("existed") is True, "Delete: existed (%s %s)" % (s, deleted))
        s, _, gone = curl(other, "Fetch", {"key": key})
        check(s == 404 and gone.get("code") == "not_found", "Fetch after Delete: 404 not_found (%s %s)" % (s, gone))

        s, _, err = curl(a, "Leave", {"leaving": ping})
        check(s == 400 and err.get("code") == "invalid_argument", "Leave naming the node itself: 400 (%s)" % err)
        s, _, err = curl(a, "Leave", {"leaving": {"id": b64(hashlib.sha1(b"stranger").digest()),
                                                  "uri": "http://127.0.0.1:1"}})
        check(s == 400 and err.get("code") == "invalid_argument", "Leave naming an id that is not the SHA-1 of its URI: 400")
        s, _, _ = curl(a, "Leave", {"leaving": {"id": b64(hashlib.sha1(b"http://127.0.0.1:1").digest()),
                                                "uri": "http://127.0.0.1:1"}})
        check(s == 200, "Leave of a node that is no neighbour: answered, and the ring stays whole")
        check(ring.wait_converged(10), "the ring is still whole after the Leave calls")

        # The documented errors.
        for method in METHODS:
            s, h, _ = curl(a, method, verb="GET")
            check(s == 405 and h.get("allow") == "POST", "GET /chord.v1.Chord/%s: 405 with Allow: POST" % method)
        s, _, err = curl(a, "Frobnicate", {})
        check(s == 404 and err.get("code") == "not_found", "an unknown method: 404 not_found (%s)" % err)
        s, _, err = curl(a, "Lookup", {"key": key, "kee": 1})
        check(s == 400 and "kee" in err.get("message", ""), "an unknown field: 400 naming it (%s)" % err)
        s, _, look2 = curl(a, "Lookup", {"key": key, "key_id": b64(key_id)})
        check(s == 200 and look2["owner"]["uri"] == owner, "snake_case field names are read too")
        s, _, _ = curl(a, "Lookup", {"key": key}, headers=["Chord-Timeout-Ms: 3000"])
        check(s == 200, "Chord-Timeout-Ms is accepted")
    finally:
        ring.stop()
    check.finish("rest curl e2e", ring.workdir)


if __name__ == "__main__":
    main()
