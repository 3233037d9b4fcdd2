#!/usr/bin/python3
"""A gRPC client that nobody here wrote: Python stubs generated from proto/ alone (Debian's
protoc, grpc_python_plugin and python3-grpcio), talking to a real ring over gRPC the way
docs/ARCHITECTURE.md describes the service. It puts a value with Store (key alone: the node
derives key_id), gets it back with Fetch through another node, looks the key up, and checks that
a key_id that does not match the key is refused with INVALID_ARGUMENT and stores nothing."""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring  # noqa: E402


def generate_stubs(out):
    proto_dir = os.path.join(ROOT, "proto")
    subprocess.run(["protoc", "--proto_path=" + proto_dir, "--python_out=" + out, "--grpc_python_out=" + out,
                    "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
                    os.path.join(proto_dir, "chord", "v1", "chord.proto")], check=True)
    sys.path.insert(0, out)


def grpc_and_stubs():
    """grpc, and chord.v1's messages and stubs generated from proto/ alone."""
    try:
        import grpc
    except ImportError:
        sys.exit("FAIL: python3-grpcio is not installed for %s (scripts/install-deps.sh --tests installs it)" % sys.executable)
    generate_stubs(tempfile.mkdtemp(prefix="chordstubs-"))
    from chord.v1 import chord_pb2, chord_pb2_grpc
    return grpc, chord_pb2, chord_pb2_grpc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    grpc, pb, rpc = grpc_and_stubs()

    check = Checks()
    ring = Ring(args.binary, "grpc")
    try:
        uris = ring.start(4)
        check(ring.wait_converged(), "4-node ring converged")
        first = grpc.insecure_channel(uris[0][len("grpc://"):])
        other = grpc.insecure_channel(uris[2][len("grpc://"):])
        a, b = rpc.ChordStub(first), rpc.ChordStub(other)

        value = os.urandom(3 * 1024 * 1024 + 17)
        digest = hashlib.sha256(value).digest()

        def chunks(key, key_id=b""):
            meta = pb.ValueMeta(key=key, key_id=key_id, size=len(value), sha256=digest)
            yield pb.StoreChunk(header=pb.StoreRequest(meta=meta, role=pb.ROLE_CLIENT))
            for at in range(0, len(value), 1 << 20):
                yield pb.StoreChunk(data=value[at:at + (1 << 20)])

        reply = a.Store(chunks("from-python"), timeout=30)
        check(reply.bytes == len(value) and reply.sha256 == digest, "Store with the key alone is accepted")
        check(reply.copies == 3, "and makes 3 copies (%d)" % reply.copies)

        got, header = b"", None
        for chunk in b.Fetch(pb.FetchRequest(key="from-python", role=pb.ROLE_CLIENT), timeout=30):
            if chunk.HasField("header"):
                header = chunk.header
            got += chunk.data
        check(got == value, "Fetch through another node returns the value (%d bytes)" % len(got))
        check(header is not None and header.meta.key_id == hashlib.sha1(b"from-python").digest(),
              "the header carries key_id = SHA-1(key)")

        found = a.Lookup(pb.LookupRequest(key="from-python"), timeout=10)
        check(found.owner.uri in uris and found.key_id == header.meta.key_id,
              "Lookup names a node of the ring as the owner: %s" % found.owner.uri)

        try:
            a.Store(chunks("mismatched", key_id=hashlib.sha1(b"something else").digest()), timeout=30)
            check(False, "a key_id that does not match the key is refused")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT, "a mismatched key_id is INVALID_ARGUMENT (%s)" % e.code())
        try:
            list(b.Fetch(pb.FetchRequest(key="mismatched", role=pb.ROLE_CLIENT), timeout=30))
            check(False, "nothing was stored under the mismatched key")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.NOT_FOUND, "nothing was stored under it (%s)" % e.code())
    finally:
        ring.stop()
    check.finish("gRPC client from proto/", ring.workdir)


if __name__ == "__main__":
    main()
