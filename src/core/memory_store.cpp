#include <map>

#include <fmt/format.h>

#include "chord/store.hpp"
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
  MemoryWriter(MemoryStore& store, const ValueMeta& meta) : store_(store), check_(meta) { data_.reserve(meta.size); }
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
    return std::unique_ptr<ValueWriter>(std::make_unique<MemoryWriter>(*this, meta));
  }
  std::shared_ptr<const Blob> open(const Id& key_id) const override {
    auto it = values_.find(key_id);
    return it == values_.end() ? nullptr : it->second;
  }
  bool erase(const Id& key_id) override {
    auto it = values_.find(key_id);
    if (it == values_.end()) return false;
    bytes_ -= it->second->meta().size;
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
  std::size_t count() const override { return values_.size(); }
  std::uint64_t bytes() const override { return bytes_; }
  std::uint64_t version() const override { return version_; }

  void install(ValueMeta meta, std::string data) {
    erase(meta.key_id);
    bytes_ += meta.size;
    auto id = meta.key_id;
    values_[id] = std::make_shared<MemoryBlob>(std::move(meta), std::move(data));
    ++version_;
  }

 private:
  std::map<Id, std::shared_ptr<const Blob>> values_;
  std::uint64_t bytes_ = 0;
  std::uint64_t version_ = 0;
};

Result<void> MemoryWriter::commit() {
  if (auto r = check_.verify(); !r) return r;
  store_.install(check_.meta(), std::move(data_));
  return {};
}

}  // namespace

std::unique_ptr<Store> make_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace chord
