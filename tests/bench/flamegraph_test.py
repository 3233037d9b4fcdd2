#!/usr/bin/env python3
"""bench/flamegraph.py as its users run it: `perf script` text on stdin, an SVG on stdout and
folded stacks in a file. The input is perf script's format written out by hand (two stacks, one
of them sampled twice, a kernel frame, an unknown frame, template arguments to shorten), so the
test needs no perf and checks exact counts."""
import os
import subprocess
import sys
import tempfile
import xml.dom.minidom

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from checks import Checks  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "flamegraph.py")

SAMPLE = """chordnode 101  10.000001:    3333333 cpu-clock:ppp: 
\t    55d1c2 chord::Node::step+0x12 (/usr/bin/chordnode)
\t    55d1c3 chord::Node::lookup_step(chord::LookupStepRequest const&)+0x40 (/usr/bin/chordnode)
\t    55d1c4 main+0x10 (/usr/bin/chordnode)

chordnode 101  10.000002:    3333333 cpu-clock:ppp: 
\t    55d1c2 chord::Node::step+0x12 (/usr/bin/chordnode)
\t    55d1c3 chord::Node::lookup_step(chord::LookupStepRequest const&)+0x40 (/usr/bin/chordnode)
\t    55d1c4 main+0x10 (/usr/bin/chordnode)

chordnode 101  10.000003:    3333333 cpu-clock:ppp: 
\tffffffff8160e1ea clear_page_erms+0x2a ([kernel.kallsyms])
\t    7f0000 [unknown] ([unknown])
\t    55d1c5 std::vector<chord::NodeRef, std::allocator<chord::NodeRef> >::push_back+0x1 (/usr/bin/chordnode)
\t    55d1c4 main+0x10 (/usr/bin/chordnode)
"""


def main():
    check = Checks()
    work = tempfile.mkdtemp(prefix="chordflame-")
    folded = os.path.join(work, "out.folded")
    r = subprocess.run([sys.executable, SCRIPT, "--title", "test <&> title", "--folded", folded],
                       input=SAMPLE, capture_output=True, text=True)
    check(r.returncode == 0, "flamegraph.py exits 0: %s" % r.stderr.strip())
    lines = dict(line.rsplit(" ", 1) for line in open(folded).read().splitlines())
    check(lines == {"main;chord::Node::lookup_step;chord::Node::step": "2",
                    "main;std::vector<…>::push_back;clear_page_erms": "1"},
          "the stacks are folded root first, counted, shortened, without [unknown]: %s" % lines)
    doc = xml.dom.minidom.parseString(r.stdout)
    titles = [t.firstChild.data for t in doc.getElementsByTagName("title")]
    check("all (3 samples, 100.00%)" in titles, "the root box holds every sample: %s" % titles)
    check("chord::Node::step (2 samples, 66.67%)" in titles, "a function's box has its share: %s" % titles)
    check(any("test <&> title" in (t.firstChild.data if t.firstChild else "")
              for t in doc.getElementsByTagName("text")), "the title is escaped and shown")
    empty = subprocess.run([sys.executable, SCRIPT], input="", capture_output=True, text=True)
    check(empty.returncode != 0 and "no samples" in empty.stderr,
          "no samples is an error that says so: %r" % empty.stderr.strip())
    check.finish("flamegraph.py", work)


if __name__ == "__main__":
    main()
