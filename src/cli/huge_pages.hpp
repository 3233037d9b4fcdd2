#pragma once

namespace chord::cli {

// Starts this process again (same arguments) with glibc's malloc asking the kernel for
// transparent huge pages, unless GLIBC_TUNABLES already says whether to. For the simulator:
// a ring of 10^5 nodes reads half a GiB at random, and with 4 KiB pages nearly every call from
// one node to another also missed the TLB (simulate --nodes 100000 --lookups 100000 on this
// 2-core machine: 74-80 s with small pages, 63 s with huge ones). glibc reads the setting only at
// start. Returns only if the exec failed; the caller goes on with small pages.
void restart_with_huge_pages(char** argv);

}  // namespace chord::cli
