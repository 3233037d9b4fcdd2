#!/usr/bin/env python3
"""The ring page in headless Chromium: a 5-node ring, the page of one node's --http; every node
must be drawn with its URI as text, a lookup given in the link must draw its path, and a search
given in the link must list a shared file with a download link that serves it. Saves a
screenshot."""
import argparse
import hashlib
import html
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from ringlib import Ring, free_ports  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--virtual-time-budget=5000"]


def chromium(url, *extra):
    profile = tempfile.mkdtemp(prefix="chord-chromium-")
    r = subprocess.run(["chromium", *CHROMIUM_FLAGS, "--user-data-dir=" + profile, *extra, url],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("chromium failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--screenshot", required=True)
    args = ap.parse_args()

    http_port = free_ports(1)[0]
    ring = Ring(args.binary, "grpc")
    failures = []
    try:
        shared = os.path.join(ring.workdir, "shared")
        os.makedirs(shared)
        content = b"a file the page finds and downloads\n"
        with open(os.path.join(shared, "page shared file.txt"), "wb") as f:
            f.write(content)
        uris = ring.start(5, extra_for=lambda i: ["--http", "127.0.0.1:%d" % http_port] if i == 0 else
                          (["--share", shared] if i == 3 else []))
        assert ring.wait_converged(), "the ring did not converge (logs in %s)" % ring.workdir
        ring.cli("put", "page-key", "--dummy", "4096", "--via", uris[2])
        page = "http://127.0.0.1:%d/" % http_port
        for _ in range(100):  # the sharing node publishes once it is in the ring
            if ring.cli("search", "page", "shared", "--via", uris[1], check=False).returncode == 0:
                break
            time.sleep(0.1)

        dom = chromium(page + "#search=page%20shared", "--dump-dom")
        link = re.search(r'<a href="(/v1/files/[^"]+)"[^>]*>page shared file.txt</a>', dom)
        if not link:
            failures.append("the search given in the link lists no download link for the shared file")
        else:
            with urllib.request.urlopen(page.rstrip("/") + html.unescape(link.group(1)), timeout=30) as r:
                if hashlib.sha256(r.read()).digest() != hashlib.sha256(content).digest():
                    failures.append("the page's download link does not serve the shared file")
        if "1 shared file for" not in dom:
            failures.append("the search result has no heading")

        dom = chromium(page + "#key=page-key", "--dump-dom")
        drawn = re.findall(r'<g class="node( self)?" data-uri="([^"]+)"', dom)
        drawn_uris = sorted(u for _, u in drawn)
        if drawn_uris != sorted(uris):
            failures.append("nodes drawn %s, expected %s" % (drawn_uris, sorted(uris)))
        if sum(1 for s, _ in drawn if s) != 1:
            failures.append("the serving node is not marked exactly once")
        for u in uris:
            if ">%s</text>" % u not in dom:
                failures.append("URI %s is not shown as text" % u)
        if '<polyline class="path"' not in dom and "in 0 hops" not in dom:
            failures.append("the lookup of page-key drew no path")
        if not re.search(r"page-key -&gt; \S+ in \d+ hops", dom):
            failures.append("the lookup result is not shown")
        if "5 nodes, seen from " + uris[0] not in dom:
            failures.append("the status line does not count 5 nodes")

        os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
        chromium(page + "#key=page-key", "--window-size=1400,800", "--screenshot=" + os.path.abspath(args.screenshot))
        if not os.path.exists(args.screenshot) or os.path.getsize(args.screenshot) < 10000:
            failures.append("no screenshot at %s" % args.screenshot)
        else:
            print("screenshot: %s" % os.path.abspath(args.screenshot))
    finally:
        ring.stop()
    for f in failures:
        print("FAIL:", f)
    print("page test: %s" % ("FAILED" if failures else "ok"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
