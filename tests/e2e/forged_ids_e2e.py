#!/usr/bin/python3
"""Ids that cannot be chosen, on gRPC (stubs generated from proto/ alone), REST (plain HTTP) and
AMQP (pika, messages from proto/ alone):
a node's id must be the SHA-1 of its URI. A forged Notify naming an id that is not the hash of
its URI is refused (INVALID_ARGUMENT / 400); one whose id is the hash of a URI where nothing
answers is refused too (UNAVAILABLE / 502: the node asks the candidate at that URI before it
hands it a key range); either way the node keeps its predecessor. A forged Leave naming such a
node is refused. Real nodes still form a ring and move values. (AMQP: Status codes
invalid_argument and unavailable.)"""
import argparse
import base64
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from checks import Checks  # noqa: E402
from cluster_key_e2e import Outsider  # noqa: E402
from grpc_client_from_proto import grpc_and_stubs  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402


def sha1(uri):
    return hashlib.sha1(uri.encode()).digest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    grpc, pb, rpc = grpc_and_stubs()
    check = Checks()

    for transport in ("grpc", "rest", "amqp"):
        ring = Ring(args.binary, transport)
        try:
            uris = ring.start(1)
            target = uris[0]
            scheme = target.split("://")[0]
            nowhere = "%s://127.0.0.1:1" % scheme  # nothing listens on port 1
            if transport == "amqp":  # a queue nobody consumes: the broker returns what is sent to it
                nowhere = "amqp://%s/nobody-%d" % (ring.broker, os.getpid())
                outsider = Outsider("amqp", target, pb, ring.broker)
            forgeries = [("an id that is not the hash of its URI", bytes(19) + b"\x01", nowhere, "INVALID_ARGUMENT", 400),
                         ("the hash of a URI where nothing answers", sha1(nowhere), nowhere, "UNAVAILABLE", 502)]

            def predecessor():
                return ring.cli_json("ring", "--via", target)["nodes"][0]["predecessor"]

            before = predecessor()
            for what, node_id, uri, code, status in forgeries:
                if transport == "amqp":
                    got, detail = outsider.call("Notify", pb.NotifyRequest(candidate=pb.Node(id=node_id, uri=uri)))
                    check(got == code.lower(), "amqp: a forged Notify (%s): %s %s" % (what, got, detail))
                elif transport == "grpc":
                    stub = rpc.ChordStub(grpc.insecure_channel(target[len("grpc://"):]))
                    try:
                        stub.Notify(pb.NotifyRequest(candidate=pb.Node(id=node_id, uri=uri)), timeout=10)
                        check(False, "grpc: a forged Notify (%s) was accepted" % what)
                    except grpc.RpcError as e:
                        check(e.code().name == code, "grpc: a forged Notify (%s): %s %s" % (what, e.code().name, e.details()))
                else:
                    body = json.dumps({"candidate": {"id": base64.b64encode(node_id).decode(), "uri": uri}}).encode()
                    req = urllib.request.Request(target + "/chord.v1.Chord/Notify", data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                    try:
                        urllib.request.urlopen(req, timeout=10)
                        check(False, "rest: a forged Notify (%s) was accepted" % what)
                    except urllib.error.HTTPError as e:
                        check(e.code == status, "rest: a forged Notify (%s): %d %s" % (what, e.code, e.read()[:200]))
                check(predecessor() == before, "%s: the node keeps its predecessor (%s)" % (transport, before))

            leave = {"leaving": {"id": base64.b64encode(bytes(19) + b"\x02").decode(), "uri": nowhere}}
            if transport == "amqp":
                got, detail = outsider.call("Leave", pb.LeaveRequest(leaving=pb.Node(id=bytes(19) + b"\x02", uri=nowhere)))
                check(got == "invalid_argument", "amqp: a forged Leave: %s %s" % (got, detail))
            elif transport == "grpc":
                stub = rpc.ChordStub(grpc.insecure_channel(target[len("grpc://"):]))
                try:
                    stub.Leave(pb.LeaveRequest(leaving=pb.Node(id=bytes(19) + b"\x02", uri=nowhere)), timeout=10)
                    check(False, "grpc: a forged Leave was accepted")
                except grpc.RpcError as e:
                    check(e.code().name == "INVALID_ARGUMENT", "grpc: a forged Leave: %s" % e.code().name)
            else:
                req = urllib.request.Request(target + "/chord.v1.Chord/Leave", data=json.dumps(leave).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
                try:
                    urllib.request.urlopen(req, timeout=10)
                    check(False, "rest: a forged Leave was accepted")
                except urllib.error.HTTPError as e:
                    check(e.code == 400, "rest: a forged Leave: %d" % e.code)

            # Real nodes, whose ids are the hashes of their URIs, still join and take keys.
            for port in free_ports(3):
                uris.append(ring.start_node(port, join=target))
            check(ring.wait_converged(), "%s: a ring of 4 forms with every id checked" % transport)
            put = ring.cli_json("put", "forged-ids", "--dummy", "10000", "--via", uris[1])
            check(put["copies"] >= 2, "%s: a put is taken by a quorum: %s" % (transport, put))
            held = ring.wait_copies(uris[1], 3)
            check(held == 3, "%s: the put lands on 3 copies (%d)" % (transport, held))
            check(all(n["id"] == hashlib.sha1(n["uri"].encode()).hexdigest() for n in ring.cli_json("ring", "--via", uris[2])["nodes"]),
                  "%s: every node's id is the SHA-1 of its URI" % transport)
        finally:
            ring.stop()
    check.finish("forged ids e2e")


if __name__ == "__main__":
    main()
