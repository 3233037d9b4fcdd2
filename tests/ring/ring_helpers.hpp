#pragma once
// Client operations on a simulated ring, as a user would do them through any node.
#include <string>

#include "chord/chunks.hpp"
#include "chord/sha256.hpp"
#include "sim_ring.hpp"

namespace chord::test {

inline Result<StoreReply> put(sim::SimRing& ring, Node& via, const std::string& key, const std::string& value) {
  ValueMeta meta{key, ring.ring().hash(key), value.size(), Sha256::of(value)};
  auto task = [](Node& n, ValueMeta m, std::string v) -> asio::awaitable<Result<StoreReply>> {
    StringSource source(std::move(v), 1000);  // small chunks: every value of a test is multi-chunk
    const StoreRequest req{m, Role::client};
    co_return co_await n.store(req, source, std::chrono::milliseconds(1000));
  };
  return ring.run(task(via, meta, value));
}

inline Result<std::string> get(sim::SimRing& ring, Node& via, const std::string& key) {
  auto task = [](Node& n, std::string k) -> asio::awaitable<Result<std::string>> {
    StringSink sink;
    const FetchRequest req{k, std::nullopt, Role::client, 0, std::nullopt};
    auto r = co_await n.fetch(req, sink, std::chrono::milliseconds(1000));
    if (!r) co_return r.error();
    if (Sha256::of(sink.data()) != r->meta.sha256) co_return make_error(Errc::conflict, "digest mismatch");
    co_return std::move(sink.data());
  };
  return ring.run(task(via, key));
}

inline Result<LookupReply> lookup(sim::SimRing& ring, Node& via, const Id& key_id) {
  return ring.run(via.find_successor(key_id));
}

inline std::string value_of(int i) { return std::string(static_cast<std::size_t>(i * 37 % 5000), static_cast<char>('a' + i % 26)) + std::to_string(i); }

}  // namespace chord::test
