// Keys and values: a key lives on its owner (the successor of its id) and on the owner's next
// k-1 successors. Writes go to the owner, which gives them a version and replicates them; a
// write is acknowledged once W copies hold it. A delete is a write of a tombstone. Reads ask R
// holders and return the newest version. Every store keeps only the newest version it has seen,
// so copies that move late (hand-off, sync, a node back from a crash) never undo a newer write.
// Values always move in chunks.
#include <algorithm>
#include <chrono>

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
#include "chord/sha256.hpp"
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

Version Node::next_version(const ValueMeta* held) {
  hlc_ = std::max(hlc_ + 1, config_.clock->wall_ms() << 16);
  if (held && held->version.hlc >= hlc_) hlc_ = held->version.hlc + 1;
  return Version{hlc_, self_.id};
}

void Node::observe(const Version& v) { hlc_ = std::max(hlc_, v.hlc); }

unsigned Node::quorum(unsigned asked) const {
  const unsigned k = std::max(1u, config_.replicas);
  unsigned q = asked ? std::min(asked, k) : k / 2 + 1;
  // A ring of fewer than k nodes cannot hold k copies: count the nodes there are (suspected ones
  // too, so that a dead replica does not lower the bar).
  std::unordered_set<Id, IdHash> distinct{self_.id};
  for (const auto& n : successors_.nodes()) distinct.insert(n.id);
  return std::max(1u, std::min(q, static_cast<unsigned>(distinct.size())));
}

Result<bool> Node::put_tombstone(const std::string& key, const Id& key_id, const Version& version) {
  auto held = store_->open(key_id);
  const bool existed = held && !held->meta().deleted;
  static const Digest nothing = Sha256::of("");
  ValueMeta meta{key, key_id, 0, nothing, version, true};
  auto writer = store_->begin(meta);
  if (!writer) return writer.error();
  if (auto r = (*writer)->commit(); !r) return r.error();
  return existed;
}

void Node::purge_tombstones() {
  const auto grace = static_cast<std::uint64_t>(config_.tombstone_grace.count());
  const auto wall = config_.clock->wall_ms();
  if (wall < grace) return;
  const auto horizon = wall - grace;
  for (const auto& m : store_->list())
    if (m.deleted && m.version.millis() < horizon) store_->erase(m.key_id);
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
  // A replica that does not keep up (paused, overloaded) is dropped from this write rather than
  // holding it up: the write needs W copies, not k, and anti-entropy brings the laggard up to
  // date. The caller's own deadline is rpc_timeout, so the owner's waits stay well inside it.
  const Timeout lag = std::max(Timeout(1), config_.rpc_timeout / 6);
  const ChunkTap feed = [&](const std::string& chunk) -> asio::awaitable<void> {
    for (auto& leg : legs)
      if (leg->fed && !co_await leg->pipe.push(chunk, lag)) leg->fed = false;
  };
  auto stored = co_await store_local(meta, chunks, feed);
  if (!stored) {
    abandon();
    co_return stored.error();
  }
  StoreReply reply{self_, meta.size, meta.sha256, 1, meta.version};
  for (auto& leg : legs)
    if (leg->fed && !co_await leg->pipe.push(std::nullopt, lag)) leg->fed = false;
  // The replicas commit at the same time: one deadline for all of them.
  // Stalls at most lag (a chunk) + this + lag (the end) = 2/3 of the caller's deadline, leaving it
  // time for its own answer (at 1/4 + 1/2 + 1/4 a paused replica made REST puts miss it).
  const auto commit_deadline = asio::steady_timer::clock_type::now() + config_.rpc_timeout / 3;
  for (auto& leg : legs) {
    if (!leg->result && leg->fed) {
      // Its last chunk is in; what remains is the replica's commit.
      asio::steady_timer limit(executor_, commit_deadline);
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
  if (const unsigned w = quorum(config_.write_quorum); reply.copies < w)
    co_return make_error(Errc::unavailable,
                         fmt::format("'{}' was written to {} of {} copies and the write quorum is {}: not acknowledged",
                                     meta.key, reply.copies, config_.replicas, w));
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

namespace {

// Writes a fetched value straight into the store: a pull of a newer version from a replica.
class StoreSink final : public ChunkSink {
 public:
  explicit StoreSink(Store& store) : store_(store) {}
  asio::awaitable<Result<void>> begin(const FetchReply& header) override {
    auto w = store_.begin(header.meta);
    if (!w) co_return w.error();
    writer_ = std::move(*w);
    co_return Result<void>{};
  }
  asio::awaitable<Result<void>> write(std::string chunk) override { co_return writer_->append(chunk); }
  Result<void> commit() { return writer_ ? writer_->commit() : make_error(Errc::internal, "nothing was fetched"); }

 private:
  Store& store_;
  std::unique_ptr<ValueWriter> writer_;
};

}  // namespace

asio::awaitable<Result<void>> Node::pull_value(const NodeRef& from, const Id& key_id) {
  auto client = peer(from);
  if (!client) co_return client.error();
  StoreSink sink(*store_);
  const FetchRequest req{"", key_id, Role::replica, 0, std::nullopt};
  auto r = co_await (*client)->fetch(req, sink, config_.rpc_timeout);
  if (!r) {
    if (is_peer_failure(r.error().code)) peer_failed(from, r.error());
    co_return r.error();
  }
  observe(r->meta.version);
  co_return sink.commit();
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
      if (req.meta.version.zero())
        co_return make_error(Errc::invalid_argument, "a replica or hand-off needs the value's version");
      observe(req.meta.version);
      if (auto r = co_await store_local(req.meta, chunks); !r) co_return r.error();
      co_return StoreReply{self_, req.meta.size, req.meta.sha256, 1, req.meta.version};
    }
    case Role::primary: {
      // The owner orders the writes of its keys: whatever version the sender named is replaced.
      ValueMeta meta = req.meta;
      meta.deleted = false;
      auto held = store_->open(meta.key_id);
      meta.version = next_version(held ? &held->meta() : nullptr);
      co_return co_await store_as_owner(meta, chunks);
    }
    case Role::client: break;
  }
  auto found = co_await find_successor(req.meta.key_id);
  if (!found) co_return found.error();
  std::vector<NodeRef> owners{found->owner};
  owners.insert(owners.end(), found->successors.begin(), found->successors.end());
  CountingSource counted(chunks);
  Error last = make_error(Errc::unavailable, "no owner reachable");
  for (const auto& owner : owners) {
    if (owner.id == self_.id) {
      const StoreRequest mine{req.meta, Role::primary};
      co_return co_await store(mine, counted, timeout);
    }
    auto client = peer(owner);
    if (!client) co_return client.error();
    ValueMeta meta = req.meta;
    meta.version = {};
    meta.deleted = false;
    const StoreRequest forward{meta, Role::primary};
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
  if (meta.deleted) {
    // A holder says what it holds, tombstones too: the reader must see that a delete is newer
    // than a copy elsewhere. Only the access node turns it into "not found".
    const FetchReply header{meta, self_};
    if (auto r = co_await sink.begin(header); !r) co_return r.error();
    co_return header;
  }
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

namespace {

// Passes a fetched value on only if it is the version the read chose: a holder that took a newer
// write since it was asked answers conflict instead of splicing versions.
class VersionSink final : public ChunkSink {
 public:
  VersionSink(ChunkSink& inner, Version expected) : inner_(inner), expected_(expected) {}
  asio::awaitable<Result<void>> begin(const FetchReply& header) override {
    if (header.meta.version != expected_ || header.meta.deleted)
      co_return make_error(Errc::conflict, fmt::format("'{}' changed while it was read", header.meta.key));
    co_return co_await inner_.begin(header);
  }
  asio::awaitable<Result<void>> write(std::string chunk) override { co_return co_await inner_.write(std::move(chunk)); }

 private:
  ChunkSink& inner_;
  Version expected_;
};

// Feeds a fetched value into a pipe that a store() on another node reads: a copy from one
// holder to another that never lands on the node that arranges it.
class PipeSink final : public ChunkSink {
 public:
  PipeSink(ChunkPipe& pipe, Version expected, Timeout timeout) : pipe_(pipe), expected_(expected), timeout_(timeout) {}
  asio::awaitable<Result<void>> begin(const FetchReply& header) override {
    if (header.meta.version != expected_)
      co_return make_error(Errc::conflict, fmt::format("'{}' changed during its read repair", header.meta.key));
    co_return Result<void>{};
  }
  asio::awaitable<Result<void>> write(std::string chunk) override {
    std::optional<std::string> item(std::move(chunk));  // named: see ARCHITECTURE, g++ 12 and co_await
    const bool taken = co_await pipe_.push(std::move(item), timeout_);
    if (!taken) co_return make_error(Errc::deadline_exceeded, "the stale holder stopped taking the repair");
    co_return Result<void>{};
  }

 private:
  ChunkPipe& pipe_;
  Version expected_;
  Timeout timeout_;
};

// Read repair: a holder that answered a read with an older version (or nothing) gets the newest,
// copied from a holder of it, in the background; the store refuses it if it is no longer newer.
asio::awaitable<void> repair_copy(asio::any_io_executor ex, std::shared_ptr<ChordService> from,
                                  std::shared_ptr<ChordService> to, ValueMeta meta, std::string what, Timeout timeout) {
  if (meta.deleted) {
    const DeleteRequest tombstone{meta.key, meta.key_id, Role::replica, meta.version};
    auto r = co_await to->remove(tombstone, timeout);
    if (!r) spdlog::debug("read repair of {}: {}", what, r.error().message);
    co_return;
  }
  auto leg = std::make_shared<ReplicaLeg>(ex, NodeRef{}, timeout);
  const StoreRequest copy{meta, Role::replica};
  asio::co_spawn(ex, run_leg(to, leg, copy, timeout), asio::detached);
  PipeSink sink(leg->pipe, meta.version, timeout);
  const FetchRequest req{meta.key, meta.key_id, Role::primary, 0, std::nullopt};
  auto r = co_await from->fetch(req, sink, timeout);
  if (!r) {
    leg->pipe.close();
    spdlog::debug("read repair of {}: {}", what, r.error().message);
    co_return;
  }
  std::optional<std::string> end;
  const bool ended = co_await leg->pipe.push(std::move(end), timeout);
  if (!ended) leg->pipe.close();
  if (!leg->result) {
    asio::steady_timer limit(ex, timeout);
    using namespace asio::experimental::awaitable_operators;
    co_await (leg->done.async_wait(asio::as_tuple(asio::use_awaitable)) ||
              limit.async_wait(asio::as_tuple(asio::use_awaitable)));
  }
  // The stale holder may refuse it (conflict: it took a newer write meanwhile) or be gone; the
  // next read or anti-entropy round tries again.
  if (!leg->result) spdlog::debug("read repair of {}: no answer within {} ms", what, timeout.count());
  else if (!*leg->result) spdlog::debug("read repair of {}: {}", what, leg->result->error().message);
}

}  // namespace

asio::awaitable<Result<FetchReply>> Node::fetch(const FetchRequest& req, ChunkSink& sink, Timeout timeout) {
  auto id = key_id_of(req.key, req.key_id);
  if (!id) co_return id.error();
  if (req.role != Role::client) co_return co_await fetch_local(req, *id, sink);
  if (!joined_) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", self_.uri));
  auto keep = shared_from_this();
  auto found = co_await find_successor(*id);
  if (!found) co_return found.error();
  // The owner first, then its successors: they hold replicas when the owner is gone, has not
  // received the key yet, or missed a write while it was away.
  std::vector<NodeRef> holders{found->owner};
  for (const auto& s : found->successors) {
    if (holders.size() >= std::max(1u, config_.replicas)) break;
    if (s.id != found->owner.id) holders.push_back(s);
  }
  // Ask holders what they hold until R of them hold a version (a tombstone counts: a read never
  // falls back to a copy older than a delete). "Nothing here" is no vote, since a node that
  // restarted empty or just took over the range knows nothing of the key, so the read asks on;
  // it needs R answers of any kind, and the newest version among them wins.
  const unsigned r_needed = std::min<unsigned>(quorum(config_.read_quorum), static_cast<unsigned>(holders.size()));
  struct Answer {
    NodeRef holder;
    std::optional<ValueMeta> meta;
  };
  std::vector<Answer> answers;
  Error last = make_error(Errc::unavailable, fmt::format("no holder of '{}' answered", req.key));
  FetchRequest probe{req.key, *id, Role::primary, 0, 0};
  std::size_t votes = 0;
  for (const auto& holder : holders) {
    if (votes >= r_needed) break;
    StringSink header_only(0);
    Result<FetchReply> r = make_error(Errc::internal, "unreached");
    if (holder.id == self_.id) {
      r = co_await fetch_local(probe, *id, header_only);
    } else {
      auto client = peer(holder);
      if (!client) co_return client.error();
      r = co_await (*client)->fetch(probe, header_only, timeout);
      if (r || !is_peer_failure(r.error().code)) peer_answered(holder);
      else peer_failed(holder, r.error());
    }
    if (r) {
      observe(r->meta.version);
      answers.push_back(Answer{holder, r->meta});
      ++votes;
    } else if (r.error().code == Errc::not_found) {
      answers.push_back(Answer{holder, std::nullopt});
    } else if (is_peer_failure(r.error().code)) {
      last = r.error();
    } else {
      co_return r.error();
    }
  }
  if (answers.size() < r_needed)
    co_return make_error(Errc::unavailable, fmt::format("only {} of the {} holders a read of '{}' needs answered; last: {}",
                                                        answers.size(), r_needed, req.key, last.message));
  const Answer* newest = nullptr;
  for (const auto& a : answers)
    if (a.meta && (!newest || newest->meta->version < a.meta->version)) newest = &a;
  if (newest) {
    for (const auto& a : answers) {
      if (a.meta && !(a.meta->version < newest->meta->version)) continue;
      if (!a.meta && newest->meta->deleted) continue;  // nothing there is as good as a tombstone
      auto from = peer(newest->holder);
      auto to = peer(a.holder);
      if (!from || !to) continue;
      asio::co_spawn(executor_,
                     repair_copy(executor_, *from, *to, *newest->meta, fmt::format("'{}' on {}", req.key, a.holder.uri),
                                 config_.rpc_timeout),
                     asio::detached);
    }
  }
  if (!newest || newest->meta->deleted)
    co_return make_error(Errc::not_found, fmt::format("key '{}' not found", req.key));
  const Version chosen = newest->meta->version;
  CountingSink counted(sink);
  VersionSink checked(counted, chosen);
  FetchRequest direct = req;
  direct.key_id = *id;
  direct.role = Role::primary;
  Error failed = make_error(Errc::unavailable, "unreached");
  for (const auto& a : answers) {
    if (!a.meta || a.meta->version != chosen) continue;
    Result<FetchReply> r = make_error(Errc::internal, "unreached");
    if (a.holder.id == self_.id) {
      r = co_await fetch_local(direct, *id, checked);
    } else {
      auto client = peer(a.holder);
      if (!client) co_return client.error();
      r = co_await (*client)->fetch(direct, checked, timeout);
      if (!r && is_peer_failure(r.error().code)) peer_failed(a.holder, r.error());
    }
    if (r) co_return r;
    if (counted.started() || !is_peer_failure(r.error().code)) co_return r.error();  // bytes went out
    failed = r.error();
  }
  co_return failed;
}

asio::awaitable<Result<DeleteReply>> Node::remove(const DeleteRequest& req, Timeout timeout) {
  auto id = key_id_of(req.key, req.key_id);
  if (!id) co_return id.error();
  if (req.role == Role::replica || req.role == Role::handoff) {
    if (req.version.zero()) co_return make_error(Errc::invalid_argument, "a replica's delete needs the tombstone's version");
    observe(req.version);
    auto r = put_tombstone(req.key, *id, req.version);
    if (!r) co_return r.error();
    co_return DeleteReply{self_, *r, req.version, 1};
  }
  if (leaving_) co_return leaving_error();
  if (!joined_) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", self_.uri));
  auto keep = shared_from_this();
  if (req.role == Role::primary) {
    // A delete is a write: a tombstone with a new version, on W copies before it is acknowledged.
    auto held = store_->open(*id);
    const Version version = next_version(held ? &held->meta() : nullptr);
    auto local = put_tombstone(req.key, *id, version);
    if (!local) co_return local.error();
    DeleteReply reply{self_, *local, version, 1};
    const DeleteRequest copy{req.key, *id, Role::replica, version};
    // A replica that does not answer soon is left to anti-entropy (see store_as_owner).
    const Timeout each = std::min(timeout, std::max(Timeout(1), config_.rpc_timeout / 2));
    for (const auto& target : replica_targets()) {
      auto client = peer(target);
      if (!client) continue;
      auto r = co_await (*client)->remove(copy, each);
      if (r) {
        peer_answered(target);
        reply.existed = reply.existed || r->existed;
        ++reply.copies;
      } else if (is_peer_failure(r.error().code)) {
        peer_failed(target, r.error());
      }
    }
    if (const unsigned w = quorum(config_.write_quorum); reply.copies < w)
      co_return make_error(Errc::unavailable,
                           fmt::format("the delete of '{}' reached {} of {} copies and the write quorum is {}: not "
                                       "acknowledged",
                                       req.key, reply.copies, config_.replicas, w));
    co_return reply;
  }
  auto found = co_await find_successor(*id);
  if (!found) co_return found.error();
  std::vector<NodeRef> owners{found->owner};
  owners.insert(owners.end(), found->successors.begin(), found->successors.end());
  const DeleteRequest forward{req.key, *id, Role::primary, {}};
  Error last = make_error(Errc::unavailable, "no owner reachable");
  for (const auto& owner : owners) {
    if (owner.id == self_.id) co_return co_await remove(forward, timeout);
    auto client = peer(owner);
    if (!client) co_return client.error();
    auto r = co_await (*client)->remove(forward, timeout);
    if (r || !is_peer_failure(r.error().code)) {
      peer_answered(owner);
      co_return r;
    }
    // The owner is dead: its successor holds the key's range now.
    peer_failed(owner, r.error());
    last = r.error();
  }
  co_return last;
}

asio::awaitable<Result<SyncReply>> Node::sync_replicas(const SyncRequest& req, Timeout) {
  // A leaving node takes no copies: the sender moves on to a successor that stays.
  if (leaving_) co_return leaving_error();
  SyncReply reply;
  for (const auto& k : req.keys) {
    observe(k.version);
    auto blob = store_->open(k.key_id);
    if (!blob || blob->meta().version < k.version) reply.missing.push_back(k.key_id);
    else if (k.version < blob->meta().version) reply.newer.push_back(k.key_id);
  }
  if (req.range_from && req.range_to) {
    std::unordered_set<Id, IdHash> offered;
    for (const auto& k : req.keys) offered.insert(k.key_id);
    for (const auto& m : store_->list_range(*req.range_from, *req.range_to))
      if (!offered.contains(m.key_id)) reply.newer.push_back(m.key_id);
  }
  co_return reply;
}

asio::awaitable<void> Node::maintain_replicas() {
  if (!joined_ || leaving_) co_return;
  purge_tombstones();
  if (!predecessor_ || config_.replicas <= 1) co_return;
  auto keep = shared_from_this();
  const Id pred = predecessor_->id;
  const auto version = store_->version();
  std::vector<KeyDigest> owned;  // built once, only if some replica needs an offer
  bool listed = false;
  const std::size_t page = std::max<std::size_t>(1, config_.sync_page_keys);
  for (const auto& target : replica_targets()) {
    auto& stamp = synced_[target.id];
    bool unchanged = stamp.store_version == version && stamp.predecessor == pred && stamp.rounds > 0;
    if (unchanged && stamp.rounds % std::max(1u, config_.full_sync_every) != 0) {
      ++stamp.rounds;
      continue;
    }
    if (!listed) {
      for (const auto& v : store_->list_range(pred, self_.id)) owned.push_back(KeyDigest{v.key_id, v.sha256, v.version});
      listed = true;
    }
    auto client = peer(target);
    if (!client) continue;
    bool complete = true;
    // In pages: one message per page, and the values it names moved before the next page.
    for (std::size_t at = 0; complete && (at == 0 || at < owned.size()); at += page) {
      // Pages tile the range (predecessor, self] in ring order: each names its bounds, so the
      // replica can also name what it holds there that this node lacks.
      const std::size_t end = std::min(at + page, owned.size());
      SyncRequest offer{self_, {}, at == 0 ? pred : owned[at - 1].key_id,
                        end == owned.size() ? self_.id : owned[end - 1].key_id};
      offer.keys.assign(owned.begin() + static_cast<std::ptrdiff_t>(std::min(at, owned.size())),
                        owned.begin() + static_cast<std::ptrdiff_t>(end));
      auto r = co_await (*client)->sync_replicas(offer, config_.rpc_timeout);
      if (!r) {
        peer_failed(target, r.error());
        complete = false;
        break;
      }
      for (const auto& id : r->missing) {
        auto pushed = co_await push_value(target, id, Role::replica);
        if (!pushed && pushed.error().code != Errc::conflict) complete = false;  // conflict: it has a newer one now
      }
      // It holds writes this node missed (it was away, or a write went around it): take them.
      for (const auto& id : r->newer)
        if (auto pulled = co_await pull_value(target, id); !pulled && pulled.error().code != Errc::conflict)
          complete = false;
    }
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
    if (!r && r.error().code == Errc::conflict) continue;  // it holds a newer version
    if (!r) {
      spdlog::warn("[{}] hand-off to {} stopped: {}", tag_, new_predecessor.uri, r.error().message);
      co_return;
    }
    ++sent;
  }
  if (sent) spdlog::info("[{}] handed {} keys to new predecessor {}", tag_, sent, new_predecessor.uri);
}

}  // namespace chord
