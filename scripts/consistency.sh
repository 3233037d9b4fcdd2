#!/usr/bin/env bash
# The long run of the data checker (CI runs a few hundred schedules): 20,000 schedules of puts,
# overwrites, deletes and gets on an 8-node simulated ring while holders crash, restart from
# their data, pause and leave, and live nodes suspect live successors (a missed deadline or a
# refused call), every read checked against
# what was acknowledged. Extra arguments go to
# `chordnode simulate` (e.g. --seed 2, --replicas 5).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" >/dev/null
exec "$root/build/chordnode" simulate --nodes 8 --consistency "${SCHEDULES:-20000}" "$@"
