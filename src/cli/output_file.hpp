#pragma once
// Where a command writes a file the user named (`get -o FILE`): a regular file, or a path that
// does not exist yet, is replaced atomically (a temporary file in the same directory, fsync,
// rename, keeping the old file's mode), so a failed or refused transfer leaves it as it was;
// anything else that exists (a device such as /dev/null, a FIFO, a socket) is written straight
// into, never replaced; "-" is stdout; a symbolic link is refused rather than followed.
#include <cstdint>
#include <string>
#include <string_view>

#include "chord/result.hpp"

namespace chord::cli {

class OutputFile {
 public:
  OutputFile() = default;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile();  // an uncommitted temporary file is removed

  Result<void> open(const std::string& path);
  Result<void> write(std::string_view data);
  // Makes the data durable and, for a replaced file, moves it into place.
  Result<void> commit();
  // Whether the target only sees the data at commit (false: it has been written into already).
  bool atomic() const { return !tmp_.empty(); }

 private:
  Error failure(const std::string& what) const;
  std::string path_, tmp_;
  int fd_ = -1;
  bool owned_ = false;  // fd_ is ours to close
};

}  // namespace chord::cli
