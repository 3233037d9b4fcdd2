#!/usr/bin/env python3
"""The README tests itself: every command block of README.md and docs/API.md is run, or checked,
the way the text around it says it works. A block no handler recognises fails the test, so a new
example cannot land untested.

- synopses (`chordnode serve ...`, `build/chordnode simulate ...`, `bench/*.py ...`) must name
  exactly the options that the command's --help lists (bench scripts: no option they lack);
- the set-up commands exist and CI runs the README's test command;
- the main job's example (examples/local_ring.py --demo, which ./scripts/demo.sh runs after
  installing and building) moves a file and stops cleanly;
- the cluster-at-once loop, with its ports made free, starts 16 nodes that form one ring;
- the curl examples run against a ring this test starts, with its ports put in."""
import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402


def blocks(doc):
    """The indented code blocks of a Markdown file, as lists of lines."""
    out, cur, prev_blank = [], [], True
    for line in open(os.path.join(ROOT, doc)).read().split("\n") + [""]:
        if line.startswith("    ") and (cur or prev_blank):
            cur.append(line[4:])
            continue
        if cur:
            out.append(cur)
            cur = []
        prev_blank = line.strip() == ""
    return out


def help_options(cmd):
    text = subprocess.run(cmd + ["--help"], capture_output=True, text=True, timeout=60).stdout
    return set(re.findall(r"(?:^|[\s,\[])(--[a-z][a-z0-9-]*)", text)) - {"--help"}


def named_options(text):
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", text))


class Docs:
    def __init__(self, binary, check):
        self.binary = binary
        self.check = check
        self.work = tempfile.mkdtemp(prefix="chorddocs-")

    def synopsis(self, text, cmd, exact):
        named, listed = named_options(text), help_options(cmd)
        self.check(named <= listed, "%s: the synopsis names options --help lacks: %s" % (cmd[-1], named - listed))
        if exact:
            self.check(listed <= named, "%s: the synopsis leaves out %s" % (cmd[-1], listed - named))

    def demo(self):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "local_ring.py"), "--nodes", "8",
                            "--transport", "grpc", "--demo", "--binary", self.binary],
                           capture_output=True, text=True, timeout=600)
        self.check(r.returncode == 0, "the main job (local_ring.py --demo) exits 0: %s" % r.stderr[-500:])
        self.check("sha256" in r.stdout.lower() or "bytes" in r.stdout, "the main job reports the file it moved")

    def test_command(self):
        ci = open(os.path.join(ROOT, ".ci", "run")).read()
        self.check("./scripts/test.sh" in ci, "CI runs the README's test command")
        self.check("./scripts/demo.sh" in ci, "CI runs the README's main job as a new user would")
        self.check(os.access(os.path.join(ROOT, "scripts", "test.sh"), os.X_OK), "scripts/test.sh is executable")
        self.check(os.access(os.path.join(ROOT, "scripts", "demo.sh"), os.X_OK), "scripts/demo.sh is executable")

    def package(self, lines):
        """The package block: package.sh is run as written; installing it (apt, systemctl) would
        change this machine, so what the other lines name is checked in the package instead."""
        r = subprocess.run([os.path.join(ROOT, "scripts", "package.sh")], capture_output=True, text=True, timeout=1800)
        deb = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ""
        self.check(deb.endswith(".deb"), "scripts/package.sh names the package it built: %s" % r.stderr[-300:])
        if not deb:
            return
        named = [w for line in lines for w in line.split() if w.endswith(".deb")]
        self.check(named and os.path.realpath(os.path.join(ROOT, named[0])) == os.path.realpath(deb),
                   "the README installs the file package.sh built (%s, %s)" % (named, deb))
        listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True).stdout
        for line in lines:
            for w in line.split():
                if w.startswith("/etc/chordnode/") and not w.endswith("a.toml"):
                    self.check("." + w in listing, "the package holds %s" % w)
                if w.startswith("chordnode@"):
                    self.check("/chordnode@.service" in listing, "the package holds the unit of %s" % w)

    def cluster_loop(self, lines):
        script = "\n".join(lines)
        ports = free_ports(16)
        for i, p in enumerate(range(5001, 5017)):
            script = script.replace("127.0.0.1:%d" % p, "127.0.0.1:%d" % ports[i])
        script = script.replace("$(seq 5001 5016)", " ".join(map(str, ports)))
        script = re.sub(r"(?m)^(\s*)chordnode ", r"\1%s " % self.binary, script)
        out = os.path.join(self.work, "cluster.out")
        with open(out, "w") as f:
            shell = subprocess.Popen(["bash", "-c", script + "\nwait"], stdout=f, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        try:
            end = time.time() + 60
            while time.time() < end and open(out).read().count("ready ") < 16:
                time.sleep(0.2)
            self.check(open(out).read().count("ready ") == 16, "the cluster loop: all 16 nodes are ready")
            ring = Ring(self.binary, "grpc")
            ring.nodes = {"grpc://127.0.0.1:%d" % p: shell for p in ports}
            ring.live = lambda: list(ring.nodes)
            ring.ready = {u: {} for u in ring.nodes}
            self.check(ring.wait_converged(60), "the cluster loop: the 16 nodes form one ring")
        finally:
            os.killpg(shell.pid, signal.SIGTERM)
            shell.wait(timeout=30)

    def curl(self, lines, ring_ports):
        """Runs curl lines with the example's ports replaced by this ring's; returns their outputs."""
        photo = os.path.join(self.work, "photo.jpg")
        with open(photo, "wb") as f:
            f.write(os.urandom(200000))
        outs = []
        command = " ".join(l.rstrip("\\").strip() if l.endswith("\\") else l + "\n" for l in lines)
        for p_doc, p_real in ring_ports.items():
            command = command.replace("127.0.0.1:%d" % p_doc, "127.0.0.1:%d" % p_real)
        for line in filter(None, (c.strip() for c in command.split("\n"))):
            r = subprocess.run(["bash", "-c", line], cwd=self.work, capture_output=True, timeout=60)
            self.check(r.returncode == 0, "%s: exit 0 (%s)" % (line, r.stderr.decode()[-300:]))
            outs.append(r.stdout)
        return photo, outs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    check = Checks()
    d = Docs(os.path.abspath(args.binary), check)

    # A ring for the curl examples: two gRPC nodes with the HTTP API, one REST node.
    ring = Ring(d.binary, "grpc")
    http = free_ports(2)
    try:
        uris = ring.start(2, extra_for=lambda i: ["--http", "127.0.0.1:%d" % http[i]])
        rest_port = free_ports(1)[0]
        ring.start_node(rest_port, join=uris[0], transport="rest")
        check(ring.wait_converged(), "the docs' ring converged")
        ports = {8080: http[0], 8081: http[1], 8001: rest_port}

        handled = 0
        for doc in ("README.md", "docs/API.md"):
            for b in blocks(doc):
                text = "\n".join(b)
                first = b[0]
                handled += 1
                if first == "./scripts/demo.sh":
                    d.demo()
                elif first == "./scripts/test.sh":
                    d.test_command()
                elif first.startswith("chordnode serve "):
                    d.synopsis(text, [d.binary, "serve"], exact=True)
                elif first.startswith("build/chordnode simulate "):
                    d.synopsis(text, [d.binary, "simulate"], exact=True)
                elif first.split()[0] in ("bench/bench.py", "bench/paper.py", "bench/ab.py"):
                    script = os.path.join(ROOT, first.split()[0])
                    d.synopsis(text, [sys.executable, script], exact=False)
                elif first.startswith("# on host A"):
                    # Run across network namespaces by tests/e2e/netns_e2e.py; here: every
                    # option it names is one the binary has.
                    for line in b:
                        if line.startswith("chordnode serve "):
                            d.synopsis(line, [d.binary, "serve"], exact=False)
                        elif line.startswith("chordnode put "):
                            d.synopsis(line, [d.binary, "put"], exact=False)
                elif first.startswith("# node A shares"):
                    # Run as a whole by tests/e2e/share_e2e.py on every transport; here: each
                    # command names only options it has.
                    for line in b[1:]:
                        words = line.split()
                        check(words[0] == "chordnode" and words[1] in ("serve", "search", "fetch"), "%s: %r" % (doc, line))
                        d.synopsis(line, [d.binary, words[1]], exact=False)
                elif first == "scripts/package.sh":
                    d.package(b)
                elif first.startswith("seeds="):
                    d.cluster_loop(b)
                elif first.startswith("curl -X PUT") and "copy.jpg" in text:
                    photo, _ = d.curl(b, ports)
                    copy = os.path.join(d.work, "copy.jpg")
                    check(open(copy, "rb").read() == open(photo, "rb").read(),
                          "%s: the file read back through the other node is the one put" % doc)
                elif first.startswith("curl -X PUT") and "curl -I" in text:
                    photo, outs = d.curl(b, ports)
                    head = outs[-1].decode()
                    check(re.search(r"(?im)^content-length: %d\r?$" % os.path.getsize(photo), head) and
                          re.search(r"(?im)^x-content-sha256: %s\r?$" % hashlib.sha256(open(photo, "rb").read()).hexdigest(),
                                    head), "%s: HEAD answers the value's size and digest: %r" % (doc, head[:300]))
                elif first.startswith("curl -s -X POST") and "/chord.v1.Chord/Lookup" in text:
                    _, outs = d.curl(b, ports)
                    answer = json.loads(outs[-1])
                    check(answer.get("owner", {}).get("uri") in ring.nodes and "keyId" in answer,
                          "%s: Lookup over REST names an owner in proto3 JSON: %s" % (doc, answer))
                else:
                    handled -= 1
                    check(False, "%s: no test runs this block: %r" % (doc, first))
        print("%d command blocks of README.md and docs/API.md run or checked" % handled)
    finally:
        ring.stop()
    check.finish("docs e2e", d.work)


if __name__ == "__main__":
    main()
