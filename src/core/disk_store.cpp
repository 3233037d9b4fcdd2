// A store on disk. Each value (or tombstone) is one file <key id in hex>.value: a fixed binary
// header (magic, key, key id, size, SHA-256, version, tombstone flag) and then the bytes. Files
// of the first format (no version) are read as version zero, older than any write. A write goes to a temporary file that is
// renamed into place only after its size and digest check out, so a crash never leaves a torn
// value; a reader opens its own descriptor, so a later write does not change what it reads.
// The rename is made durable by an fsync of the directory before the write is acknowledged.
// Every call that touches a file runs on the store's own small thread pool (run_blocking): the
// index is shared between it and the node's thread, under a mutex.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chord/sha256.hpp"
#include "chord/store.hpp"
#include "store_range.hpp"
#include "value_check.hpp"

namespace chord {
namespace {

namespace fs = std::filesystem;
constexpr char kMagicV1[8] = {'C', 'H', 'O', 'R', 'D', 'V', '1', '\n'};
constexpr char kMagic[8] = {'C', 'H', 'O', 'R', 'D', 'V', '2', '\n'};
constexpr std::size_t kVersionBytes = 8 + Id::kBytes + 1;  // hlc, writer, deleted
constexpr std::size_t kMaxKey = 1 << 16;

std::string hex_of(const Id& id) { return hex_of_bytes(id.bytes()); }

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

std::string header_of(const ValueMeta& m) {
  std::string h(kMagic, sizeof kMagic);
  put_u64(h, m.key.size());
  h += m.key;
  h += m.key_id.to_bytes();
  put_u64(h, m.size);
  h.append(reinterpret_cast<const char*>(m.sha256.data()), m.sha256.size());
  put_u64(h, m.version.hlc);
  h += m.version.writer.to_bytes();
  h.push_back(m.deleted ? 1 : 0);
  return h;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    auto w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, char* p, std::size_t n, std::uint64_t offset) {
  while (n > 0) {
    auto r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return true;
}

// Reads a value file's header; nullopt if it is not one of ours or is damaged.
std::optional<std::pair<ValueMeta, std::uint64_t>> read_header(int fd) {
  char fixed[16];
  if (!read_all(fd, fixed, sizeof fixed, 0)) return std::nullopt;
  const bool v2 = std::memcmp(fixed, kMagic, sizeof kMagic) == 0;
  if (!v2 && std::memcmp(fixed, kMagicV1, sizeof kMagicV1) != 0) return std::nullopt;
  auto key_len = get_u64(fixed + 8);
  if (key_len > kMaxKey) return std::nullopt;
  std::string rest(key_len + Id::kBytes + 8 + 32 + (v2 ? kVersionBytes : 0), '\0');
  if (!read_all(fd, rest.data(), rest.size(), sizeof fixed)) return std::nullopt;
  ValueMeta m;
  m.key = rest.substr(0, key_len);
  m.key_id = *Id::from_bytes(std::string_view(rest).substr(key_len, Id::kBytes));
  const char* p = rest.data() + key_len + Id::kBytes;
  m.size = get_u64(p);
  std::memcpy(m.sha256.data(), p + 8, 32);
  if (v2) {
    p += 8 + 32;
    m.version.hlc = get_u64(p);
    m.version.writer = *Id::from_bytes(std::string_view(p + 8, Id::kBytes));
    m.deleted = p[8 + Id::kBytes] != 0;
  }
  return std::make_pair(m, sizeof fixed + rest.size());
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

class DiskBlob final : public Blob {
 public:
  DiskBlob(ValueMeta meta, std::uint64_t data_offset, int fd) : meta_(std::move(meta)), offset_(data_offset), fd_(fd) {}
  const ValueMeta& meta() const override { return meta_; }
  Result<std::string> read(std::uint64_t offset, std::size_t length) const override {
    if (offset > meta_.size)
      return make_error(Errc::invalid_argument, fmt::format("offset {} is past the value's {} bytes", offset, meta_.size));
    std::string out(static_cast<std::size_t>(std::min<std::uint64_t>(length, meta_.size - offset)), '\0');
    if (!read_all(fd_.get(), out.data(), out.size(), offset_ + offset))
      return make_error(Errc::internal, fmt::format("cannot read value '{}': {}", meta_.key, std::strerror(errno)));
    return out;
  }

 private:
  ValueMeta meta_;
  std::uint64_t offset_;
  Fd fd_;
};

class DiskStore;

class DiskWriter final : public ValueWriter {
 public:
  DiskWriter(DiskStore& store, const ValueMeta& meta, fs::path tmp, int fd)
      : store_(store), check_(meta), tmp_(std::move(tmp)), fd_(fd) {}
  ~DiskWriter() override {
    if (!committed_) {
      std::error_code ec;
      fs::remove(tmp_, ec);
    }
  }
  Result<void> append(std::string_view chunk) override {
    if (auto r = check_.admit(chunk); !r) return r;
    if (!write_all(fd_.get(), chunk.data(), chunk.size()))
      return make_error(Errc::internal,
                        fmt::format("cannot write value '{}': {}", check_.meta().key, std::strerror(errno)));
    return {};
  }
  Result<void> commit() override;

 private:
  DiskStore& store_;
  ValueCheck check_;
  fs::path tmp_;
  Fd fd_;
  bool committed_ = false;
};

class DiskStore final : public Store {
 public:
  explicit DiskStore(fs::path dir) : dir_(std::move(dir)), tmp_(dir_ / "tmp") {
    fs::create_directories(tmp_);
    dir_fd_.reset(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd_.get() < 0) throw fs::filesystem_error("cannot open", dir_, std::error_code(errno, std::generic_category()));
    for (const auto& e : fs::directory_iterator(tmp_)) fs::remove(e.path());  // torn writes of a crash
    std::size_t bad = 0;
    for (const auto& e : fs::directory_iterator(dir_)) {
      if (!e.is_regular_file() || e.path().extension() != ".value") continue;
      Fd fd(::open(e.path().c_str(), O_RDONLY | O_CLOEXEC));
      auto h = fd.get() >= 0 ? read_header(fd.get()) : std::nullopt;
      if (!h || e.path().stem() != hex_of(h->first.key_id) ||
          fs::file_size(e.path()) != h->second + h->first.size) {
        ++bad;
        continue;
      }
      bytes_ += h->first.size;
      if (h->first.deleted) ++tombstones_;
      index_[h->first.key_id] = h->first;
    }
    if (bad) spdlog::warn("data dir {}: {} damaged value files ignored", dir_.string(), bad);
  }

  Result<std::unique_ptr<ValueWriter>> begin(const ValueMeta& meta) override {
    {
      std::lock_guard lock(mutex_);
      if (auto r = check_newer(meta, held(meta.key_id)); !r) return r.error();
    }
    fs::path tmp;
    {
      std::lock_guard lock(mutex_);
      tmp = tmp_ / fmt::format("{}.{}", hex_of(meta.key_id), rng_());
    }
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return make_error(Errc::internal, fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno)));
    auto header = header_of(meta);
    if (!write_all(fd, header.data(), header.size())) {
      ::close(fd);
      return make_error(Errc::internal, fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
    }
    return std::unique_ptr<ValueWriter>(std::make_unique<DiskWriter>(*this, meta, tmp, fd));
  }

  std::shared_ptr<const Blob> open(const Id& key_id) const override {
    if (!meta(key_id)) return nullptr;
    int fd = ::open(path_of(key_id).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    auto h = read_header(fd);
    if (!h) {
      ::close(fd);
      return nullptr;
    }
    return std::make_shared<DiskBlob>(h->first, h->second, fd);
  }

  std::optional<ValueMeta> meta(const Id& key_id) const override {
    std::lock_guard lock(mutex_);
    const ValueMeta* m = held(key_id);
    return m ? std::optional<ValueMeta>(*m) : std::nullopt;
  }

  bool erase(const Id& key_id) override {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key_id);
    if (it == index_.end()) return false;
    std::error_code ec;
    fs::remove(path_of(key_id), ec);
    bytes_ -= it->second.size;
    if (it->second.deleted) --tombstones_;
    index_.erase(it);
    ++version_;
    return true;
  }
  std::vector<ValueMeta> list() const override {
    std::lock_guard lock(mutex_);
    std::vector<ValueMeta> out;
    out.reserve(index_.size());
    for (const auto& [id, m] : index_) out.push_back(m);
    return out;
  }
  std::vector<ValueMeta> list_range(const Id& from, const Id& to) const override {
    std::lock_guard lock(mutex_);
    return metas_in_range(index_, from, to, [](const ValueMeta& m) { return m; });
  }
  std::size_t count() const override {
    std::lock_guard lock(mutex_);
    return index_.size() - tombstones_;
  }
  std::uint64_t bytes() const override {
    std::lock_guard lock(mutex_);
    return bytes_;
  }
  std::uint64_t version() const override {
    std::lock_guard lock(mutex_);
    return version_;
  }
  boost::asio::thread_pool* io_pool() override { return &pool_; }

  // Under mutex_.
  const ValueMeta* held(const Id& key_id) const {
    auto it = index_.find(key_id);
    return it == index_.end() ? nullptr : &it->second;
  }

  Result<void> install(const ValueMeta& meta, const fs::path& tmp) {
    // Under the lock from the check to the index: two writers of one key may commit at once.
    std::lock_guard lock(mutex_);
    // A newer version may have landed while this one streamed in.
    if (auto r = check_newer(meta, held(meta.key_id)); !r) return r;
    std::error_code ec;
    fs::rename(tmp, path_of(meta.key_id), ec);
    if (ec) return make_error(Errc::internal, fmt::format("cannot store value '{}': {}", meta.key, ec.message()));
    if (::fsync(dir_fd_.get()) != 0)
      return make_error(Errc::internal, fmt::format("cannot sync data dir {}: {}", dir_.string(), std::strerror(errno)));
    if (auto it = index_.find(meta.key_id); it != index_.end()) {
      bytes_ -= it->second.size;
      if (it->second.deleted) --tombstones_;
    }
    index_[meta.key_id] = meta;
    bytes_ += meta.size;
    if (meta.deleted) ++tombstones_;
    ++version_;
    return {};
  }

 private:
  fs::path path_of(const Id& id) const { return dir_ / (hex_of(id) + ".value"); }

  fs::path dir_;
  fs::path tmp_;
  Fd dir_fd_;
  mutable std::mutex mutex_;
  std::map<Id, ValueMeta> index_;
  std::uint64_t bytes_ = 0;
  std::size_t tombstones_ = 0;
  std::uint64_t version_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  // Last: joined before anything its calls touch is destroyed.
  boost::asio::thread_pool pool_{2};
};

Result<void> DiskWriter::commit() {
  if (auto r = check_.verify(); !r) return r;
  if (::fdatasync(fd_.get()) != 0)
    return make_error(Errc::internal,
                      fmt::format("cannot sync value '{}': {}", check_.meta().key, std::strerror(errno)));
  auto r = store_.install(check_.meta(), tmp_);
  if (r) committed_ = true;
  return r;
}

}  // namespace

std::unique_ptr<Store> make_disk_store(const std::string& dir) {
  try {
    return std::make_unique<DiskStore>(dir);
  } catch (const fs::filesystem_error& e) {
    throw std::runtime_error(fmt::format("data dir {}: {}", dir, e.code().message()));
  }
}

}  // namespace chord
