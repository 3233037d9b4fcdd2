#include "output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace chord::cli {

OutputFile::~OutputFile() {
  if (owned_ && fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

Error OutputFile::failure(const std::string& what) const {
  return make_error(Errc::invalid_argument, fmt::format("{}: {}: {}", path_, what, std::strerror(errno)));
}

Result<void> OutputFile::open(const std::string& path) {
  path_ = path;
  if (path == "-") {
    fd_ = STDOUT_FILENO;
    return {};
  }
  struct stat st {};
  const bool exists = ::lstat(path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return failure("cannot look at it");
  if (exists && S_ISLNK(st.st_mode))
    return make_error(Errc::invalid_argument,
                      fmt::format("{} is a symbolic link; name the file it points to, if that is where the value "
                                  "should go",
                                  path));
  if (exists && S_ISDIR(st.st_mode)) return make_error(Errc::invalid_argument, fmt::format("{} is a directory", path));
  if (exists && !S_ISREG(st.st_mode)) {
    // A device, a FIFO or a socket: written into, never replaced (replacing /dev/null with a
    // regular file breaks every program on the machine).
    fd_ = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd_ < 0) return failure("cannot open it for writing");
    owned_ = true;
    return {};
  }
  // A regular file, or none yet: a temporary file beside it, renamed over it at commit.
  const std::filesystem::path target(path);
  const auto dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string pattern = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd_ < 0) return failure("cannot create a temporary file beside it");
  owned_ = true;
  tmp_ = pattern;
  mode_t mode;
  if (exists) {
    mode = st.st_mode & 07777;
  } else {
    const mode_t mask = ::umask(0);  // mkstemp makes 0600; a new file gets what open() would give
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  if (::fchmod(fd_, mode) != 0) return failure("cannot set the temporary file's mode");
  return {};
}

Result<void> OutputFile::write(std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure("write failed");
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> OutputFile::commit() {
  if (tmp_.empty()) return {};  // written straight in: nothing to move
  if (::fsync(fd_) != 0) return failure("fsync failed");
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return failure("cannot move the temporary file into place");
  tmp_.clear();
  // The rename itself survives a crash once the directory is on disk.
  const std::filesystem::path target(path_);
  const auto dir = target.has_parent_path() ? target.parent_path().string() : std::string(".");
  int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d >= 0) {
    ::fsync(d);
    ::close(d);
  }
  return {};
}

}  // namespace chord::cli
