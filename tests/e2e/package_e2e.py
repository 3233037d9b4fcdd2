#!/usr/bin/env python3
"""scripts/package.sh as a packager runs it: the .deb it names on its last line holds the binary,
the systemd template unit, the example config (as a conffile), the man page and the bash
completion; the packaged binary runs from an extracted tree; the unit is hardened as promised;
the completion completes commands and options."""
import argparse
import gzip
import os
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--build-dir", required=True)
    args = ap.parse_args()
    env = dict(os.environ, BUILD_DIR=args.build_dir)
    r = subprocess.run([os.path.join(args.root, "scripts", "package.sh")], capture_output=True, text=True, env=env,
                       timeout=1800)
    check(r.returncode == 0, "scripts/package.sh exits 0 (%s)" % r.stderr.strip()[-500:])
    deb = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    check(deb.endswith(".deb") and os.path.isfile(deb), "its last line is the package's path: %r" % deb)
    if failures:
        return
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    files = {line.split()[-1] for line in listing.splitlines()}
    for path in ["./usr/bin/chordnode", "./usr/lib/systemd/system/chordnode@.service", "./etc/chordnode/example.toml",
                 "./usr/share/man/man1/chordnode.1.gz", "./usr/share/bash-completion/completions/chordnode"]:
        check(path in files, "dpkg-deb -c lists " + path)
    info = subprocess.run(["dpkg-deb", "-I", deb], capture_output=True, text=True, check=True).stdout
    check("Depends:" in info and "libgrpc++" in info, "Depends names the libraries it links")
    conffiles = subprocess.run(["dpkg-deb", "-I", deb, "conffiles"], capture_output=True, text=True).stdout
    check("/etc/chordnode/example.toml" in conffiles, "the example config is a conffile")

    with tempfile.TemporaryDirectory() as tree:
        subprocess.run(["dpkg-deb", "-x", deb, tree], check=True)
        binary = os.path.join(tree, "usr", "bin", "chordnode")
        v = subprocess.run([binary, "--version"], capture_output=True, text=True)
        check(v.returncode == 0 and v.stdout.strip().startswith("chordnode "), "the packaged binary runs --version: %r" % v.stdout)
        unit = open(os.path.join(tree, "usr", "lib", "systemd", "system", "chordnode@.service")).read()
        for line in ["DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=chordnode/%i",
                     "ExecStart=/usr/bin/chordnode serve --config /etc/chordnode/%i.toml --data-dir /var/lib/chordnode/%i"]:
            check(line in unit.splitlines(), "the unit has " + line)
        # The example config is one `serve --config` takes as it is (every option commented or
        # set to its default): checked by the binary itself.
        example = os.path.join(tree, "etc", "chordnode", "example.toml")
        cfg = subprocess.run([binary, "serve", "--config", example, "--help"], capture_output=True, text=True)
        check(cfg.returncode == 0, "serve --config example.toml parses: %s" % cfg.stderr.strip())
        man = gzip.open(os.path.join(tree, "usr", "share", "man", "man1", "chordnode.1.gz"), "rt").read()
        check(".TH CHORDNODE" in man and ".SS put" in man and "--if-version" in man,
              "the man page has every command's options (put --if-version among them)")
        completion = os.path.join(tree, "usr", "share", "bash-completion", "completions", "chordnode")
        script = 'source "%s"; COMP_WORDS=(chordnode pu); COMP_CWORD=1; _chordnode; echo "${COMPREPLY[*]}"; ' \
                 'COMP_WORDS=(chordnode put --if); COMP_CWORD=2; _chordnode; echo "${COMPREPLY[*]}"' % completion
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout.splitlines()
        check(out[:2] == ["put", "--if-version"], "bash completion completes a command and its option: %r" % out)


if __name__ == "__main__":
    main()
    if failures:
        print("package e2e: FAILED (%d)" % len(failures))
        sys.exit(1)
    print("package e2e: passed")
