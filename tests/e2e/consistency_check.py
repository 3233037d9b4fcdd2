#!/usr/bin/env python3
"""The deterministic fault checker of the ring's data (`chordnode simulate --consistency N`):
with majority quorums (W = R = 2 of 3) no read in N schedules of puts, overwrites, conditional
puts and deletes under crashes, restarts from disk, pauses, leaves and rejoins, and live nodes
suspecting live successors after a missed deadline or a refused call, may return an older
version than one acknowledged, or a key after its acknowledged delete, and no conditional put is
accepted against a version older than one acknowledged; the same seed gives the same run; and with R = 1
(W + R <= k) the checker does find stale reads, so it is able to fail, and the schedule a violation
names replays alone (--first-schedule). Such reads are rare (about one schedule in a thousand), so
that run is long; the sanitizer tree skips it (--weak-schedules 0)."""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402


def run(binary, schedules, seed, *extra):
    r = subprocess.run([binary, "simulate", "--nodes", "8", "--consistency", str(schedules), "--seed", str(seed),
                        "--json", *extra], capture_output=True, text=True, timeout=1800)
    return r.returncode, json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--schedules", type=int, default=300)
    ap.add_argument("--weak-schedules", type=int, default=3000)
    args = ap.parse_args()
    check = Checks()
    code, report = run(args.binary, args.schedules, 7)
    print("majority quorums:", json.dumps(report))
    check(code == 0 and report["violations"] == 0, "no read returns less than what was acknowledged: %s" %
          report["first_violations"][:3])
    check(report["gets"] > 10 * args.schedules and report["deletes"] > 3 * args.schedules and
          report["faults"] > args.schedules, "the schedules read, delete and inject faults")
    check(report["conditional"] > 2 * args.schedules and report["leaves"] > args.schedules / 4,
          "the schedules write conditionally and nodes leave and rejoin: %s" % report)
    check(report["suspicions"] > args.schedules / 2, "live nodes suspect live successors: %s" % report)
    check(report["late_writes"] > 0, "paused nodes get writes after their senders gave up: %s" % report)
    again = run(args.binary, args.schedules, 7)[1]
    check(again == report, "the same seed gives the same run")
    if args.weak_schedules > 0:
        code, weak = run(args.binary, args.weak_schedules, 1, "--read-quorum", "1")
        print("R = 1:", json.dumps(weak))
        check(code != 0 and weak["violations"] > 0, "with R = 1 of 3 the checker finds stale reads")
        if weak["first_violations"]:
            # "seed 1 schedule N: ..." names the schedule to replay on its own.
            first = weak["first_violations"][0]
            schedule = int(first.split(":")[0].split()[-1])
            code, replay = run(args.binary, 1, 1, "--read-quorum", "1", "--first-schedule", str(schedule))
            check(code != 0 and replay["schedules"] == 1 and first in replay["first_violations"],
                  "--first-schedule %d replays the violation alone: %s" % (schedule, replay["first_violations"]))
    check.finish("consistency checker")


if __name__ == "__main__":
    main()
