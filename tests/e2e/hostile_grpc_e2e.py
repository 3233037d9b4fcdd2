#!/usr/bin/python3
"""A gRPC node whose transfers a peer holds open: with --max-transfers-per-peer 4, four Store
streams that send their header and then nothing take the peer's share; a fifth is refused at once
with RESOURCE_EXHAUSTED (not queued), naming the limit; once the stuck streams end (their
sender gives up, or the node's deadline drops them) the peer can store again. Stubs are
generated from proto/ alone, as a client of the node would."""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from checks import Checks  # noqa: E402
from grpc_client_from_proto import grpc_and_stubs  # noqa: E402
from ringlib import free_ports  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    grpc, pb, rpc = grpc_and_stubs()

    check = Checks()
    port = free_ports(1)[0]
    log = tempfile.NamedTemporaryFile(prefix="hostile-grpc-", suffix=".log", delete=False)
    node = subprocess.Popen([args.binary, "serve", "--transport", "grpc", "--listen", "127.0.0.1:%d" % port,
                             "--rpc-timeout-ms", "5000", "--max-transfers-per-peer", "4"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    release = threading.Event()
    try:
        check(node.stdout.readline().startswith("ready"), "a gRPC node starts")
        stub = rpc.ChordStub(grpc.insecure_channel("127.0.0.1:%d" % port))
        value = b"v" * 4096
        digest = hashlib.sha256(value).digest()

        def chunks(key, stuck=False):
            meta = pb.ValueMeta(key=key, size=len(value), sha256=digest)
            yield pb.StoreChunk(header=pb.StoreRequest(meta=meta, role=pb.ROLE_CLIENT))
            if stuck:
                release.wait(20)
                return
            yield pb.StoreChunk(data=value)

        stuck = [stub.Store.future(chunks("stuck-%d" % i, stuck=True), timeout=30) for i in range(4)]
        time.sleep(1)
        t0 = time.time()
        try:
            stub.Store(chunks("fifth"), timeout=10)
            check(False, "a fifth transfer from the same peer is refused")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "limit per peer" in e.details(),
                  "a fifth transfer: RESOURCE_EXHAUSTED naming the limit (%s: %s)" % (e.code(), e.details()))
            check(time.time() - t0 < 2, "refused at once, not queued (%.2f s)" % (time.time() - t0))
        release.set()
        for f in stuck:
            try:
                f.result(timeout=30)
            except grpc.RpcError:
                pass  # a stream that ended short of its size is refused: fine
        reply = stub.Store(chunks("after"), timeout=10)
        check(reply.bytes == len(value), "once the stuck transfers end, the peer stores again")
    finally:
        release.set()
        node.terminate()
        try:
            node.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node.kill()
    check.finish("hostile grpc", log.name)


if __name__ == "__main__":
    main()
