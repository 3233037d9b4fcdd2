#include "value_route.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "chord/chunks.hpp"

namespace chord::cli {

namespace {

// The node at uri, if it answers a ping as the node of that id within kHolderProbe: a holder this
// client cannot reach costs that, not the call's whole deadline, before --via takes over.
asio::awaitable<Result<std::shared_ptr<ChordService>>> reachable(const Route& route, const NodeRef& node, Timeout timeout) {
  auto client = route.connector.connect(node.uri);
  if (!client) co_return client.error();
  const Empty hello;
  auto pong = co_await (*client)->ping(hello, std::min(timeout, kHolderProbe));
  if (!pong) co_return pong.error();
  if (pong->id != node.id) co_return make_error(Errc::unavailable, "another node answers there");
  co_return *client;
}

}  // namespace

asio::awaitable<Result<StoreReply>> put_value(const Route& route, const StoreRequest& req, ChunkSource& source,
                                              const std::function<void()>& restart, Timeout timeout) {
  if (!route.to_holder || req.if_version || req.meta.size < kHolderBytes)
    co_return co_await route.via.store(req, source, timeout);
  // A named request: g++ 12 destroys a temporary argument of a co_await'ed call twice.
  const LookupRequest ask{req.meta.key, req.meta.key_id};
  auto found = co_await route.via.lookup(ask, timeout);
  // A failed lookup is --via's to report, through the put itself.
  if (!found || found->owner.id == route.via_node.id) co_return co_await route.via.store(req, source, timeout);
  const auto& owner = found->owner;
  auto client = co_await reachable(route, owner, timeout);
  if (client) {
    auto r = co_await (*client)->store(req, source, timeout);
    if (r || !is_peer_failure(r.error().code)) co_return r;
    spdlog::warn("the owner {} did not take the value ({}); sending it through {}", owner.uri, r.error().message,
                 route.via_node.uri);
    restart();
  } else {
    spdlog::warn("the owner {} cannot be reached from here ({}); sending the value through {}", owner.uri,
                 client.error().message, route.via_node.uri);
  }
  co_return co_await route.via.store(req, source, timeout);
}

asio::awaitable<Result<FetchReply>> get_value(const Route& route, const std::string& key, ChunkSink& sink,
                                              Timeout timeout) {
  ResumingSink resuming(sink);
  FetchRequest req{key, std::nullopt, Role::client, 0, std::nullopt};
  // The first kHolderBytes through --via: a smaller value comes whole in this one call, as it
  // did before; a bigger one's reply names its holder, its size and its digest.
  if (route.to_holder) req.length = kHolderBytes;
  auto r = co_await route.via.fetch(req, resuming, timeout);
  if (!r || !req.length || resuming.offset() >= r->meta.size) co_return r;
  req.offset = resuming.offset();
  req.length.reset();
  req.version = r->meta.version;  // the rest of this version; a holder of another one says so in its header
  const NodeRef holder = r->holder;
  if (holder.id != route.via_node.id) {
    auto client = co_await reachable(route, holder, timeout);
    if (client) {
      r = co_await (*client)->fetch(req, resuming, timeout);
      if (r || !is_peer_failure(r.error().code) || resuming.local_error()) co_return r;
      spdlog::warn("the holder {} failed at byte {} ({}); going on through {}", holder.uri, resuming.offset(),
                   r.error().message, route.via_node.uri);
      req.offset = resuming.offset();
    } else {
      spdlog::warn("the holder {} cannot be reached from here ({}); fetching the rest through {}", holder.uri,
                   client.error().message, route.via_node.uri);
    }
  }
  co_return co_await route.via.fetch(req, resuming, timeout);
}

}  // namespace chord::cli
