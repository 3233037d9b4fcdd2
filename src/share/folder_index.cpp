#include "folder_index.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "chord/sha256.hpp"
#include "share_name.hpp"

namespace chord::share {
namespace fs = std::filesystem;

namespace {

Result<Digest> hash_file(const fs::path& path, const struct stat& expected) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return make_error(Errc::internal, fmt::format("open: {}", std::strerror(errno)));
  Sha256 h;
  std::string buf(1 << 20, '\0');
  std::uint64_t total = 0;
  Result<Digest> out = make_error(Errc::internal, "unread");
  for (;;) {
    const auto n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      out = make_error(Errc::internal, fmt::format("read: {}", std::strerror(errno)));
      break;
    }
    if (n == 0) {
      struct stat after {};
      if (::fstat(fd, &after) != 0 || total != static_cast<std::uint64_t>(expected.st_size) ||
          after.st_mtim.tv_sec != expected.st_mtim.tv_sec || after.st_mtim.tv_nsec != expected.st_mtim.tv_nsec)
        out = make_error(Errc::conflict, "it changed while it was being hashed");
      else
        out = h.finish();
      break;
    }
    h.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    total += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return out;
}

}  // namespace

Result<fs::path> resolve_in_folder(const fs::path& root, const std::string& name) {
  if (auto ok = check_name(name); !ok) return ok.error();
  std::error_code ec;
  const auto target = fs::canonical(root / name, ec);
  if (ec) return make_error(Errc::not_found, fmt::format("'{}': {}", name, ec.message()));
  // Inside the folder: the resolved path is root/<one or more parts>, never root itself or above.
  auto rel = target.lexically_relative(root);
  if (rel.empty() || rel.begin()->string() == ".." || rel == ".")
    return make_error(Errc::invalid_argument, fmt::format("'{}' is a link that leaves the shared folder", name));
  if (!fs::is_regular_file(target, ec)) return make_error(Errc::invalid_argument, fmt::format("'{}' is not a regular file", name));
  return target;
}

Result<FolderIndex> scan_folder(const fs::path& dir, const FolderIndex& previous) {
  std::error_code ec;
  const auto root = fs::canonical(dir, ec);  // once, not per file
  if (ec) return make_error(Errc::internal, fmt::format("{}: {}", dir.string(), ec.message()));
  fs::directory_iterator it(root, ec);
  if (ec) return make_error(Errc::internal, fmt::format("{}: {}", dir.string(), ec.message()));
  FolderIndex out;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return make_error(Errc::internal, fmt::format("{}: {}", dir.string(), ec.message()));
    const std::string name = it->path().filename().string();
    if (name.starts_with(".")) continue;  // hidden files, and downloads in progress (.NAME.part)
    if (auto ok = check_name(name); !ok) {
      out.skipped[name] = ok.error().message;
      continue;
    }
    auto path = resolve_in_folder(root, name);
    if (!path) {
      if (path.error().code != Errc::not_found) out.skipped[name] = path.error().message;
      continue;
    }
    struct stat st {};
    if (::stat(path->c_str(), &st) != 0) continue;  // gone since the listing
    SharedFile f{name, *path, static_cast<std::uint64_t>(st.st_size),
                 static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                 static_cast<std::uint64_t>(st.st_ino), {}};
    if (auto was = previous.files.find(name); was != previous.files.end() && was->second.same_stat(f) && was->second.path == f.path) {
      f.sha256 = was->second.sha256;
    } else {
      auto digest = hash_file(f.path, st);
      if (!digest) {
        out.skipped[name] = digest.error().message;
        continue;
      }
      f.sha256 = *digest;
    }
    out.files.emplace(name, std::move(f));
  }
  return out;
}

}  // namespace chord::share
