// Keys and values: a key lives on its owner (the successor of its id) and on the owner's next
// k-1 successors. Writes go to the owner, which gives them a version and replicates them; a
// write is acknowledged once W copies hold it. A delete is a write of a tombstone. Reads ask R
// holders and return the newest version. Every store keeps only the newest version it has seen,
// so copies that move late (hand-off, sync, a node back from a crash) never undo a newer write.
// Values always move in chunks.
#include <algorithm>
#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "chord/chunk_pipe.hpp"
#include "chord/chunks.hpp"
#include "chord/node.hpp"
#include "chord/storage.hpp"
#include "chord/blocking.hpp"
#include "chord/key_id.hpp"
#include "chord/sha256.hpp"
#include "chord/version_text.hpp"
#include "replica_leg.hpp"
#include "value_check.hpp"
#include "chord/tuple_awaitable.hpp"

namespace chord {

namespace {
// Chunks the owner may run ahead of a replica while a put streams through it: a replica's
// moment of slowness (a disk flush, a busy core) is absorbed instead of dropping it from the
// write. Costs up to this many chunks of memory per replica per put in flight.
constexpr std::size_t kReplicaLookahead = 3;

// Why a write missed its quorum, for the caller: each missing copy's reason, or that the ring
// offered no other holder at all.
std::string no_holders_or(const std::vector<std::string>& lost) {
  if (lost.empty()) return "this node knows no other holder: its successor list is empty";
  return fmt::format("{}", fmt::join(lost, "; "));
}

std::string missing_copy(const NodeRef& target, const std::string& why) { return fmt::format("{}: {}", target.uri, why); }
}  // namespace

Storage::Storage(RingView& ring, const NodeConfig& config, std::unique_ptr<Store> store)
    : ring_(ring), config_(config), store_(std::move(store)), tag_(ring.ring().short_hex(ring.self().id)) {}

Storage::~Storage() = default;

Result<void> Storage::writable() const {
  if (ring_.leaving()) return ring_.leaving_error();
  if (!ring_.joined()) return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", ring_.self().uri));
  return {};
}
Result<Id> Storage::key_id_of(const std::string& key, const std::optional<Id>& key_id) const {
  return chord::key_id_of(ring_.ring(), config_.max_key_bytes, key, key_id);
}

Result<void> Storage::check_meta(const ValueMeta& meta) const {
  if (meta.key.empty()) return make_error(Errc::invalid_argument, "a value needs a non-empty key");
  auto id = key_id_of(meta.key, meta.key_id);
  if (!id) return id.error();
  if (meta.size > config_.max_value_bytes)
    return make_error(Errc::too_large, fmt::format("value of {} bytes is over the {} byte limit", meta.size,
                                                   config_.max_value_bytes));
  return {};
}

// A lookup answered from a stale successor list (a predecessor that has not yet learnt of a
// node that joined or came back) names the node after the key's owner. Had that node ordered the
// write, its copies would have gone to holders that a read of the key's true holders does not
// ask: the data checker found deletes undone that way. So a node hands a primary write of a key
// before its predecessor on to that predecessor. Each hand-on reaches a node closer before the
// key, so the chain ends; a predecessor that is suspected, or fails the call, is gone, and its
// keys are this node's.
std::optional<NodeRef> Storage::owner_before(const Id& key_id) const {
  const auto& pred = ring_.predecessor();
  if (!pred || pred->id == ring_.self().id || ring_.suspected(pred->id)) return std::nullopt;
  if (in_half_open(key_id, pred->id, ring_.self().id)) return std::nullopt;
  return *pred;
}

// What a node keeps of a value it sends on, to send it again to another node if the first fails
// mid-stream: all of a value up to this size (one copy of it in memory while the put runs), so
// that a put whose owner is found silent only after the bytes left still goes through.
constexpr std::uint64_t kReplayBytes = 1 << 20;

// The caller's deadline covers the hand-on and, if the predecessor is silent (paused,
// partitioned, overloaded), this node's own handling of the request after it. Had the hand-on
// waited the whole deadline, the caller's call to this node would have timed out with it: a put or
// delete through an access node whose lookup named a paused owner failed, after the owner's
// deadline and then this node's, where it should have been ordered here. A live predecessor
// answers a ping on loopback or a LAN in well under a quarter of any usable deadline.
Timeout hand_on_budget(Timeout timeout) { return std::max(Timeout(1), timeout / 4); }

namespace {
// What is left of a caller's timeout since `started` (at least 1 ms: a call still gets its answer
// or its deadline, never a wait of zero).
Timeout left_of(Timeout timeout, std::chrono::steady_clock::time_point started) {
  const auto spent = std::chrono::duration_cast<Timeout>(std::chrono::steady_clock::now() - started);
  return std::max(Timeout(1), timeout - spent);
}
}  // namespace

asio::awaitable<std::optional<NodeRef>> Storage::answering_owner_before(const Id& key_id, Timeout timeout) {
  auto before = owner_before(key_id);
  if (!before) co_return std::nullopt;
  // Asked before the value moves: a stream begun cannot be replayed here if the predecessor then
  // fails to answer it.
  if (!co_await answers(*before, timeout)) co_return std::nullopt;
  co_return before;
}

asio::awaitable<Result<void>> Storage::answers(const NodeRef& node, Timeout timeout) {
  auto client = ring_.peer(node);
  if (!client) co_return client.error();
  const Empty hello;
  auto pong = co_await (*client)->ping(hello, hand_on_budget(timeout));
  ring_.report(node, pong);
  if (!pong) co_return pong.error();
  // A node that is leaving (or has not joined) answers, but does not take writes.
  if (pong->id != node.id)
    co_return make_error(Errc::unavailable, fmt::format("{} answers as another node", node.uri));
  co_return Result<void>{};
}

// A leaving node takes no writes: its keys are on their way to its successor. One sent to it as
// their owner (the sender's view has not heard of the leave yet) is answered once the leave has
// been announced, within a quarter of its deadline, so that the sender's next lookup names the
// node that holds the key now and the write goes there (forward_write); answered at once, the
// write was refused, as every lookup until then still named this node.
asio::awaitable<Error> Storage::refused_while_leaving(Role role, Timeout timeout) {
  if (role != Role::primary) co_return ring_.leaving_error();
  co_await ring_.until_left(hand_on_budget(timeout));
  if (ring_.joined()) co_return ring_.leaving_error();
  co_return make_error(Errc::not_ready, fmt::format("{} has left the ring: its keys are its successor's", ring_.self().uri));
}

// A write whose sender stopped waiting before this node got to it (it was paused, the request sat
// in a socket or a broker's queue) is not applied: the sender has since had it ordered by the
// key's next holder, and the key may have been written again after that; applied now, with a
// version newer than those, it would undo them (a delete undone by the put it followed).
Result<void> Storage::in_time(std::uint64_t not_after_ms) const {
  if (not_after_ms == 0) return {};
  const std::uint64_t now = config_.clock->wall_ms();
  if (now <= not_after_ms) return {};
  return make_error(Errc::cancelled, fmt::format("the write reached {} {} ms after its sender's deadline and was not "
                                                 "applied (the node was paused or busy, or the clocks of the two hosts "
                                                 "are apart: keep them in sync)",
                                                 ring_.self().uri, now - not_after_ms));
}

Version Storage::next_version(const ValueMeta* held) {
  hlc_ = std::max(hlc_ + 1, config_.clock->wall_ms() << 16);
  if (held && held->version.hlc >= hlc_) hlc_ = held->version.hlc + 1;
  return Version{hlc_, ring_.self().id};
}

void Storage::observe(const Version& v) { hlc_ = std::max(hlc_, v.hlc); }

unsigned Storage::quorum(unsigned asked) const {
  const unsigned k = std::max(1u, config_.replicas);
  unsigned q = asked ? std::min(asked, k) : k / 2 + 1;
  // A ring of fewer than k nodes cannot hold k copies: count the nodes there are (suspected ones
  // too, so that a dead replica does not lower the bar).
  std::unordered_set<Id, IdHash> distinct{ring_.self().id};
  for (const auto& n : ring_.successors().nodes()) distinct.insert(n.id);
  peak_holders_ = std::min<std::size_t>(k, std::max(peak_holders_, distinct.size()));
  return std::max(1u, std::min(q, static_cast<unsigned>(peak_holders_)));
}

asio::awaitable<Result<bool>> Storage::put_tombstone(const std::string& key, const Id& key_id,
                                                     const Version& version) {
  auto held = store_->meta(key_id);
  const bool existed = held && !held->deleted;
  static const Digest nothing = Sha256::of("");
  const ValueMeta meta{key, key_id, 0, nothing, version, true};
  auto write = [&]() -> Result<bool> {
    auto writer = store_->begin(meta);
    Result<void> r = writer ? (*writer)->commit() : Result<void>(writer.error());
    if (!r && r.error().code == Errc::conflict && holds(meta)) return false;  // this delete, delivered twice
    if (!r) return r.error();
    return existed;
  };
  co_return co_await run_blocking(store_->io_pool(), write);
}

std::vector<NodeRef> Storage::holders_of(const LookupReply& found) const {
  std::vector<NodeRef> out{found.owner};
  for (const auto& s : found.successors) {
    if (out.size() >= std::max(1u, config_.replicas)) break;
    if (s.id != found.owner.id) out.push_back(s);
  }
  return out;
}

std::vector<NodeRef> Storage::replica_targets(bool with_suspected) const {
  // The holders of this node's keys after itself are its first k-1 successors, suspected or not
  // (suspicion is one missed deadline). Writes count their quorum among these and reads ask
  // these: a copy written past a suspected holder, to the next node down, counted toward W but no
  // read that asked the true holders saw it, and R + W > k no longer held. Unsuspected first, so
  // that a conditional write's check, which stops at R answers, spares a slow one.
  std::vector<NodeRef> out;
  for (const auto& n : ring_.successors().nodes()) {
    if (out.size() + 1 >= config_.replicas) break;
    out.push_back(n);
  }
  std::stable_partition(out.begin(), out.end(), [&](const NodeRef& n) { return !ring_.suspected(n.id); });
  if (!with_suspected) std::erase_if(out, [&](const NodeRef& n) { return ring_.suspected(n.id); });
  return out;
}

asio::awaitable<Result<std::optional<ValueMeta>>> Storage::checked_condition(const std::string& key, const Id& key_id,
                                                                            const Version& expected) {
  // Judged against the newest version among R holders (this owner and its replicas), not this
  // node's copy alone: an owner that just took the range over, or missed a write while away,
  // would otherwise judge by what it happens to lack. With R + W > k that includes every
  // acknowledged write.
  std::optional<ValueMeta> newest = store_->meta(key_id);
  unsigned answers = 1;
  const unsigned needed = quorum(config_.read_quorum);
  const Timeout each = std::max(Timeout(1), config_.rpc_timeout / 3);
  for (const auto& target : replica_targets(true)) {
    if (answers >= std::max(needed, 1u) && newest && newest->version == expected) break;
    auto client = ring_.peer(target);
    if (!client) continue;
    StringSink header_only(0);
    const FetchRequest probe{key, key_id, Role::replica, 0, 0};
    auto r = co_await (*client)->fetch(probe, header_only, each);
    if (r) {
      ring_.peer_answered(target);
      observe(r->meta.version);
      if (!newest || newest->version < r->meta.version) newest = r->meta;
      ++answers;
    } else if (r.error().code == Errc::not_found) {
      ++answers;
    } else if (is_peer_failure(r.error().code)) {
      ring_.peer_failed(target, r.error());
    }
  }
  if (answers < needed)
    co_return make_error(Errc::unavailable, fmt::format("the condition on '{}' needs {} holders and {} answered", key,
                                                        needed, answers));
  // Another write of the key began meanwhile: its version is not known yet, so no version can
  // be promised to be current. Checked with no wait between it and the new version being given.
  if (auto w = writing_.find(key_id); w != writing_.end() && w->second > 1)
    co_return make_error(Errc::precondition_failed,
                         fmt::format("another write of '{}' is in progress; read it again and retry", key));
  const Version current = newest && !newest->deleted ? newest->version : Version{};
  if (current != expected) {
    const auto shown = [&](const Version& v) { return v.zero() ? std::string("absent") : version_text(v, ring_.ring()); };
    co_return make_error(Errc::precondition_failed, fmt::format("'{}' is at version {}, not {}: nothing was changed",
                                                                key, shown(current), shown(expected)));
  }
  co_return newest;
}

asio::awaitable<Result<void>> Storage::store_local(const ValueMeta& meta, ChunkSource& chunks, const ChunkTap& tap) {
  auto* io = store_->io_pool();
  auto writer = co_await run_blocking(io, [&] { return store_->begin(meta); });
  // The same write delivered twice (a replica leg and an anti-entropy push of one version that
  // crossed): the holder has it, which is what the sender asks. The stream is still taken to its
  // end, so that the sender sees a copy made, not a replica that stopped reading.
  const bool already = !writer && writer.error().code == Errc::conflict && holds(meta);
  if (!writer && !already) co_return writer.error();
  std::uint64_t taken = 0;  // bytes of the value taken so far
  for (;;) {
    auto chunk = co_await chunks.next();
    if (!chunk) co_return chunk.error();
    if (!*chunk) break;
    if (already) continue;
    if ((*chunk)->size() > config_.chunk_bytes)
      co_return make_error(Errc::too_large, fmt::format("a chunk of {} bytes is over the {} byte limit",
                                                        (*chunk)->size(), config_.chunk_bytes));
    // Past the announced size the value is refused here before a replica sees the chunk: a
    // replica whose stream is cancelled after the bytes that match the header would otherwise
    // take the cancel for the end and keep them (gRPC ends a cancelled stream as it ends one
    // its sender closed).
    if ((*chunk)->size() > meta.size - taken) co_return longer_than_announced(meta);
    taken += (*chunk)->size();
    // The replicas' copies are taken first, so that the store keeps the chunk itself: one copy
    // per replica, and none for this node (a memory store held a copy of its own).
    if (tap) co_await tap(**chunk);
    std::string bytes = std::move(**chunk);
    auto appended = co_await run_blocking(io, [&] { return (*writer)->append_owned(std::move(bytes)); });
    if (!appended) co_return appended;
  }
  if (already) co_return Result<void>{};
  auto committed = co_await run_blocking(io, [&] { return (*writer)->commit(); });
  if (!committed && committed.error().code == Errc::conflict && holds(meta)) co_return Result<void>{};
  co_return committed;
}

bool Storage::holds(const ValueMeta& meta) const {
  auto held = store_->meta(meta.key_id);
  return held && held->version == meta.version && held->sha256 == meta.sha256 && held->deleted == meta.deleted;
}

asio::awaitable<Result<StoreReply>> Storage::store_as_owner(const ValueMeta& meta, ChunkSource& chunks) {
  // Replicas receive each chunk as it arrives rather than the whole value afterwards: the put's
  // answer then comes right after its last chunk, whatever the value's size, and it still
  // comes only once W copies exist, so an acknowledged put survives W-1 failures.
  // A value that came whole (one message: every value up to a chunk) goes to the replicas as it
  // is, at once, while this node stores its own copy: no pipe per replica to hand the chunk and
  // the end through, and a disk write here overlaps the replicas' calls. Known after a look at
  // the stream's first chunk and what follows it, which a longer value then gets back.
  std::vector<std::string> taken;
  bool ended = false;
  for (int i = 0; i < 2 && !ended; ++i) {
    auto chunk = co_await chunks.next();
    if (!chunk) co_return chunk.error();
    if (*chunk) taken.push_back(std::move(**chunk));
    else ended = true;
  }
  const bool whole = ended && taken.size() <= 1 && (taken.empty() ? 0 : taken.front().size()) == meta.size &&
                     meta.size <= config_.chunk_bytes;
  std::string bytes = whole && !taken.empty() ? std::move(taken.front()) : std::string();
  PeekedSource rest(chunks, whole ? std::vector<std::string>{} : std::move(taken), ended);
  std::vector<std::shared_ptr<ReplicaLeg>> legs;
  auto any_done = std::make_shared<asio::steady_timer>(ring_.executor(), asio::steady_timer::time_point::max());
  const unsigned w = quorum(config_.write_quorum);
  std::vector<std::string> lost;  // why each missing copy is missing, for the caller
  for (const auto& target : replica_targets(true)) {
    auto client = ring_.peer(target);
    if (!client) {
      lost.push_back(missing_copy(target, client.error().message));
      continue;
    }
    auto leg = whole ? std::make_shared<ReplicaLeg>(ring_.executor(), target, bytes)
                     : std::make_shared<ReplicaLeg>(ring_.executor(), target, config_.rpc_timeout, kReplicaLookahead);
    leg->any_done = any_done;
    asio::co_spawn(ring_.executor(), run_leg(*client, leg, StoreRequest{meta, Role::replica}, config_.rpc_timeout),
                   asio::detached);
    legs.push_back(std::move(leg));
  }
  // A replica never commits a value the owner refused, unless it had the value whole and sent
  // before this node's store refused it: then the replica checks size and digest itself, and
  // what is left (this node's disk failing) is a refused write that took effect, which the
  // consistency model allows.
  auto abandon = [&] {
    for (auto& leg : legs) leg->abandon();
  };
  // A replica that does not keep up (paused, overloaded) is dropped from this write rather than
  // holding it up: the write needs W copies, not k, and anti-entropy brings the laggard up to
  // date. For REST and AMQP every chunk is a call with the caller's deadline of rpc_timeout, so
  // a chunk waits at most lag for all replicas together, and the end at most rpc_timeout / 2
  // (end marker and commits): 3/4 of the caller's deadline, leaving it time for its own answer.
  using clock = std::chrono::steady_clock;
  const Timeout lag = std::max(Timeout(1), config_.rpc_timeout / 4);
  // Named: a temporary inside a co_await expression is a g++ 12 hazard.
  const ChunkTap feed = [&](const std::string& chunk) -> asio::awaitable<void> {
    const auto by = clock::now() + lag;
    for (auto& leg : legs)
      if (leg->fed && !co_await leg->pipe->push_until(chunk, by)) leg->fed = false;
  };
  StringSource mine = StringSource::whole(std::move(bytes));
  Result<void> stored;
  if (whole) stored = co_await store_local(meta, mine);
  else stored = co_await store_local(meta, rest, feed);
  if (!stored) {
    abandon();
    co_return stored.error();
  }
  StoreReply reply{ring_.self(), meta.size, meta.sha256, 1, meta.version};
  auto end_by = clock::now() + config_.rpc_timeout / 2;
  for (auto& leg : legs)
    if (leg->pipe && leg->fed && !co_await leg->pipe->push_until(std::nullopt, end_by)) leg->fed = false;
  // The replicas commit at the same time. Once W copies exist the write is acknowledged after a
  // short grace for the rest (so that a healthy ring reports all k): a paused replica then costs
  // the caller the grace, not the whole deadline.
  const Timeout grace = std::max(Timeout(1), config_.rpc_timeout / 4);
  for (;;) {
    unsigned committed = 1, pending = 0;
    for (const auto& leg : legs) {
      if (!leg->fed) continue;
      if (!leg->result) ++pending;
      else if (*leg->result) ++committed;
    }
    if (committed >= w) end_by = std::min(end_by, clock::now() + grace);
    if (pending == 0 || clock::now() >= end_by) break;
    asio::steady_timer limit(ring_.executor(), end_by);
    using namespace asio::experimental::awaitable_operators;
    co_await (any_done->async_wait(tuple_awaitable) ||
              limit.async_wait(tuple_awaitable));
  }
  for (auto& leg : legs) {
    if (leg->result && *leg->result && leg->fed) {
      ++reply.copies;
      ring_.peer_answered(leg->target);
      continue;
    }
    // A leg that got every chunk may still commit after this answer; one that did not is ended.
    if (!leg->fed) leg->abandon();
    Error why = leg->result && !*leg->result ? leg->result->error()
                : leg->fed ? make_error(Errc::deadline_exceeded, "did not confirm its copy in time")
                           : make_error(Errc::deadline_exceeded,
                                        fmt::format("did not keep up (a chunk waited over {} ms)", lag.count()));
    // Slower than the grace is not failed: suspecting it would route around a live replica.
    if (is_peer_failure(why.code) && (leg->result || !leg->fed)) ring_.peer_failed(leg->target, why);
    spdlog::warn("[{}] replica of '{}' on {}: {}", tag_, meta.key, leg->target.uri, why.message);
    lost.push_back(missing_copy(leg->target, why.message));
  }
  if (reply.copies < w)
    co_return make_error(Errc::unavailable,
                         fmt::format("'{}' was written to {} of {} copies and the write quorum is {}: not acknowledged "
                                     "({})",
                                     meta.key, reply.copies, config_.replicas, w, no_holders_or(lost)));
  co_return reply;
}

asio::awaitable<Result<void>> Storage::push_value(const NodeRef& target, const Id& key_id, Role role) {
  auto* io = store_->io_pool();
  auto blob = co_await run_blocking(io, [&] { return store_->open(key_id); });
  if (!blob) co_return make_error(Errc::not_found, "value vanished before it could be sent");
  auto client = ring_.peer(target);
  if (!client) co_return client.error();
  BlobSource source(blob, config_.chunk_bytes, 0, UINT64_MAX, io);
  const StoreRequest req{blob->meta(), role};
  auto r = co_await (*client)->store(req, source, config_.rpc_timeout);
  if (!r) {
    ring_.peer_failed(target, r.error());
    co_return r.error();
  }
  ring_.peer_answered(target);
  co_return Result<void>{};
}

namespace {

// A write that every holder of its key failed to take, as a peer failure: the caller hears how
// many were tried and why the last one failed, with that failure's code.
Error none_took(const std::string& key, std::size_t holders, const Error& last) {
  return make_error(last.code, fmt::format("none of the {} holders of '{}' took the write; the last: {}", holders, key,
                                           last.message));
}

// Writes a fetched value straight into the store: a pull of a newer version from a replica.
class StoreSink final : public ChunkSink {
 public:
  explicit StoreSink(Store& store) : store_(store) {}
  asio::awaitable<Result<void>> begin(const FetchReply& header) override {
    auto w = co_await run_blocking(store_.io_pool(), [&] { return store_.begin(header.meta); });
    if (!w) co_return w.error();
    writer_ = std::move(*w);
    co_return Result<void>{};
  }
  asio::awaitable<Result<void>> write(std::string chunk) override {
    co_return co_await run_blocking(store_.io_pool(), [&] { return writer_->append_owned(std::move(chunk)); });
  }
  asio::awaitable<Result<void>> commit() {
    if (!writer_) co_return make_error(Errc::internal, "nothing was fetched");
    co_return co_await run_blocking(store_.io_pool(), [&] { return writer_->commit(); });
  }

 private:
  Store& store_;
  std::unique_ptr<ValueWriter> writer_;
};

}  // namespace

asio::awaitable<Result<void>> Storage::pull_value(const NodeRef& from, const Id& key_id) {
  auto client = ring_.peer(from);
  if (!client) co_return client.error();
  StoreSink sink(*store_);
  const FetchRequest req{"", key_id, Role::replica, 0, std::nullopt};
  auto r = co_await (*client)->fetch(req, sink, config_.rpc_timeout);
  if (!r) {
    if (is_peer_failure(r.error().code)) ring_.peer_failed(from, r.error());
    co_return r.error();
  }
  observe(r->meta.version);
  co_return co_await sink.commit();
}

// A client's put or delete at an access node: the key's holders as a lookup names them, in
// order. The owner dead or silent: its successor holds the key's range now, and so on down the
// key's k holders (past them, a write would land where reads do not look), as long as the write
// can be sent again (resend). The owner leaving or gone from the ring (see refused_while_leaving),
// or every holder a remembered lookup named failing: a new lookup, within what is left of the
// deadline, up to kLookupsPastLeaves times (neighbours that leave together are met one after the
// other).
template <class Reply, class Mine, class Send, class Resend>
asio::awaitable<Result<Reply>> Storage::forward_write(const std::string& key, const Id& key_id, Timeout timeout,
                                                      Mine& mine, Send& send, Resend resend) {
  constexpr unsigned kLookupsPastLeaves = 3;
  const auto started = std::chrono::steady_clock::now();
  for (unsigned round = 0;; ++round) {
    auto found = co_await ring_.find_owner(key_id);
    if (!found) co_return found.error();
    const auto owners = holders_of(*found);
    const Timeout budget = round > 0 ? left_of(timeout, started) : timeout;
    Error last = make_error(Errc::unavailable, "unreached");
    bool left = false;
    for (const auto& owner : owners) {
      if (owner.id == ring_.self().id) co_return co_await mine(budget);
      auto r = co_await send(owner, budget);
      if (!r && r.error().code == Errc::not_ready && round < kLookupsPastLeaves && resend()) {
        left = true;
        break;
      }
      if (r || !is_peer_failure(r.error().code) || !resend()) co_return r;
      last = r.error();
    }
    // Holders remembered from an earlier lookup (route_cache.hpp: its answers name no path) that
    // all failed may all have left since: a fresh lookup names the ones the ring knows now, as it
    // would have without the cache. One that routed is final: past the k holders it names, a
    // write would land where reads do not look.
    const bool remembered = found->path.empty();
    if (left || (remembered && round < kLookupsPastLeaves && resend())) continue;
    co_return none_took(key, owners.size(), last);
  }
}

asio::awaitable<Result<StoreReply>> Storage::store(const StoreRequest& given, ChunkSource& chunks, Timeout timeout) {
  StoreRequest req = given;
  if (req.derive_key_id && !req.meta.key.empty() && req.meta.key.size() <= config_.max_key_bytes)
    req.meta.key_id = ring_.ring().hash(req.meta.key);
  req.derive_key_id = false;
  if (auto r = check_meta(req.meta); !r) co_return r.error();
  if (auto r = in_time(req.not_after_ms); !r) co_return r.error();
  if (ring_.leaving()) co_return co_await refused_while_leaving(req.role, timeout);
  if (!ring_.joined()) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", ring_.self().uri));
  auto keep = ring_.hold();
  switch (req.role) {
    case Role::replica:
    case Role::handoff: {
      if (req.meta.version.zero())
        co_return make_error(Errc::invalid_argument, "a replica or hand-off needs the value's version");
      observe(req.meta.version);
      if (auto r = co_await store_local(req.meta, chunks); !r) co_return r.error();
      co_return StoreReply{ring_.self(), req.meta.size, req.meta.sha256, 1, req.meta.version};
    }
    case Role::primary: {
      ChunkSource* source = &chunks;
      std::optional<RewindableSource> replay;
      if (auto before = co_await answering_owner_before(req.meta.key_id, timeout)) {
        replay.emplace(chunks, kReplayBytes);
        auto r = co_await store_at(*before, req, *replay, timeout);
        // Gone, and the value can still be had from its start: its range is this node's.
        if (r || !is_peer_failure(r.error().code) || !replay->rewind()) co_return r;
        source = &*replay;
      }
      // The owner orders the writes of its keys: whatever version the sender named is replaced.
      ValueMeta meta = req.meta;
      meta.deleted = false;
      const WriteGuard writing(writing_, meta.key_id);
      auto held = store_->meta(meta.key_id);
      if (req.if_version) {
        auto newest = co_await checked_condition(meta.key, meta.key_id, *req.if_version);
        if (!newest) co_return newest.error();
        held = *newest;
      }
      meta.version = next_version(held ? &*held : nullptr);
      co_return co_await store_as_owner(meta, *source);
    }
    case Role::shared:
      co_return make_error(Errc::invalid_argument, "role SHARED is for fetching a shared file, not for a store");
    case Role::client: break;
  }
  RewindableSource replay(chunks, kReplayBytes);
  auto mine = [&](Timeout budget) -> asio::awaitable<Result<StoreReply>> {
    const StoreRequest primary{req.meta, Role::primary, false, req.if_version};
    co_return co_await store(primary, replay, budget);
  };
  auto send = [&](const NodeRef& owner, Timeout budget) -> asio::awaitable<Result<StoreReply>> {
    // A value longer than what is kept of it cannot be sent again once it began to move, so its
    // holder is asked first whether it answers: one that is silent and not yet found so (paused,
    // cut off) costs a ping's deadline and the next holder takes the value, where the put failed.
    if (req.meta.size > kReplayBytes)
      if (auto a = co_await answers(owner, budget); !a) co_return a.error();
    co_return co_await store_at(owner, req, replay, budget);
  };
  co_return co_await forward_write<StoreReply>(req.meta.key, req.meta.key_id, timeout, mine, send,
                                               [&] { return replay.rewind(); });
}

asio::awaitable<Result<StoreReply>> Storage::store_at(const NodeRef& owner, const StoreRequest& req, ChunkSource& chunks,
                                                      Timeout timeout) {
  auto client = ring_.peer(owner);
  if (!client) co_return client.error();
  ValueMeta meta = req.meta;
  meta.version = {};
  meta.deleted = false;
  const StoreRequest forward{meta, Role::primary, false, req.if_version, not_after(timeout, *config_.clock)};
  auto r = co_await (*client)->store(forward, chunks, timeout);
  ring_.report(owner, r);
  co_return r;
}

asio::awaitable<Result<DeleteReply>> Storage::remove(const DeleteRequest& req, Timeout timeout) {
  auto id = key_id_of(req.key, req.key_id);
  if (!id) co_return id.error();
  if (req.role == Role::shared)
    co_return make_error(Errc::invalid_argument, "role SHARED is for fetching a shared file, not for a delete");
  if (auto r = in_time(req.not_after_ms); !r) co_return r.error();
  if (req.role == Role::replica || req.role == Role::handoff) {
    if (req.version.zero()) co_return make_error(Errc::invalid_argument, "a replica's delete needs the tombstone's version");
    observe(req.version);
    auto r = co_await put_tombstone(req.key, *id, req.version);
    if (!r) co_return r.error();
    co_return DeleteReply{ring_.self(), *r, req.version, 1};
  }
  if (ring_.leaving()) co_return co_await refused_while_leaving(req.role, timeout);
  if (!ring_.joined()) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", ring_.self().uri));
  auto keep = ring_.hold();
  if (req.role == Role::primary) {
    if (auto before = co_await answering_owner_before(*id, timeout)) {
      auto r = co_await remove_at(*before, req, *id, timeout);
      if (r || !is_peer_failure(r.error().code)) co_return r;
    }
    // A delete is a write: a tombstone with a new version, on W copies before it is acknowledged.
    const WriteGuard writing(writing_, *id);
    auto held = store_->meta(*id);
    if (req.if_version) {
      auto newest = co_await checked_condition(req.key, *id, *req.if_version);
      if (!newest) co_return newest.error();
      held = *newest;
    }
    const Version version = next_version(held ? &*held : nullptr);
    auto local = co_await put_tombstone(req.key, *id, version);
    if (!local) co_return local.error();
    DeleteReply reply{ring_.self(), *local, version, 1};
    const DeleteRequest copy{req.key, *id, Role::replica, version};
    // A replica that does not answer soon is left to anti-entropy (see store_as_owner).
    const Timeout each = std::min(timeout, std::max(Timeout(1), config_.rpc_timeout / 2));
    const unsigned w = quorum(config_.write_quorum);
    std::vector<std::string> lost;
    for (const auto& target : replica_targets(true)) {
      auto client = ring_.peer(target);
      if (!client) {
        lost.push_back(missing_copy(target, client.error().message));
        continue;
      }
      auto r = co_await (*client)->remove(copy, each);
      if (r) {
        ring_.peer_answered(target);
        reply.existed = reply.existed || r->existed;
        ++reply.copies;
      } else {
        if (is_peer_failure(r.error().code)) ring_.peer_failed(target, r.error());
        lost.push_back(missing_copy(target, r.error().message));
      }
    }
    if (reply.copies < w)
      co_return make_error(Errc::unavailable,
                           fmt::format("the delete of '{}' reached {} of {} copies and the write quorum is {}: not "
                                       "acknowledged ({})",
                                       req.key, reply.copies, config_.replicas, w, no_holders_or(lost)));
    co_return reply;
  }
  auto mine = [&](Timeout budget) -> asio::awaitable<Result<DeleteReply>> {
    const DeleteRequest primary{req.key, *id, Role::primary, {}, req.if_version};
    co_return co_await remove(primary, budget);
  };
  auto send = [&](const NodeRef& owner, Timeout budget) -> asio::awaitable<Result<DeleteReply>> {
    co_return co_await remove_at(owner, req, *id, budget);
  };
  co_return co_await forward_write<DeleteReply>(req.key, *id, timeout, mine, send, [] { return true; });
}

asio::awaitable<Result<DeleteReply>> Storage::remove_at(const NodeRef& owner, const DeleteRequest& req, const Id& key_id,
                                                        Timeout timeout) {
  auto client = ring_.peer(owner);
  if (!client) co_return client.error();
  const DeleteRequest forward{req.key, key_id, Role::primary, {}, req.if_version, not_after(timeout, *config_.clock)};
  auto r = co_await (*client)->remove(forward, timeout);
  ring_.report(owner, r);
  co_return r;
}


asio::awaitable<Result<ListKeysReply>> Storage::list_keys(const ListKeysRequest& req, Timeout) {
  auto limit = req.limit == 0 ? config_.max_list_keys : std::min(req.limit, config_.max_list_keys);
  ListKeysReply reply;
  reply.keys = store_->list();
  std::erase_if(reply.keys, [](const ValueMeta& m) { return m.deleted; });
  if (reply.keys.size() > limit) {
    reply.keys.resize(limit);
    reply.truncated = true;
  }
  co_return reply;
}
}  // namespace chord
