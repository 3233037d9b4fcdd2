#pragma once
// The values a node holds: those it owns and the replicas it keeps for its predecessors.
// A value is written through a ValueWriter and becomes visible only when its size and SHA-256
// check out on commit; a reader holds a snapshot (Blob) that a later write does not disturb.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "chord/messages.hpp"
#include "chord/result.hpp"

namespace chord {

class Blob {
 public:
  virtual ~Blob() = default;
  virtual const ValueMeta& meta() const = 0;
  virtual Result<std::string> read(std::uint64_t offset, std::size_t length) const = 0;
};

class ValueWriter {
 public:
  virtual ~ValueWriter() = default;
  virtual Result<void> append(std::string_view chunk) = 0;
  // The same, for a chunk the caller gives up: a store that keeps values in memory keeps the
  // chunk itself instead of a copy of it.
  virtual Result<void> append_owned(std::string&& chunk) { return append(std::string_view(chunk)); }
  // Checks size and digest against the metadata; on success the value replaces the version
  // held, which must be older (else conflict, and nothing changes).
  virtual Result<void> commit() = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Refused (conflict) unless meta.version is newer than the version held. A tombstone is a
  // value with meta.deleted, no bytes and the SHA-256 of nothing.
  virtual Result<std::unique_ptr<ValueWriter>> begin(const ValueMeta& meta) = 0;
  // The value or tombstone held for key_id.
  virtual std::shared_ptr<const Blob> open(const Id& key_id) const = 0;
  // Its metadata alone, from the store's index: no file is opened.
  virtual std::optional<ValueMeta> meta(const Id& key_id) const = 0;
  // Drops what is held for key_id, whatever its version (purging tombstones, dropping copies).
  virtual bool erase(const Id& key_id) = 0;
  // Every value's and tombstone's metadata, in key-id order.
  virtual std::vector<ValueMeta> list() const = 0;
  // Those with key ids in the ring interval (from, to], in ring order from `from`.
  virtual std::vector<ValueMeta> list_range(const Id& from, const Id& to) const = 0;
  // Values held, tombstones left out.
  virtual std::size_t count() const = 0;
  virtual std::uint64_t bytes() const = 0;
  // Bumped by every commit and erase: lets replica maintenance skip rounds where nothing changed.
  virtual std::uint64_t version() const = 0;
  // Where begin, append, commit, open, read and erase must run, for a store whose calls block on
  // a disk (run_blocking); nullptr for one that never blocks. Index reads (meta, list, count)
  // never block and may run anywhere; a store with a pool is safe to call from both.
  virtual boost::asio::thread_pool* io_pool() { return nullptr; }
};

std::unique_ptr<Store> make_memory_store();

}  // namespace chord

namespace chord {
// Values kept as files in dir (one file per key, named by its key id, never by user text), so
// that they survive a restart. Opens what dir already holds; throws if dir cannot be used.
std::unique_ptr<Store> make_disk_store(const std::string& dir);
}  // namespace chord
