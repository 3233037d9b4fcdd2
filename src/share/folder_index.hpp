#pragma once
// The index of a shared folder: its regular files (top level only) with size, modification time
// and SHA-256. Scanning blocks on the disk, so it runs on a pool, and it hashes again only the
// files whose size or modification time changed since the previous scan.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chord/messages.hpp"
#include "chord/result.hpp"

namespace chord::share {

struct SharedFile {
  std::string name;
  std::filesystem::path path;  // inside the folder, symbolic links resolved
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  Digest sha256{};
  bool same_stat(const SharedFile& o) const { return size == o.size && mtime_ns == o.mtime_ns && inode == o.inode; }
};

struct FolderIndex {
  std::map<std::string, SharedFile> files;
  // Entries left out and why (a name that cannot be shared, a link that leaves the folder, a
  // file that could not be read), for the log.
  std::map<std::string, std::string> skipped;
};

// Reads `dir` again; files unchanged since `previous` keep their digest.
Result<FolderIndex> scan_folder(const std::filesystem::path& dir, const FolderIndex& previous);

// Where `name` is inside the folder now, if it is a regular file there: symbolic links are
// followed only while they stay inside it. `root` is the folder's canonical path.
Result<std::filesystem::path> resolve_in_folder(const std::filesystem::path& root, const std::string& name);

}  // namespace chord::share
