#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "chord/store.hpp"
#include "store_range.hpp"
#include "value_check.hpp"

namespace chord {
namespace {

class MemoryBlob final : public Blob {
 public:
  MemoryBlob(ValueMeta meta, std::string data) : meta_(std::move(meta)), data_(std::move(data)) {}
  const ValueMeta& meta() const override { return meta_; }
  Result<std::string> read(std::uint64_t offset, std::size_t length) const override {
    if (offset > data_.size())
      return make_error(Errc::invalid_argument,
                        fmt::format("offset {} is past the value's {} bytes", offset, data_.size()));
    return data_.substr(offset, length);
  }

 private:
  ValueMeta meta_;
  std::string data_;
};

class MemoryStore;

class MemoryWriter final : public ValueWriter {
 public:
  // Memory follows the bytes that came, not the size a header claims (a stuck transfer that
  // announced 4 GiB would otherwise hold 4 GiB): reserve up to one chunk, grow as they arrive.
  MemoryWriter(MemoryStore& store, const ValueMeta& meta) : store_(store), check_(meta) {
    data_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(meta.size, 1 << 20)));
  }
  Result<void> append(std::string_view chunk) override {
    if (auto r = check_.admit(chunk); !r) return r;
    data_.append(chunk);
    return {};
  }
  Result<void> commit() override;

 private:
  MemoryStore& store_;
  ValueCheck check_;
  std::string data_;
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

  Result<void> install(ValueMeta meta, std::string data) {
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
