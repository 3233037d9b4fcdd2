#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/corpus/ (committed; run again only to change the seeds):
well-formed inputs of every kind each target reads, from proto/ and the documented formats.
--data-file adds a value file taken from a real node's --data-dir."""
import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def messages(pb):
    from google.protobuf import json_format
    node = pb.Node(id=b"\x01" * 20, uri="grpc://127.0.0.1:5001")
    meta = pb.ValueMeta(key="photos/cat.jpg", key_id=b"\x02" * 20, size=5, sha256=hashlib.sha256(b"hello").digest())
    # The order of kinds() in fuzz_messages.cpp.
    samples = [node, pb.Empty(), pb.Neighbors(predecessor=node, successors=[node, node]),
               pb.NotifyRequest(candidate=node), pb.NotifyReply(), pb.LookupStepRequest(key_id=b"\x03" * 20),
               pb.LookupStepReply(), pb.LookupRequest(key="photos/cat.jpg"), pb.LookupReply(owner=node, hops=2),
               pb.LeaveRequest(leaving=node), pb.NodeInfo(self=node), pb.StoreRequest(meta=meta),
               pb.StoreReply(owner=node, bytes=5, copies=3), pb.FetchRequest(key="photos/cat.jpg", offset=0, length=5),
               pb.FetchReply(meta=meta), pb.DeleteRequest(key="photos/cat.jpg"), pb.DeleteReply(owner=node, existed=True),
               pb.SyncRequest(owner=node), pb.SyncReply(), pb.ListKeysRequest(), pb.ListKeysReply(),
               pb.StoreChunk(transfer="t-1", offset=0, data=b"hello", last=True, header=pb.StoreRequest(meta=meta)),
               pb.FetchChunk(data=b"hello"), pb.Status(code="not_found", message="no such key")]
    for i, m in enumerate(samples):
        write("messages", "%02d-binary" % i, bytes([i]) + m.SerializeToString())
        write("messages", "%02d-json" % i, bytes([0x80 | i]) + json_format.MessageToJson(m).encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-file", help="a .value file from a node's --data-dir")
    args = ap.parse_args()
    out = tempfile.mkdtemp(prefix="chordseeds-")
    proto = os.path.join(ROOT, "proto")
    subprocess.run(["protoc", "--proto_path=" + proto, "--python_out=" + out,
                    os.path.join(proto, "chord", "v1", "chord.proto")], check=True)
    sys.path.insert(0, out)
    from chord.v1 import chord_pb2 as pb
    shutil.rmtree(os.path.join(HERE, "corpus"), ignore_errors=True)
    messages(pb)

    for i, u in enumerate(["grpc://127.0.0.1:5001", "http://localhost:8080", "amqp://127.0.0.1:5672/chord-node-1",
                           "amqp://guest:guest@127.0.0.1:5672/vhost", "inproc://node-3", "http://[::1]:8080",
                           "127.0.0.1:5001", "grpc://127.0.0.1:65535/x"]):
        write("uri", "%02d" % i, u)

    if args.data_file:
        data = open(args.data_file, "rb").read()
        write("data_dir", "value-v2", data)
        write("data_dir", "value-v2-truncated", data[:len(data) // 2])

    toml = open(os.path.join(ROOT, "examples", "node.toml")).read()
    write("config", "node-toml", b"\0" + toml.replace("# ", "").encode())
    write("config", "lists-toml", b"\0" + b'transport = "grpc"\nlisten = ["127.0.0.1:5001"]\njoin = ["a", "b"]\n'
          b'bits = 32\n[serve]\nlog-level = "debug"\ninsecure = true\n')
    write("config", "serve-ini", b"\1[serve]\ntransport=rest\nlisten=127.0.0.1:8001\nbits=16\nvnodes=2\n")

    value = b"hello, ring"
    sha = hashlib.sha256(value).hexdigest()
    http_api = [
        "GET /v1/keys HTTP/1.1\r\nHost: x\r\n\r\n",
        "PUT /v1/keys/photos%%2Fcat.jpg HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(value), value.decode()),
        "PUT /v1/keys/streamed HTTP/1.1\r\nHost: x\r\nX-Content-SHA256: %s\r\nContent-Length: %d\r\n\r\n%s" %
        (sha, len(value), value.decode()),
        "GET /v1/keys/photos/cat.jpg HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\n\r\n",
        "HEAD /v1/keys/photos/cat.jpg HTTP/1.1\r\nHost: x\r\n\r\n",
        "DELETE /v1/keys/photos/cat.jpg HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /v1/lookup/photos/cat.jpg HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /v1/ring HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/ring/walk HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v1/keys/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ]
    for i, r in enumerate(http_api):
        write("http", "api-%02d" % i, b"\0" + r.encode())
    meta = {"key": "k", "size": str(len(value)), "sha256": base64.b64encode(hashlib.sha256(value).digest()).decode()}
    rpcs = [("Ping", {}), ("Lookup", {"key": "photos/cat.jpg"}), ("GetNodeInfo", {}), ("ListKeys", {}),
            ("Store", {"transfer": "t1", "offset": "0", "data": base64.b64encode(value).decode(), "last": True,
                       "header": {"meta": meta, "role": "ROLE_CLIENT"}}),
            ("Fetch", {"key": "k", "offset": "0"}), ("Notify", {"candidate": {"id": "AQ==", "uri": "http://a:1"}}),
            ("Frobnicate", {})]
    for i, (method, body) in enumerate(rpcs):
        b = json.dumps(body)
        write("http", "rest-%02d" % i, b"\1" + ("POST /chord.v1.Chord/%s HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                                "application/json\r\nContent-Length: %d\r\n\r\n%s" %
                                                (method, len(b), b)).encode())


if __name__ == "__main__":
    main()
