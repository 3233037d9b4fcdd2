#include "folder_server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "chord/blocking.hpp"
#include "share_name.hpp"

namespace chord::share {

namespace {

// An open file that closes itself: the transfer may end at any co_await.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool same_as_indexed(const struct stat& st, const SharedFile& f) {
  return static_cast<std::uint64_t>(st.st_size) == f.size && static_cast<std::uint64_t>(st.st_ino) == f.inode &&
         static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec == f.mtime_ns;
}

}  // namespace

FolderServer::FolderServer(std::filesystem::path dir, NodeRef self, Ring ring, std::size_t chunk_bytes)
    : dir_(std::move(dir)), self_(std::move(self)), ring_(ring), chunk_bytes_(chunk_bytes) {}

FolderServer::~FolderServer() { pool_.join(); }

asio::awaitable<Result<FetchReply>> FolderServer::serve(const FetchRequest& req, ChunkSink& sink, Timeout) {
  if (auto ok = check_name(req.key); !ok) co_return ok.error();
  const auto index = index_;  // this transfer keeps the index it started with
  auto found = index->files.find(req.key);
  if (found == index->files.end())
    co_return make_error(Errc::not_found, fmt::format("'{}' is not shared by {}", req.key, self_.uri));
  const SharedFile& file = found->second;
  if (req.offset > file.size)
    co_return make_error(Errc::invalid_argument, fmt::format("offset {} is past the end of '{}' ({} bytes)", req.offset, req.key, file.size));
  const std::uint64_t end = req.length ? std::min(file.size, req.offset + std::min(*req.length, file.size)) : file.size;
  const auto dir = dir_;
  const std::string name = req.key;
  // Opened where the index found it, and only if it is still the file that was indexed.
  // The calls are named: a temporary with a non-trivial destructor inside co_await is a g++ 12 hazard.
  auto open = [dir, name, file]() -> Result<Fd> {
    auto path = resolve_in_folder(dir, name);
    if (!path) return path.error();
    Fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.fd < 0) return make_error(Errc::not_found, fmt::format("'{}': {}", name, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0 || !same_as_indexed(st, file))
      return make_error(Errc::conflict, fmt::format("'{}' changed since it was indexed; ask another holder", name));
    return fd;
  };
  auto opened = co_await run_blocking(&pool_, std::move(open));
  if (!opened) co_return opened.error();
  auto fd = std::make_shared<Fd>(std::move(*opened));
  FetchReply header;
  header.meta.key = name;
  header.meta.key_id = ring_.hash(file_key(name));
  header.meta.size = file.size;
  header.meta.sha256 = file.sha256;
  header.holder = self_;
  if (auto r = co_await sink.begin(header); !r) co_return r.error();
  for (std::uint64_t at = req.offset; at < end;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes_, end - at));
    auto read = [fd, at, n, name, file]() -> Result<std::string> {
      std::string buf(n, '\0');
      std::size_t got = 0;
      while (got < n) {
        const auto r = ::pread(fd->fd, buf.data() + got, n - got, static_cast<off_t>(at + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return make_error(Errc::internal, fmt::format("reading '{}': {}", name, std::strerror(errno)));
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
      }
      struct stat st {};
      if (got != n || ::fstat(fd->fd, &st) != 0 || !same_as_indexed(st, file))
        return make_error(Errc::conflict, fmt::format("'{}' changed while it was being served; ask another holder", name));
      return buf;
    };
    auto chunk = co_await run_blocking(&pool_, std::move(read));
    if (!chunk) co_return chunk.error();
    at += n;
    if (auto r = co_await sink.write(std::move(*chunk)); !r) co_return r.error();
  }
  co_return header;
}

}  // namespace chord::share
