#!/usr/bin/env python3
"""Shared folders on one transport, run as a user would: three nodes share folders (serve
--share), `search` finds files by words and by exact name, `fetch` downloads them from a holder
with digests checked, the HTTP API searches and downloads too. A removed file leaves search
within seconds; a holder killed mid-transfer makes fetch go on from another; a file changed while
served ends the transfer with a clear error; a dead holder's entries expire; a leave withdraws
them. Names with '/' or '..' and links out of the folder are neither shared nor served."""
import argparse
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring, free_ports  # noqa: E402

TTL = 9  # seconds: entries are republished every 3 s and a dead holder's expire within 9


def sha(data):
    return hashlib.sha256(data).hexdigest()


def write(folder, name, data):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)
    return sha(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--transport", default="grpc")
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    ring = Ring(args.binary, args.transport)
    check = Checks()
    work = ring.workdir
    folders = [os.path.join(work, "share-%d" % i) for i in range(4)]
    for f in folders:
        os.makedirs(f)
    rnd = __import__("random").Random(17)
    pdf = rnd.randbytes(200 * 1024)
    common = b"the same bytes on three holders\n"
    video = rnd.randbytes(24 << 20)
    digests = {
        "Lecture Notes 2024.pdf": write(folders[0], "Lecture Notes 2024.pdf", pdf),
        "common.txt": write(folders[0], "common.txt", common),
        "big-video.bin": write(folders[1], "big-video.bin", video),
        "notes-v2.txt": write(folders[1], "notes-v2.txt", b"second notes\n"),
        "only-here.txt": write(folders[2], "only-here.txt", b"held by node 2 alone\n"),
        "changing.bin": write(folders[0], "changing.bin", rnd.randbytes(16 << 20)),
    }
    write(folders[1], "common.txt", common)
    write(folders[2], "common.txt", common)
    write(folders[2], "big-video.bin", video)
    write(folders[2], "bad..name", b"a name with two dots\n")
    write(folders[3], "leaver-only.txt", b"shared by the node that leaves\n")
    os.symlink("/etc/hostname", os.path.join(folders[2], "escape"))
    os.symlink("only-here.txt", os.path.join(folders[2], "inside-link.txt"))

    http_port = free_ports(1)[0]
    try:
        uris = ring.start(4, extra_for=lambda i: ["--share", folders[i], "--share-ttl", str(TTL)] +
                          (["--http", "127.0.0.1:%d" % http_port] if i == 0 else []))
        check(ring.wait_converged(), "the ring of 4 converged")

        def search(*words, via=None, tolerant=False):
            r = ring.cli("search", *words, "--via", via or uris[0], "--json", check=False)
            if r.returncode not in (0, 3):
                if tolerant:  # while the ring heals after a crash
                    return None
                raise RuntimeError("search %s: %s" % (words, r.stderr))
            return json.loads(r.stdout)["files"]

        def wait_for(what, predicate, timeout=20):
            end = time.time() + timeout
            while time.time() < end:
                if predicate():
                    return True
                time.sleep(0.2)
            check(False, what)
            return False

        t0 = time.time()
        # Every holder publishes its keys in turn: wait until the last of each is readable.
        expected = {("common",): 3, ("lecture",): 1, ("big", "video"): 2, ("notes", "v2"): 1, ("only", "here"): 1,
                    ("changing",): 1, ("inside", "link"): 1, ("leaver", "only"): 1}
        wait_for("every shared file is listed under each word, with all its holders",
                 lambda: all([len(f["holders"]) for f in search(*q)] == [n] for q, n in expected.items()))
        # And under its name: the records are plain keys. Written while the ring was still
        # forming, one may be out of reach for a moment until hand-off puts it in place.
        wait_for("every file's own record is readable",
                 lambda: all(ring.cli("get", "share:file:" + name, "--via", uris[1], "-o", "/dev/null", check=False).returncode == 0
                             for name in list(digests) + ["inside-link.txt", "leaver-only.txt"]))
        print("every folder published in %.1f s" % (time.time() - t0), flush=True)

        # Words: any case, any order, all of them; exact names.
        found = search("lecture", via=uris[1])
        check([f["name"] for f in found] == ["Lecture Notes 2024.pdf"] and found[0]["sha256"] == digests["Lecture Notes 2024.pdf"]
              and found[0]["size"] == len(pdf) and found[0]["holders"] == [uris[0]], "search by one word: %s" % found)
        check(sorted(f["name"] for f in search("NOTES", via=uris[2])) == ["Lecture Notes 2024.pdf", "notes-v2.txt"],
              "a word matches any case, in every name that has it")
        check([f["name"] for f in search("2024", "notes")] == ["Lecture Notes 2024.pdf"], "several words: all of them")
        check([f["name"] for f in search("notes-v2.txt")] == ["notes-v2.txt"], "an exact name")
        check([f["holders"] for f in search("big-video.bin")] == [sorted([uris[1], uris[2]])], "a file on two holders lists both")
        check([f["name"] for f in search("inside", "link")] == ["inside-link.txt"], "a link inside the folder is shared")
        r = ring.cli("search", "no-such-words-here", "--via", uris[0], check=False)
        check(r.returncode == 3 and "0 files" in r.stdout, "nothing found: exit 3 (%d)" % r.returncode)
        check(search("escape") == [] and search("hostname") == [], "a link that leaves the folder is not shared")
        check(search("bad..name") == [], "a name with '..' is not shared")
        logs = "".join(open(p, errors="replace").read() for p in glob.glob(os.path.join(work, "node-*.log")))
        check("not sharing 'escape'" in logs and "not sharing 'bad..name'" in logs, "the log says what it does not share and why")

        # fetch: from a holder, over its transport, digest-checked.
        for name in ["Lecture Notes 2024.pdf", "common.txt", "notes-v2.txt", "only-here.txt"]:
            out = os.path.join(work, "got-" + name)
            got = ring.cli_json("fetch", name, "-o", out, "--via", uris[1])
            check(got["sha256"] == digests[name] and sha(open(out, "rb").read()) == digests[name] and got["name"] == name,
                  "fetch %s: %s" % (name, got))
        r = ring.cli("fetch", "common.txt", "--via", uris[0], "-o", os.path.join(work, "common-json.txt"), "--json", check=False)
        check(r.returncode == 0 and json.loads(r.stdout)["from"] in uris, "fetch says which holder sent it")
        here = os.path.join(work, "cwd")
        os.makedirs(here)
        r = subprocess.run([args.binary, "fetch", "only-here.txt", "--via", uris[0]], cwd=here, capture_output=True, text=True)
        check(r.returncode == 0 and open(os.path.join(here, "only-here.txt"), "rb").read() == b"held by node 2 alone\n",
              "fetch without -o writes NAME in the current directory")
        for bad in ["../etc/passwd", "a/b", "x" * 256]:
            r = ring.cli("fetch", bad, "--via", uris[0], check=False)
            check(r.returncode == 2 and "name" in r.stderr, "fetch %r refused: %s" % (bad[:20], r.stderr.strip()))
        r = ring.cli("fetch", "no-such-file.txt", "--via", uris[0], check=False)
        check(r.returncode == 3 and "no node shares" in r.stderr, "fetch of an unshared name: exit 3 (%s)" % r.stderr.strip())

        # The server side refuses the same names from any client, and links that leave the folder.
        if args.transport == "rest":
            for key in ["../../etc/passwd", "escape", "bad..name"]:
                req = urllib.request.Request(uris[2] + "/chord.v1.Chord/Fetch", method="POST",
                                             data=json.dumps({"key": key, "role": "ROLE_SHARED"}).encode(),
                                             headers={"Content-Type": "application/json"})
                try:
                    urllib.request.urlopen(req, timeout=10)
                    check(False, "a Fetch of %r with role SHARED was answered" % key)
                except urllib.error.HTTPError as e:
                    body = json.loads(e.read())
                    check(e.code in (400, 404) and body.get("code") in ("invalid_argument", "not_found"),
                          "the REST Fetch of %r refused: %d %s" % (key, e.code, body))

        # The HTTP API: search and download.
        api = "http://127.0.0.1:%d" % http_port
        with urllib.request.urlopen(api + "/v1/search?q=" + urllib.parse.quote("lecture 2024"), timeout=20) as r:
            body = json.loads(r.read())
        check([f["name"] for f in body["files"]] == ["Lecture Notes 2024.pdf"], "GET /v1/search: %s" % body)
        with urllib.request.urlopen(api + "/v1/files/" + urllib.parse.quote("Lecture Notes 2024.pdf"), timeout=20) as r:
            data = r.read()
            disposition = r.headers.get("Content-Disposition", "")
        check(sha(data) == digests["Lecture Notes 2024.pdf"] and "Lecture%20Notes%202024.pdf" in disposition,
              "GET /v1/files/NAME downloads it, named (%s)" % disposition)
        head = urllib.request.Request(api + "/v1/files/" + urllib.parse.quote("Lecture Notes 2024.pdf"), method="HEAD")
        with urllib.request.urlopen(head, timeout=20) as r:
            check(r.read() == b"" and r.headers.get("Content-Length") == str(len(pdf)) and
                  r.headers.get("X-Content-SHA256") == digests["Lecture Notes 2024.pdf"],
                  "HEAD /v1/files/NAME: the size and digest, no body")
        try:
            urllib.request.urlopen(api + "/v1/files/..%2Fetc%2Fpasswd", timeout=20)
            check(False, "GET /v1/files/../etc/passwd answered")
        except urllib.error.HTTPError as e:
            check(e.code == 400, "GET /v1/files/..%%2Fetc%%2Fpasswd: 400 (%d)" % e.code)
        with urllib.request.urlopen(api + "/", timeout=20) as r:
            page = r.read().decode()
        check('id="search"' in page and "/v1/search" in page and "/v1/files/" in page, "the ring page has a search box and download links")

        # A removed file leaves search within a few seconds.
        os.unlink(os.path.join(folders[1], "notes-v2.txt"))
        t0 = time.time()
        if wait_for("a removed file left search", lambda: search("notes-v2.txt") == [], timeout=10):
            print("a removed file left search in %.1f s" % (time.time() - t0), flush=True)

        # A file that changes while it is served: the transfer ends with a clear error.
        out = os.path.join(work, "changing.out")
        p = subprocess.Popen([args.binary, "fetch", "changing.bin", "-o", out, "--via", uris[1], "--limit-rate", "8MiB"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.7)
        with open(os.path.join(folders[0], "changing.bin"), "ab") as f:
            f.write(b"appended while it was served")
        stdout, stderr = p.communicate(timeout=60)
        check(p.returncode != 0 and "changed" in stderr and not os.path.exists(out),
              "a file changed mid-transfer ends it with an error and no output: %d %s" % (p.returncode, stderr.strip()[-300:]))

        # A leave withdraws the leaver's entries before it goes.
        check([f["holders"] for f in search("leaver")] == [[uris[3]]], "node 3's file is listed")
        ring.signal(uris[3], signal.SIGTERM)
        check(ring.wait_exit(uris[3]) == 0, "node 3 left")
        check(search("leaver") == [], "a node that left took its entries with it")

        # A holder killed mid-transfer: fetch goes on from the other one.
        out = os.path.join(work, "video.out")
        p = subprocess.Popen([args.binary, "fetch", "big-video.bin", "-o", out, "--via", uris[0], "--limit-rate", "8MiB", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = p.stderr.readline()
        serving = next((u for u in uris if first.rstrip().endswith(" from " + u)), None)
        check(serving in (uris[1], uris[2]), "fetch names the holder it starts with: %r" % first)
        time.sleep(1.0)
        if serving:
            ring.nodes[serving].kill()
            ring.nodes[serving].wait()
        stdout, stderr = p.communicate(timeout=60)
        other = uris[2] if serving == uris[1] else uris[1]
        got = json.loads(stdout) if p.returncode == 0 else {}
        check(p.returncode == 0 and got.get("from") == other and sha(open(out, "rb").read()) == digests["big-video.bin"],
              "the fetch went on from %s and the file is whole: %d %s %s" % (other, p.returncode, got, stderr.strip()[-300:]))
        check("going on from %s at byte" % other in stderr, "it says it resumed from the other holder: %s" % stderr.strip()[-300:])

        # The killed holder's entries expire.
        alive = [u for u in uris[:3] if u != serving]
        t0 = time.time()
        if wait_for("the killed holder dropped out of search",
                    lambda: (lambda found: found is not None and
                             all(serving not in f["holders"] for f in found))(search("common", via=alive[0], tolerant=True)),
                    timeout=TTL + 10):
            print("a killed holder left search in %.1f s (TTL %d s)" % (time.time() - t0, TTL), flush=True)
    finally:
        ring.stop()
    check.finish("share e2e (%s)" % args.transport, work)


if __name__ == "__main__":
    main()
