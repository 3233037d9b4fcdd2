"""What a process costs, from /proc: memory (RSS, PSS, private), threads and CPU time."""
import os


def memory(pid):
    """KiB of RSS, PSS and private dirty memory, and the thread count. RSS counts every page of
    the shared libraries a process touched, though all the nodes of one machine share them: a
    chordnode's RSS is mostly libgrpc, libcrypto and libprotobuf text. PSS divides each shared
    page among the processes that map it; private dirty memory is what the process alone adds."""
    out = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "Threads"):
            out[k] = int(v.split()[0])
    for line in open("/proc/%d/smaps_rollup" % pid):
        k, _, v = line.partition(":")
        if k in ("Pss", "Private_Dirty"):
            out[k] = int(v.split()[0])
    return {"rss": out["VmRSS"], "pss": out["Pss"], "private": out["Private_Dirty"], "threads": out["Threads"]}


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        parts = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        total += int(parts[11]) + int(parts[12])  # utime, stime
    return total / tick
