#!/usr/bin/python3
"""TLS on one transport: a ring whose nodes hold a certificate of a throw-away CA (made here with
openssl; for AMQP, the CA of the test broker's TLS listener, scripts/rabbitmq.sh) and reach one
another at grpcs://, https:// or amqps:// URIs, with both ends' certificates checked.

- A ring of 3 forms over TLS; the CLI, given the same three files by $CHORD_TLS_*, puts and gets
  through it, and the ring lists only TLS URIs.
- A plain-text client is refused: on grpc a plain channel to a node's port, on rest a plain HTTP
  request (curl), on amqp a plain AMQP connection to the broker's TLS port. Nothing is answered.
- A client whose certificate another CA signed, and one that presents none (curl with the CA
  alone), fail the handshake; the CLI says so and exits non-zero.
- A node without the files cannot join a TLS ring, and neither can one whose certificate another
  CA signed: serve exits non-zero and the ring keeps its members.
- serve refuses, with a line naming the problem, a key that is not the certificate's, a
  certificate the CA did not sign, and one or two of the three flags alone.
- On rest, /metrics counts the refused handshakes (reason "tls")."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from checks import Checks  # noqa: E402
from certs import broker_ca, make_ca, make_cert, make_intermediate, tls_env  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402


def port_of(uri):
    return int(uri.split("://", 1)[1].split("/")[0].rsplit(":", 1)[1])


def scenario(binary, transport, check, d):  # noqa: C901 (one ring, one story)
    if transport == "amqp":
        ca = broker_ca()
        if not ca:
            check(False, "amqp: the test broker has no TLS listener and CA: start it with scripts/rabbitmq.sh")
            return
    else:
        ca = make_ca(d, "ring-ca")
    rogue_ca = make_ca(d, "rogue-ca")
    node_cert, node_key = make_cert(d, "node", ca)
    client_cert, client_key = make_cert(d, "client", ca)
    rogue_cert, rogue_key = make_cert(d, "rogue", rogue_ca)
    # Every process of the ring and the CLI find the files in the environment, as a user's would.
    os.environ.update(CHORD_TLS_CERT=node_cert, CHORD_TLS_KEY=node_key, CHORD_TLS_CA=ca[0])
    if transport == "amqp":
        os.environ["CHORD_AMQP_URL"] = "amqps://guest:guest@127.0.0.1:5671/"
        os.environ["CHORD_AMQP_BROKER"] = "127.0.0.1:5671"
    ring = Ring(binary, transport, tls=True)
    http_port = free_ports(1)[0]
    try:
        uris = ring.start(3, extra_for=lambda i: ["--http", "127.0.0.1:%d" % http_port] if i == 0 else [])
        scheme = {"grpc": "grpcs", "rest": "https", "amqp": "amqps"}[transport]
        check(all(u.startswith(scheme + "://") for u in uris), "%s: the nodes are known by %s:// URIs" % (transport, scheme))
        if not check(ring.wait_converged(), "%s: a ring of 3 forms over TLS" % transport):
            return
        nodes = ring.cli_json("ring", "--via", uris[1])["nodes"]
        check(sorted(n["uri"] for n in nodes) == sorted(uris), "%s: the ring lists its 3 TLS URIs" % transport)
        value = os.path.join(d, "value")
        with open(value, "wb") as f:
            f.write(os.urandom(3 << 20))
        env = tls_env(client_cert, client_key, ca[0])
        r = subprocess.run([binary, "put", "over-tls", value, "--via", uris[2], "--json"], capture_output=True,
                           text=True, timeout=60, env=env)
        check(r.returncode == 0 and '"copies":3' in r.stdout.replace(" ", ""),
              "%s: a client with a certificate of the CA puts 3 MiB, 3 copies: %s %s" % (transport, r.stdout, r.stderr))
        out = os.path.join(d, "read")
        r = subprocess.run([binary, "get", "over-tls", "-o", out, "--via", uris[0]], capture_output=True, text=True,
                           timeout=60, env=env)
        check(r.returncode == 0 and open(out, "rb").read() == open(value, "rb").read(),
              "%s: and gets it back whole through another node: %s" % (transport, r.stderr.strip()))

        # Plain text to a TLS endpoint.
        if transport == "grpc":
            from grpc_client_from_proto import grpc_and_stubs
            grpc, pb, rpc = grpc_and_stubs()
            stub = rpc.ChordStub(grpc.insecure_channel("127.0.0.1:%d" % port_of(uris[0])))
            try:
                stub.Ping(pb.Empty(), timeout=3)
                check(False, "grpc: a plain-text gRPC client is refused")
            except grpc.RpcError as e:
                check(e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED),
                      "grpc: a plain-text gRPC client is refused: %s" % e.code())
            read = lambda p: open(p, "rb").read()  # noqa: E731
            for how, cert, key, answered in (("another CA's certificate", rogue_cert, rogue_key, False),
                                             ("a certificate of the CA", client_cert, client_key, True)):
                creds = grpc.ssl_channel_credentials(read(ca[0]), read(key), read(cert))
                stub = rpc.ChordStub(grpc.secure_channel("127.0.0.1:%d" % port_of(uris[0]), creds))
                try:
                    node = stub.Ping(pb.Empty(), timeout=5)
                    check(answered and node.uri == uris[0], "grpc: a gRPC client with %s is answered" % how)
                except grpc.RpcError as e:
                    check(not answered, "grpc: a gRPC client with %s: %s %s" % (how, e.code(), e.details()[:120]))
        elif transport == "rest":
            def ping(scheme, *tls):
                return subprocess.run(["curl", "-sS", "-m", "5", *tls, "-X", "POST", "-H", "Content-Type: application/json",
                                       "-d", "{}", "%s://127.0.0.1:%d/chord.v1.Chord/Ping" % (scheme, port_of(uris[0]))],
                                      capture_output=True, text=True)
            r = ping("http")
            check(r.returncode != 0 and "chord" not in r.stdout.lower(),
                  "rest: a plain-text HTTP request gets no answer: rc %d %r" % (r.returncode, r.stdout[:100]))
            # TLS without a client certificate, or with one of another CA: the server wants its CA's.
            for how, tls, answered in (("no client certificate", [], False),
                                       ("another CA's certificate", ["--cert", rogue_cert, "--key", rogue_key], False),
                                       ("a certificate of the CA", ["--cert", client_cert, "--key", client_key], True)):
                r = ping("https", "--cacert", ca[0], *tls)
                check((r.returncode == 0 and '"uri"' in r.stdout) == answered,
                      "rest: curl with %s is %s: rc %d %s %s" % (how, "answered" if answered else "refused",
                                                                 r.returncode, r.stdout[:100], r.stderr.strip()[:160]))
        else:
            from amqp_client_from_proto import pika_and_messages
            pika, _ = pika_and_messages()
            try:
                conn = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=5671,
                                                                         socket_timeout=5, blocked_connection_timeout=5,
                                                                         connection_attempts=1))
                conn.close()
                check(False, "amqp: a plain-text AMQP connection to the TLS listener is refused")
            except Exception:  # pika raises one of several connection errors: refused, as it should be
                pass
            import ssl
            for how, cert, key, answered in (("another CA's certificate", rogue_cert, rogue_key, False),
                                             ("a certificate of the CA", client_cert, client_key, True)):
                context = ssl.create_default_context(cafile=ca[0])
                context.load_cert_chain(cert, key)
                try:
                    conn = pika.BlockingConnection(pika.ConnectionParameters(
                        host="127.0.0.1", port=5671, ssl_options=pika.SSLOptions(context, "127.0.0.1"),
                        socket_timeout=5, connection_attempts=1))
                    conn.close()
                    check(answered, "amqp: a connection to the broker with %s is refused" % how)
                except Exception as e:
                    check(not answered, "amqp: a connection to the broker with %s: %s" % (how, e))
        # A plain-scheme URI of the same node from the CLI fails, and says where.
        plain = uris[0].replace(scheme + "://", {"grpcs": "grpc", "https": "http", "amqps": "amqp"}[scheme] + "://")
        if transport == "amqp":
            plain = plain.replace(":5671/", ":5672/")
        r = subprocess.run([binary, "lookup", "k", "--via", plain, "--timeout-ms", "3000"], capture_output=True,
                           text=True, timeout=60, env=env)
        if transport != "amqp":
            check(r.returncode != 0, "%s: the CLI over plain text to a TLS node fails: rc %d %s" %
                  (transport, r.returncode, r.stderr.strip()[:160]))

        # Another CA's certificate (trusting that CA, or the ring's), and none at all.
        for how, env_for in (("another CA's certificate and CA", tls_env(rogue_cert, rogue_key, rogue_ca[0])),
                             ("another CA's certificate", tls_env(rogue_cert, rogue_key, ca[0]))):
            r = subprocess.run([binary, "lookup", "k", "--via", uris[0], "--timeout-ms", "3000"], capture_output=True,
                               text=True, timeout=60, env=env_for)
            check(r.returncode != 0, "%s: a client with %s is refused: rc %d %s" %
                  (transport, how, r.returncode, r.stderr.strip()[:200]))
        bare = {k: v for k, v in os.environ.items() if not k.startswith("CHORD_TLS_")}
        r = subprocess.run([binary, "lookup", "k", "--via", uris[0]], capture_output=True, text=True, timeout=60, env=bare)
        check(r.returncode != 0 and "--tls-cert" in r.stderr,
              "%s: the CLI without the files says TLS needs them: rc %d %s" % (transport, r.returncode, r.stderr.strip()))

        # Nodes that cannot join.
        for how, env_for in (("no certificate", bare),
                             ("another CA's certificate and CA", tls_env(rogue_cert, rogue_key, rogue_ca[0])),
                             ("another CA's certificate", tls_env(rogue_cert, rogue_key, ca[0]))):
            port = free_ports(1)[0]
            listen = ring.listen(port)
            cmd = [binary, "serve", "--transport", transport, "--listen", listen, "--join", uris[1],
                   "--stabilize-ms", "100", "--rpc-timeout-ms", "1000"]
            t0 = time.time()
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env_for)
                check(p.returncode != 0 and time.time() - t0 < 15,
                      "%s: a node with %s cannot join: rc %d in %.1f s: %s" %
                      (transport, how, p.returncode, time.time() - t0, p.stderr.strip()[-200:]))
            except subprocess.TimeoutExpired:
                check(False, "%s: a node with %s is still trying to join after 60 s" % (transport, how))
        nodes = ring.cli_json("ring", "--via", uris[0])["nodes"]
        check(sorted(n["uri"] for n in nodes) == sorted(uris), "%s: the ring keeps its 3 members" % transport)

        if transport == "rest":
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http_port, timeout=10).read().decode()
            refused = [line for line in text.splitlines()
                       if line.startswith("chord_requests_refused_total") and 'reason="tls"' in line]
            check(refused and float(refused[0].split()[-1]) >= 2,
                  "rest: /metrics counts the refused handshakes: %s" % refused)
    finally:
        ring.stop()

    # serve's checks of the files, before anything listens.
    port = free_ports(1)[0]
    base = [binary, "serve", "--transport", transport, "--listen", ring.listen(port)]
    cases = [
        ("a key that is not the certificate's", tls_env(node_cert, client_key, ca[0]), "not the key of"),
        ("a certificate another CA signed", tls_env(rogue_cert, rogue_key, ca[0]), "does not chain to"),
    ]
    for how, env, says in cases:
        p = subprocess.run(base, capture_output=True, text=True, timeout=30, env=env)
        check(p.returncode == 2 and says in p.stderr, "%s: serve refuses %s: rc %d %s" %
              (transport, how, p.returncode, p.stderr.strip()))
    if transport != "amqp":
        # Protected mode: a TLS listener takes only holders of the CA's certificates, so a node
        # without a cluster key may listen on every address with TLS, and not without.
        wide = [binary, "serve", "--transport", transport, "--listen", "0.0.0.0:%d" % port]
        p = subprocess.Popen(wide, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=tls_env(node_cert, node_key, ca[0]))
        line = p.stdout.readline()
        p.terminate()
        p.wait(timeout=30)
        check(line.startswith("ready"), "%s: serve with TLS and no key listens on 0.0.0.0: %r" % (transport, line))
        bare = {k: v for k, v in os.environ.items() if not k.startswith("CHORD_TLS_")}
        p = subprocess.run(wide, capture_output=True, text=True, timeout=30, env=bare)
        check(p.returncode == 2 and "--cluster-key" in p.stderr,
              "%s: and without TLS it refuses to: rc %d %s" % (transport, p.returncode, p.stderr.strip()[:120]))
    # A certificate of an intermediate CA, with the intermediate after it in the file: the chain
    # to the ring's CA is complete, and serve starts.
    middle = make_intermediate(d, "intermediate", ca)
    leaf, leaf_key = make_cert(d, "chained", middle)
    chained = os.path.join(d, "chained-full.pem")
    with open(chained, "w") as f:
        f.write(open(leaf).read() + open(middle[0]).read())
    p = subprocess.Popen(base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=tls_env(chained, leaf_key, ca[0]))
    line = p.stdout.readline()
    p.terminate()
    err = p.communicate(timeout=30)[1]
    check(line.startswith("ready"), "%s: serve takes a certificate whose file carries its intermediate CA: %r %s" %
          (transport, line, err.strip()[-200:]))
    p = subprocess.run(base, capture_output=True, text=True, timeout=30, env=tls_env(leaf, leaf_key, ca[0]))
    check(p.returncode == 2 and "does not chain" in p.stderr,
          "%s: and refuses it without the intermediate: rc %d %s" % (transport, p.returncode, p.stderr.strip()[-160:]))
    bare = {k: v for k, v in os.environ.items() if not k.startswith("CHORD_TLS_")}
    p = subprocess.run(base + ["--tls-cert", node_cert], capture_output=True, text=True, timeout=30, env=bare)
    check(p.returncode == 2 and "all three" in p.stderr, "%s: serve refuses --tls-cert alone: rc %d %s" %
          (transport, p.returncode, p.stderr.strip()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--transport", choices=["grpc", "rest", "amqp"], required=True)
    args = ap.parse_args()
    check = Checks()
    d = tempfile.mkdtemp(prefix="chord-tls-")
    try:
        scenario(args.binary, args.transport, check, d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    check.finish("tls %s" % args.transport)


if __name__ == "__main__":
    main()
