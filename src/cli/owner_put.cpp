#include "owner_put.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace chord::cli {

asio::awaitable<Result<StoreReply>> put_value(const PutRoute& route, const StoreRequest& req, ChunkSource& source,
                                              const std::function<void()>& restart, Timeout timeout) {
  if (!route.to_owner || req.if_version || req.meta.size < kOwnerPutBytes)
    co_return co_await route.via.store(req, source, timeout);
  // A named request: g++ 12 destroys a temporary argument of a co_await'ed call twice.
  const LookupRequest ask{req.meta.key, req.meta.key_id};
  auto found = co_await route.via.lookup(ask, timeout);
  // A failed lookup is --via's to report, through the put itself.
  if (!found || found->owner.id == route.via_node.id) co_return co_await route.via.store(req, source, timeout);
  const auto& owner = found->owner;
  auto client = route.connector.connect(owner.uri);
  // A ping first, on a short deadline: an owner this client cannot reach (a route, a broker's
  // login) costs a second before the value goes through --via, not the put's whole deadline.
  Result<NodeRef> pong = client ? Result<NodeRef>(make_error(Errc::unavailable, "not asked")) : client.error();
  const Empty hello;
  if (client) pong = co_await (*client)->ping(hello, std::min(timeout, kOwnerProbe));
  if (pong && pong->id == owner.id) {
    auto r = co_await (*client)->store(req, source, timeout);
    if (r || !is_peer_failure(r.error().code)) co_return r;
    spdlog::warn("the owner {} did not take the value ({}); sending it through {}", owner.uri, r.error().message,
                 route.via_node.uri);
    restart();
  } else {
    spdlog::warn("the owner {} cannot be reached from here ({}); sending the value through {}", owner.uri,
                 pong ? "another node answers there" : pong.error().message, route.via_node.uri);
  }
  co_return co_await route.via.store(req, source, timeout);
}

}  // namespace chord::cli
