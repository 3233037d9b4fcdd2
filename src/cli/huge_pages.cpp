#include "huge_pages.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace chord::cli {

void restart_with_huge_pages(char** argv) {
  const char* set = std::getenv("GLIBC_TUNABLES");
  std::string tunables = set ? set : "";
  // Already set, by an earlier start of this process or by the user: theirs to choose.
  if (tunables.find("glibc.malloc.hugetlb") != std::string::npos) return;
  tunables += (tunables.empty() ? "" : ":") + std::string("glibc.malloc.hugetlb=1");
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
}

}  // namespace chord::cli
