#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "chord/store.hpp"
#include "store_range.hpp"
#include "value_check.hpp"

namespace chord {
namespace {

// A value as the chunks it arrived in: appending never moves what came before (a contiguous
// string of 64 MiB grown by doubling copied each byte about twice more and faulted in every new
// mapping). Small chunks join a small piece before them until it holds kMinPiece bytes: the
// sender picks the chunk sizes, and a value sent a byte at a time would otherwise cost a string
// and an offset (about 70 bytes) per byte it holds. A large chunk is a piece of its own, never
// copied into another.
class Pieces {
 public:
  static constexpr std::size_t kMinPiece = 64 * 1024;
  void add(std::string_view chunk) {
    if (chunk.empty()) return;
    if (joins(chunk.size())) {
      pieces_.back().append(chunk);
    } else {
      starts_.push_back(size_);
      pieces_.emplace_back(chunk);
    }
    size_ += chunk.size();
  }
  // A chunk given up by its owner: a piece of its own is the chunk itself, not a copy.
  void add(std::string&& chunk) {
    if (chunk.empty() || joins(chunk.size())) return add(std::string_view(chunk));
    starts_.push_back(size_);
    size_ += chunk.size();
    pieces_.push_back(std::move(chunk));
  }
  std::uint64_t size() const { return size_; }
  std::string read(std::uint64_t offset, std::size_t length) const {
    std::string out;
    if (offset >= size_ || length == 0) return out;
    length = static_cast<std::size_t>(std::min<std::uint64_t>(length, size_ - offset));
    out.reserve(length);
    // The piece that holds offset: the last one that starts at or before it.
    auto i = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), offset) - starts_.begin()) - 1;
    for (; i < pieces_.size() && out.size() < length; ++i) {
      const auto from = static_cast<std::size_t>(offset + out.size() - starts_[i]);
      out.append(pieces_[i], from, length - out.size());
    }
    return out;
  }

 private:
  bool joins(std::size_t chunk) const {
    return chunk < kMinPiece && !pieces_.empty() && pieces_.back().size() < kMinPiece;
  }
  std::vector<std::string> pieces_;
  std::vector<std::uint64_t> starts_;  // offset of each piece in the value
  std::uint64_t size_ = 0;
};

class MemoryBlob final : public Blob {
 public:
  MemoryBlob(ValueMeta meta, Pieces data) : meta_(std::move(meta)), data_(std::move(data)) {}
  const ValueMeta& meta() const override { return meta_; }
  Result<std::string> read(std::uint64_t offset, std::size_t length) const override {
    if (offset > data_.size())
      return make_error(Errc::invalid_argument,
                        fmt::format("offset {} is past the value's {} bytes", offset, data_.size()));
    return data_.read(offset, length);
  }

 private:
  ValueMeta meta_;
  Pieces data_;
};

class MemoryStore;

class MemoryWriter final : public ValueWriter {
 public:
  // Memory follows the bytes that came, not the size a header claims (a stuck transfer that
  // announced 4 GiB would otherwise hold 4 GiB).
  MemoryWriter(MemoryStore& store, const ValueMeta& meta) : store_(store), check_(meta) {}
  Result<void> append(std::string_view chunk) override {
    if (auto r = check_.admit(chunk); !r) return r;
    data_.add(chunk);
    return {};
  }
  Result<void> append_owned(std::string&& chunk) override {
    if (auto r = check_.admit(chunk); !r) return r;
    data_.add(std::move(chunk));
    return {};
  }
  Result<void> commit() override;

 private:
  MemoryStore& store_;
  ValueCheck check_;
  Pieces data_;
};

class MemoryStore final : public Store {
 public:
  Result<std::unique_ptr<ValueWriter>> begin(const ValueMeta& meta) override {
    if (auto r = check_newer(meta, held(meta.key_id)); !r) return r.error();
    return std::unique_ptr<ValueWriter>(std::make_unique<MemoryWriter>(*this, meta));
  }
  const ValueMeta* held(const Id& key_id) const {
    auto it = values_.find(key_id);
    return it == values_.end() ? nullptr : &it->second->meta();
  }
  std::shared_ptr<const Blob> open(const Id& key_id) const override {
    auto it = values_.find(key_id);
    return it == values_.end() ? nullptr : it->second;
  }
  std::optional<ValueMeta> meta(const Id& key_id) const override {
    const ValueMeta* m = held(key_id);
    return m ? std::optional<ValueMeta>(*m) : std::nullopt;
  }
  bool erase(const Id& key_id) override {
    auto it = values_.find(key_id);
    if (it == values_.end()) return false;
    bytes_ -= it->second->meta().size;
    if (it->second->meta().deleted) --tombstones_;
    values_.erase(it);
    ++version_;
    return true;
  }
  std::vector<ValueMeta> list() const override {
    std::vector<ValueMeta> out;
    out.reserve(values_.size());
    for (const auto& [id, blob] : values_) out.push_back(blob->meta());
    return out;
  }
  std::vector<ValueMeta> list_range(const Id& from, const Id& to) const override {
    return metas_in_range(values_, from, to, [](const std::shared_ptr<const Blob>& b) { return b->meta(); });
  }
  std::size_t count() const override { return values_.size() - tombstones_; }
  std::uint64_t bytes() const override { return bytes_; }
  std::uint64_t version() const override { return version_; }

  Result<void> install(ValueMeta meta, Pieces data) {
    // A newer version may have landed while this one streamed in.
    if (auto r = check_newer(meta, held(meta.key_id)); !r) return r;
    erase(meta.key_id);
    bytes_ += meta.size;
    if (meta.deleted) ++tombstones_;
    auto id = meta.key_id;
    values_[id] = std::make_shared<MemoryBlob>(std::move(meta), std::move(data));
    ++version_;
    return {};
  }

 private:
  std::map<Id, std::shared_ptr<const Blob>> values_;
  std::uint64_t bytes_ = 0;
  std::size_t tombstones_ = 0;
  std::uint64_t version_ = 0;
};

Result<void> MemoryWriter::commit() {
  if (auto r = check_.verify(); !r) return r;
  return store_.install(check_.meta(), std::move(data_));
}

}  // namespace

std::unique_ptr<Store> make_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace chord
