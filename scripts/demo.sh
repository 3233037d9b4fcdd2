#!/usr/bin/env bash
# The main job: installs what chordnode needs, builds it, starts an 8-node gRPC ring on
# 127.0.0.1, moves a dummy file through it, looks keys up with their hop counts, prints the
# ring, and stops it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" >/dev/null
exec python3 "$root/examples/local_ring.py" --nodes 8 --transport grpc --demo "$@"
