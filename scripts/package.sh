#!/usr/bin/env bash
# Builds the Debian package of chordnode (CPack): the binary, its man page and bash completion,
# /etc/chordnode/example.toml and the systemd template unit chordnode@.service. Installs what
# it needs first (as root), builds build/ incrementally; the last line printed is the .deb's path.
#   scripts/package.sh && sudo apt install ./build/chordnode_*.deb
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh" --package
"$root/scripts/build.sh" >/dev/null
# The package's files are what `cmake --install` puts in place, with /usr as prefix.
(cd "$dir" && cpack -G DEB >/dev/null)
ls -t "$dir"/chordnode_*.deb | head -1
