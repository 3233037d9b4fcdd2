#include "huge_pages.hpp"

#include <limits.h>
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
  // The binary's own path rather than /proc/self/exe, which would make the process's name "exe"
  // in ps, top and perf.
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return;
  path[n] = '\0';
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  execv(path, argv);
}

}  // namespace chord::cli
