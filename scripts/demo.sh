#!/usr/bin/env bash
# The main job: installs what chordnode needs, builds it, and runs it. For now: the simulator
# builds a 1,000-node ring from real joins and checks 10,000 lookups against the true owners.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" >/dev/null
"$root/build/chordnode" simulate --nodes 1000 --lookups 10000 "$@"
