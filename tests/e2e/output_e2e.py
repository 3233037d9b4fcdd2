#!/usr/bin/env python3
"""End to end: `chordnode get KEY -o FILE` writes where the user said, and nowhere else.
- a regular file is replaced with the value, keeping its mode; a failed get leaves it as it was;
- a character device (made with mknod in a temporary directory) is written into and stays a
  device; so does a FIFO, whose reader gets the value;
- `-o -` is stdout; a symbolic link is refused and its target untouched;
- no temporary file is left behind."""
import argparse
import os
import stat
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402
from ringlib import Ring  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    check = Checks()
    ring = Ring(args.binary, "grpc")
    try:
        uris = ring.start(3)
        check(ring.wait_converged(), "3-node ring converged")
        via = uris[1]
        src = os.path.join(ring.workdir, "value.bin")
        data = os.urandom(300000)
        with open(src, "wb") as f:
            f.write(data)
        ring.cli("put", "out-key", src, "--via", uris[0])
        out = os.path.join(ring.workdir, "out")
        os.mkdir(out)

        def get(target, check_rc=True):
            return ring.cli("get", "out-key", "-o", target, "--via", via, check=check_rc)

        # A regular file: replaced, its mode kept.
        reg = os.path.join(out, "regular")
        with open(reg, "wb") as f:
            f.write(b"old")
        os.chmod(reg, 0o640)
        get(reg)
        check(open(reg, "rb").read() == data, "a regular file gets the value")
        check(stat.S_IMODE(os.stat(reg).st_mode) == 0o640, "its mode is kept (%o)" % os.stat(reg).st_mode)

        # A new file gets the usual mode for this umask.
        new = os.path.join(out, "new")
        get(new)
        umask = os.umask(0)
        os.umask(umask)
        check(stat.S_IMODE(os.stat(new).st_mode) == 0o666 & ~umask, "a new file has mode 0666 & ~umask")

        # A failed get changes nothing.
        r = ring.cli("get", "no-such-key", "-o", reg, "--via", via, check=False)
        check(r.returncode == 3, "a missing key exits 3 (%d)" % r.returncode)
        check(open(reg, "rb").read() == data, "and leaves the file as it was")

        # A character device stays a device.
        if os.geteuid() == 0:
            dev = os.path.join(out, "null")
            os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            get(dev)
            check(stat.S_ISCHR(os.lstat(dev).st_mode), "-o into a character device leaves it a device")
        else:
            print("skipped: the character device (mknod needs root)")

        # A FIFO: its reader gets the value, and it stays a FIFO.
        fifo = os.path.join(out, "fifo")
        os.mkfifo(fifo)
        got = {}

        def reader():
            with open(fifo, "rb") as f:
                got["data"] = f.read()

        t = threading.Thread(target=reader)
        t.start()
        get(fifo)
        t.join(timeout=30)
        check(got.get("data") == data, "a FIFO's reader gets the value")
        check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO is still a FIFO")

        # stdout.
        raw = subprocess.run([args.binary, "get", "out-key", "-o", "-", "--via", via], capture_output=True, timeout=60)
        check(raw.returncode == 0 and raw.stdout == data, "-o - writes the value to stdout")

        # A symbolic link is refused; its target is untouched.
        target = os.path.join(out, "target")
        with open(target, "wb") as f:
            f.write(b"keep")
        link = os.path.join(out, "link")
        os.symlink(target, link)
        r = get(link, check_rc=False)
        check(r.returncode != 0 and "symbolic link" in r.stderr, "a symbolic link is refused: %r" % r.stderr.strip())
        check(open(target, "rb").read() == b"keep" and os.path.islink(link), "its target and the link are untouched")

        left = sorted(os.listdir(out))
        check(left == sorted(["regular", "new", "fifo", "target", "link"] + (["null"] if os.geteuid() == 0 else [])),
              "no temporary file is left behind: %s" % left)
    finally:
        ring.stop()
    check.finish("output e2e", ring.workdir)


if __name__ == "__main__":
    main()
