#pragma once
// A user's put and get through any node of a simulated ring, as coroutines, so that the
// simulator can run thousands at once and the ring tests one at a time.
#include <chrono>
#include <memory>
#include <string>

#include "chord/chunks.hpp"
#include "chord/node.hpp"
#include "chord/sha256.hpp"

namespace chord::sim {

// if_version: only if the key is at that version now (zero: only if it does not exist).
inline asio::awaitable<Result<StoreReply>> put_value(std::shared_ptr<Node> via, std::string key, std::string value,
                                                     std::size_t chunk_bytes, Timeout timeout,
                                                     std::optional<Version> if_version = std::nullopt) {
  const ValueMeta meta{key, via->ring().hash(key), value.size(), Sha256::of(value), {}, false};
  StringSource source(std::move(value), chunk_bytes);
  const StoreRequest req{meta, Role::client, false, if_version};
  co_return co_await via->store(req, source, timeout);
}

// The value, checked against the digest its holder reports.
inline asio::awaitable<Result<std::string>> get_value(std::shared_ptr<Node> via, std::string key, Timeout timeout) {
  StringSink sink;
  const FetchRequest req{std::move(key), std::nullopt, Role::client, 0, std::nullopt};
  auto r = co_await via->fetch(req, sink, timeout);
  if (!r) co_return r.error();
  if (Sha256::of(sink.data()) != r->meta.sha256) co_return make_error(Errc::data_loss, "digest mismatch");
  co_return std::move(sink.data());
}

inline asio::awaitable<Result<DeleteReply>> delete_key(std::shared_ptr<Node> via, std::string key) {
  const DeleteRequest req{std::move(key), std::nullopt, Role::client, {}};
  co_return co_await via->remove(req, via->config().rpc_timeout);
}

}  // namespace chord::sim
