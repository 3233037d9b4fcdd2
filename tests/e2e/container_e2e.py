#!/usr/bin/env python3
"""The Containerfile and compose.yaml. Everywhere: every command they run names only options the
binary has, each compose node advertises the name compose gives it, every node joins one that
exists, and published ports bind loopback only. Where a container engine runs (podman, or docker
with a daemon): the image builds, and the compose ring of three forms and moves a value.
Without one the test says so and is skipped (exit 77)."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from checks import Checks  # noqa: E402
from docs_e2e import help_options  # noqa: E402  (the options a command's --help lists)


def engine():
    for name in ("podman", "docker"):
        path = shutil.which(name)
        if path and subprocess.run([path, "info"], capture_output=True, timeout=60).returncode == 0:
            return path
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    check = Checks()

    containerfile = open(os.path.join(ROOT, "Containerfile")).read()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", containerfile, re.M).group(1))
    check(re.search(r'^ENTRYPOINT \["chordnode"\]$', containerfile, re.M), "the image's entry point is chordnode")
    check(cmd[0] == "serve" and set(o for o in cmd if o.startswith("--")) <= help_options([args.binary, "serve"]),
          "the image's default command is a serve with options serve has: %s" % cmd)

    compose = yaml.safe_load(open(os.path.join(ROOT, "compose.yaml")))
    services = compose["services"]
    check(len(services) == 3, "compose runs three nodes")
    for name, svc in services.items():
        c = svc["command"]
        check(c[0] == "serve" and set(o for o in c if o.startswith("--")) <= help_options([args.binary, "serve"]),
              "%s runs serve with options serve has" % name)
        check(c[c.index("--advertise") + 1] == "grpc://%s:7000" % name, "%s advertises its own service name" % name)
        if "--join" in c:
            seeds = c[c.index("--join") + 1].split(",")
            check(all(s.split("//")[1].split(":")[0] in services for s in seeds), "%s joins nodes of the file: %s" % (name, seeds))
        for p in svc.get("ports", []):
            check(p.startswith("127.0.0.1:"), "%s publishes %s on loopback only" % (name, p))

    found = engine()
    if not found:
        if check.failures:
            check.finish("container files", ROOT)
        print("container files: ok; no container engine here (podman, or docker with a daemon): "
              "the image build and the compose ring are skipped")
        sys.exit(77)
    project = "chordtest%d" % os.getpid()
    compose_cmd = [found, "compose", "-p", project, "-f", os.path.join(ROOT, "compose.yaml")]
    try:
        r = subprocess.run(compose_cmd + ["up", "--build", "-d"], cwd=ROOT, capture_output=True, text=True, timeout=3600)
        check(r.returncode == 0, "compose up --build: %s" % r.stderr[-800:])
        ok = False
        for _ in range(120):
            r = subprocess.run(compose_cmd + ["exec", "-T", "node2", "chordnode", "ring", "--via", "grpc://node1:7000", "--json"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode == 0 and len(json.loads(r.stdout).get("nodes", [])) == 3:
                ok = True
                break
            time.sleep(1)
        check(ok, "the compose ring of three formed")
        put = subprocess.run(compose_cmd + ["exec", "-T", "node2", "chordnode", "put", "hello", "/etc/os-release",
                                            "--via", "grpc://node3:7000", "--json"], capture_output=True, text=True, timeout=60)
        got = subprocess.run(compose_cmd + ["exec", "-T", "node3", "chordnode", "get", "hello", "--via", "grpc://node1:7000"],
                             capture_output=True, text=True, timeout=60)
        check(put.returncode == 0 and "Debian" in got.stdout, "a value put through one container reads back through another")
    finally:
        subprocess.run(compose_cmd + ["down", "-t", "5"], cwd=ROOT, capture_output=True, timeout=300)
    check.finish("container e2e", ROOT)


if __name__ == "__main__":
    main()
