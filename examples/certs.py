"""Throw-away certificates for TLS rings on 127.0.0.1 (tests, bench), made with the openssl command:
a CA, and certificates it signs for 127.0.0.1 that serve as both server and client."""
import os
import subprocess

# The CA of the test broker's TLS listener (scripts/rabbitmq.sh), which AMQP rings must use.
BROKER_TLS_DIR = os.environ.get("CHORD_RABBITMQ_TLS_DIR", "/tmp/chordnode-rabbitmq-tls")


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(d, name):
    """A self-signed CA in d: (pem, key) paths."""
    pem, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-keyout", key, "-out", pem, "-subj", "/CN=" + name)
    return pem, key


def broker_ca():
    """The test broker's CA (pem, key), or None when no broker with a TLS listener was started here."""
    pem, key = os.path.join(BROKER_TLS_DIR, "ca.pem"), os.path.join(BROKER_TLS_DIR, "ca.key")
    return (pem, key) if os.path.exists(key) else None


def signed(d, name, ca, extensions):
    """A new key and a certificate for it signed by ca (pem, key) with these x509v3 extensions:
    (cert, key) paths; the key mode 600."""
    key, csr, cert = (os.path.join(d, name + ext) for ext in (".key", ".csr", ".pem"))
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=" + name)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write(extensions)
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial", "-days", "2", "-out", cert,
            "-extfile", ext)
    os.chmod(key, 0o600)
    return cert, key


def make_cert(d, name, ca):
    """A certificate for 127.0.0.1, server and client, signed by ca (pem, key): (cert, key) paths."""
    return signed(d, name, ca, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")


def make_intermediate(d, name, ca):
    """A CA signed by ca (pem, key): (pem, key) paths, for certificate chains."""
    return signed(d, name, ca, "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")


def tls_env(cert, key, ca_pem, base=None):
    """An environment in which chordnode finds these files ($CHORD_TLS_*)."""
    return dict(base if base is not None else os.environ, CHORD_TLS_CERT=cert, CHORD_TLS_KEY=key, CHORD_TLS_CA=ca_pem)
