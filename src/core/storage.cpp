// Keys and values: a key lives on its owner (the successor of its id) and on the owner's next
// k-1 successors. Writes go to the owner, which replicates; ownership changes (join, leave,
// crash) move values so that this holds again. Values always move in chunks.
#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "chord/chunk_pipe.hpp"
#include "chord/chunks.hpp"
#include "chord/node.hpp"
#include "chord/utf8.hpp"

namespace chord {

Result<Id> Node::key_id_of(const std::string& key, const std::optional<Id>& key_id) const {
  if (key.size() > config_.max_key_bytes)
    return make_error(Errc::too_large, fmt::format("key of {} bytes is over the {} byte limit", key.size(),
                                                   config_.max_key_bytes));
  if (!is_utf8(key)) return make_error(Errc::invalid_argument, "a key must be UTF-8 text");
  if (key.empty()) {
    if (!key_id) return make_error(Errc::invalid_argument, "neither a key nor a key id was given");
    if (!ring_.contains(*key_id))
      return make_error(Errc::invalid_argument, fmt::format("key id is outside this {}-bit ring", ring_.bits()));
    return *key_id;
  }
  Id id = ring_.hash(key);
  if (key_id && *key_id != id)
    return make_error(Errc::invalid_argument,
                      fmt::format("key id {} is not the id of key '{}' ({})", ring_.hex(*key_id), key, ring_.hex(id)));
  return id;
}

Result<void> Node::check_meta(const ValueMeta& meta) const {
  if (meta.key.empty()) return make_error(Errc::invalid_argument, "a value needs a non-empty key");
  auto id = key_id_of(meta.key, meta.key_id);
  if (!id) return id.error();
  if (meta.size > config_.max_value_bytes)
    return make_error(Errc::too_large, fmt::format("value of {} bytes is over the {} byte limit", meta.size,
                                                   config_.max_value_bytes));
  return {};
}

std::vector<NodeRef> Node::replica_targets() const {
  std::vector<NodeRef> out;
  for (const auto& n : successors_.nodes()) {
    if (out.size() + 1 >= config_.replicas) break;
    if (!suspected(n.id)) out.push_back(n);
  }
  return out;
}

asio::awaitable<Result<void>> Node::store_local(const ValueMeta& meta, ChunkSource& chunks, const ChunkTap& tap) {
  auto writer = store_->begin(meta);
  if (!writer) co_return writer.error();
  for (;;) {
    auto chunk = co_await chunks.next();
    if (!chunk) co_return chunk.error();
    if (!*chunk) break;
    if ((*chunk)->size() > config_.chunk_bytes)
      co_return make_error(Errc::too_large, fmt::format("a chunk of {} bytes is over the {} byte limit",
                                                        (*chunk)->size(), config_.chunk_bytes));
    if (auto r = (*writer)->append(**chunk); !r) co_return r;
    if (tap) co_await tap(**chunk);
  }
  co_return (*writer)->commit();
}

namespace {

// One replica's copy of a value being written: the owner pushes each chunk it takes into the
// pipe while the replica's store() pulls from it.
struct ReplicaLeg {
  ReplicaLeg(asio::any_io_executor ex, NodeRef t, Timeout timeout)
      : target(std::move(t)), pipe(ex, 1, timeout, fmt::format("replica stream to {}", target.uri)),
        done(ex, asio::steady_timer::time_point::max()) {}
  NodeRef target;
  ChunkPipe pipe;
  asio::steady_timer done;  // cancelled once result is set
  std::optional<Result<StoreReply>> result;
  bool fed = true;  // still taking chunks
};

asio::awaitable<void> run_leg(std::shared_ptr<ChordService> client, std::shared_ptr<ReplicaLeg> leg, StoreRequest req,
                              Timeout timeout) {
  leg->result = co_await client->store(req, leg->pipe, timeout);
  leg->pipe.close();
  leg->done.cancel();
}

}  // namespace

asio::awaitable<Result<StoreReply>> Node::store_as_owner(const ValueMeta& meta, ChunkSource& chunks) {
  // Replicas receive each chunk as it arrives rather than the whole value afterwards: the put's
  // answer then comes right after its last chunk, whatever the value's size, and it still
  // comes only once k copies exist, so an acknowledged put survives k-1 failures.
  std::vector<std::shared_ptr<ReplicaLeg>> legs;
  for (const auto& target : replica_targets()) {
    auto client = peer(target);
    if (!client) continue;
    auto leg = std::make_shared<ReplicaLeg>(executor_, target, config_.rpc_timeout);
    asio::co_spawn(executor_, run_leg(*client, leg, StoreRequest{meta, Role::replica}, config_.rpc_timeout),
                   asio::detached);
    legs.push_back(std::move(leg));
  }
  auto abandon = [&] {
    for (auto& leg : legs) leg->pipe.close();  // a replica never commits a value the owner refused
  };
  // Named: a temporary inside a co_await expression is a g++ 12 hazard.
  const ChunkTap feed = [&](const std::string& chunk) -> asio::awaitable<void> {
    for (auto& leg : legs)
      if (leg->fed && !co_await leg->pipe.push(chunk, config_.rpc_timeout)) leg->fed = false;
  };
  auto stored = co_await store_local(meta, chunks, feed);
  if (!stored) {
    abandon();
    co_return stored.error();
  }
  StoreReply reply{self_, meta.size, meta.sha256, 1};
  for (auto& leg : legs)
    if (leg->fed && !co_await leg->pipe.push(std::nullopt, config_.rpc_timeout)) leg->fed = false;
  for (auto& leg : legs) {
    if (!leg->result) {
      // Its last chunk is in; what remains is the replica's commit.
      asio::steady_timer limit(executor_, config_.rpc_timeout);
      using namespace asio::experimental::awaitable_operators;
      co_await (leg->done.async_wait(asio::as_tuple(asio::use_awaitable)) ||
                limit.async_wait(asio::as_tuple(asio::use_awaitable)));
    }
    if (leg->result && *leg->result && leg->fed) {
      ++reply.copies;
      peer_answered(leg->target);
      continue;
    }
    leg->pipe.close();
    Error why = leg->result && !*leg->result ? leg->result->error()
                                             : make_error(Errc::deadline_exceeded, "the replica did not keep up");
    if (is_peer_failure(why.code)) peer_failed(leg->target, why);
    spdlog::warn("[{}] replica of '{}' on {} failed: {}", tag_, meta.key, leg->target.uri, why.message);
  }
  co_return reply;
}

asio::awaitable<Result<void>> Node::push_value(const NodeRef& target, const Id& key_id, Role role) {
  auto blob = store_->open(key_id);
  if (!blob) co_return make_error(Errc::not_found, "value vanished before it could be sent");
  auto client = peer(target);
  if (!client) co_return client.error();
  BlobSource source(blob, config_.chunk_bytes);
  const StoreRequest req{blob->meta(), role};
  auto r = co_await (*client)->store(req, source, config_.rpc_timeout);
  if (!r) {
    peer_failed(target, r.error());
    co_return r.error();
  }
  peer_answered(target);
  co_return Result<void>{};
}

asio::awaitable<Result<StoreReply>> Node::store(const StoreRequest& given, ChunkSource& chunks, Timeout timeout) {
  StoreRequest req = given;
  if (req.derive_key_id && !req.meta.key.empty() && req.meta.key.size() <= config_.max_key_bytes)
    req.meta.key_id = ring_.hash(req.meta.key);
  req.derive_key_id = false;
  if (auto r = check_meta(req.meta); !r) co_return r.error();
  if (leaving_) co_return leaving_error();
  if (!joined_) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", self_.uri));
  auto keep = shared_from_this();
  switch (req.role) {
    case Role::replica:
    case Role::handoff: {
      if (auto r = co_await store_local(req.meta, chunks); !r) co_return r.error();
      co_return StoreReply{self_, req.meta.size, req.meta.sha256, 1};
    }
    case Role::primary: co_return co_await store_as_owner(req.meta, chunks);
    case Role::client: break;
  }
  auto found = co_await find_successor(req.meta.key_id);
  if (!found) co_return found.error();
  std::vector<NodeRef> owners{found->owner};
  owners.insert(owners.end(), found->successors.begin(), found->successors.end());
  CountingSource counted(chunks);
  Error last = make_error(Errc::unavailable, "no owner reachable");
  for (const auto& owner : owners) {
    if (owner.id == self_.id) co_return co_await store_as_owner(req.meta, counted);
    auto client = peer(owner);
    if (!client) co_return client.error();
    const StoreRequest forward{req.meta, Role::primary};
    auto r = co_await (*client)->store(forward, counted, timeout);
    if (r) {
      peer_answered(owner);
      co_return r;
    }
    peer_failed(owner, r.error());
    last = r.error();
    // The owner is dead: its successor holds the key's range now. A stream already begun
    // cannot be replayed, so only a transfer that has not started moves on.
    if (!is_peer_failure(r.error().code) || counted.chunks() > 0) break;
  }
  co_return last;
}

asio::awaitable<Result<FetchReply>> Node::fetch_local(const FetchRequest& req, const Id& key_id, ChunkSink& sink) {
  auto blob = store_->open(key_id);
  if (!blob) co_return make_error(Errc::not_found, fmt::format("key '{}' is not stored on {}", req.key, self_.uri));
  const auto& meta = blob->meta();
  if (req.offset > meta.size)
    co_return make_error(Errc::invalid_argument,
                         fmt::format("offset {} is past the value's {} bytes", req.offset, meta.size));
  FetchReply header{meta, self_};
  if (auto r = co_await sink.begin(header); !r) co_return r.error();
  BlobSource source(blob, config_.chunk_bytes, req.offset, req.length.value_or(UINT64_MAX));
  for (;;) {
    auto chunk = co_await source.next();
    if (!chunk) co_return chunk.error();
    if (!*chunk) break;
    if (auto r = co_await sink.write(std::move(**chunk)); !r) co_return r.error();
  }
  co_return header;
}

asio::awaitable<Result<FetchReply>> Node::fetch(const FetchRequest& req, ChunkSink& sink, Timeout timeout) {
  auto id = key_id_of(req.key, req.key_id);
  if (!id) co_return id.error();
  if (req.role != Role::client) co_return co_await fetch_local(req, *id, sink);
  if (!joined_) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", self_.uri));
  auto keep = shared_from_this();
  auto found = co_await find_successor(*id);
  if (!found) co_return found.error();
  // The owner first, then its successors: they hold replicas when the owner is gone or has not
  // received the key yet.
  std::vector<NodeRef> holders{found->owner};
  for (const auto& s : found->successors) {
    if (holders.size() >= std::max(1u, config_.replicas)) break;
    holders.push_back(s);
  }
  CountingSink counted(sink);
  Error last = make_error(Errc::not_found, fmt::format("key '{}' not found", req.key));
  bool any_answered = false;
  FetchRequest direct = req;
  direct.key_id = *id;
  direct.role = Role::primary;
  for (const auto& holder : holders) {
    Result<FetchReply> r = make_error(Errc::internal, "unreached");
    if (holder.id == self_.id) {
      r = co_await fetch_local(direct, *id, counted);
    } else {
      auto client = peer(holder);
      if (!client) co_return client.error();
      r = co_await (*client)->fetch(direct, counted, timeout);
      if (r || !is_peer_failure(r.error().code)) peer_answered(holder);
      else peer_failed(holder, r.error());
    }
    if (r) co_return r;
    if (counted.started()) co_return r.error();  // bytes already went out: cannot switch holder
    if (r.error().code == Errc::not_found) any_answered = true;
    else if (!is_peer_failure(r.error().code)) co_return r.error();
    else last = r.error();
  }
  if (any_answered) co_return make_error(Errc::not_found, fmt::format("key '{}' not found", req.key));
  co_return last;
}

asio::awaitable<Result<DeleteReply>> Node::remove(const DeleteRequest& req, Timeout timeout) {
  auto id = key_id_of(req.key, req.key_id);
  if (!id) co_return id.error();
  if (req.role == Role::replica || req.role == Role::handoff)
    co_return DeleteReply{self_, store_->erase(*id)};
  if (!joined_) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", self_.uri));
  auto keep = shared_from_this();
  if (req.role == Role::primary) {
    bool existed = store_->erase(*id);
    DeleteRequest copy{req.key, *id, Role::replica};
    for (const auto& target : replica_targets()) {
      auto client = peer(target);
      if (!client) continue;
      auto r = co_await (*client)->remove(copy, timeout);
      if (r) existed = existed || r->existed;
      else peer_failed(target, r.error());
    }
    co_return DeleteReply{self_, existed};
  }
  auto found = co_await find_successor(*id);
  if (!found) co_return found.error();
  auto client = peer(found->owner);
  if (!client) co_return client.error();
  const DeleteRequest forward{req.key, *id, Role::primary};
  co_return co_await (*client)->remove(forward, timeout);
}

asio::awaitable<Result<SyncReply>> Node::sync_replicas(const SyncRequest& req, Timeout) {
  // A leaving node takes no copies: the sender moves on to a successor that stays.
  if (leaving_) co_return leaving_error();
  SyncReply reply;
  for (const auto& k : req.keys) {
    auto blob = store_->open(k.key_id);
    if (!blob || blob->meta().sha256 != k.sha256) reply.missing.push_back(k.key_id);
  }
  co_return reply;
}

asio::awaitable<void> Node::maintain_replicas() {
  if (!joined_ || leaving_ || !predecessor_ || config_.replicas <= 1) co_return;
  auto keep = shared_from_this();
  const Id pred = predecessor_->id;
  const auto version = store_->version();
  for (const auto& target : replica_targets()) {
    auto& stamp = synced_[target.id];
    bool unchanged = stamp.store_version == version && stamp.predecessor == pred && stamp.rounds > 0;
    if (unchanged && stamp.rounds % std::max(1u, config_.full_sync_every) != 0) {
      ++stamp.rounds;
      continue;
    }
    SyncRequest offer{self_, {}};
    for (const auto& v : store_->list())
      if (in_half_open(v.key_id, pred, self_.id)) offer.keys.push_back(KeyDigest{v.key_id, v.sha256});
    auto client = peer(target);
    if (!client) continue;
    auto r = co_await (*client)->sync_replicas(offer, config_.rpc_timeout);
    if (!r) {
      peer_failed(target, r.error());
      continue;
    }
    bool complete = true;
    for (const auto& id : r->missing)
      if (!co_await push_value(target, id, Role::replica)) complete = false;
    if (complete) {
      auto& s = synced_[target.id];  // the map may have rehashed while we waited
      s.store_version = version;
      s.predecessor = pred;
      s.rounds = unchanged ? s.rounds + 1 : 1;
    }
  }
}

asio::awaitable<void> Node::hand_off(std::optional<NodeRef> old_predecessor, NodeRef new_predecessor) {
  auto keep = shared_from_this();
  std::vector<Id> moving;
  for (const auto& v : store_->list()) {
    // With no old predecessor the range is unknown: offer every key this node no longer owns.
    bool theirs = old_predecessor ? in_half_open(v.key_id, old_predecessor->id, new_predecessor.id)
                                  : !in_half_open(v.key_id, new_predecessor.id, self_.id);
    if (theirs) moving.push_back(v.key_id);
  }
  unsigned sent = 0;
  for (const auto& id : moving) {
    // The copy stays here: this node is now the new owner's first replica.
    auto r = co_await push_value(new_predecessor, id, Role::handoff);
    if (!r) {
      spdlog::warn("[{}] hand-off to {} stopped: {}", tag_, new_predecessor.uri, r.error().message);
      co_return;
    }
    ++sent;
  }
  if (sent) spdlog::info("[{}] handed {} keys to new predecessor {}", tag_, sent, new_predecessor.uri);
}

}  // namespace chord
