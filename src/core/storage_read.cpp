// Reads: the access node asks R holders what they hold, takes the newest version (a tombstone
// outranks older values: a read never falls back to a copy older than a delete), streams it from
// a holder of that version and repairs the holders that answered older or nothing.
#include <algorithm>
#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "chord/chunk_pipe.hpp"
#include "chord/blocking.hpp"
#include "chord/chunks.hpp"
#include "chord/node.hpp"
#include "chord/storage.hpp"
#include "replica_leg.hpp"
#include "chord/tuple_awaitable.hpp"

namespace chord {

asio::awaitable<Result<FetchReply>> Storage::fetch_local(const FetchRequest& req, const Id& key_id, ChunkSink& sink) {
  auto* io = store_->io_pool();
  auto blob = co_await run_blocking(io, [&] { return store_->open(key_id); });
  if (!blob) co_return make_error(Errc::not_found, fmt::format("key '{}' is not stored on {}", req.key, ring_.self().uri));
  const auto& meta = blob->meta();
  if (meta.deleted) {
    // A holder says what it holds, tombstones too: the reader must see that a delete is newer
    // than a copy elsewhere. Only the access node turns it into "not found".
    const FetchReply header{meta, ring_.self()};
    if (auto r = co_await sink.begin(header); !r) co_return r.error();
    co_return header;
  }
  if (req.offset > meta.size)
    co_return make_error(Errc::invalid_argument,
                         fmt::format("offset {} is past the value's {} bytes", req.offset, meta.size));
  FetchReply header{meta, ring_.self()};
  if (auto r = co_await sink.begin(header); !r) co_return r.error();
  BlobSource source(blob, config_.chunk_bytes, req.offset, req.length.value_or(UINT64_MAX), io);
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
asio::awaitable<void> repair_copy(asio::any_io_executor ex, std::shared_ptr<ChordService> from, Role from_role,
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
  PipeSink sink(*leg->pipe, meta.version, timeout);
  const FetchRequest req{meta.key, meta.key_id, from_role, 0, std::nullopt};
  auto r = co_await from->fetch(req, sink, timeout);
  if (!r) {
    leg->pipe->close();
    spdlog::debug("read repair of {}: {}", what, r.error().message);
    co_return;
  }
  std::optional<std::string> end;
  const bool ended = co_await leg->pipe->push(std::move(end), timeout);
  if (!ended) leg->pipe->close();
  if (!leg->result) {
    asio::steady_timer limit(ex, timeout);
    using namespace asio::experimental::awaitable_operators;
    co_await (leg->done.async_wait(tuple_awaitable) ||
              limit.async_wait(tuple_awaitable));
  }
  // The stale holder may refuse it (conflict: it took a newer write meanwhile) or be gone; the
  // next read or anti-entropy round tries again.
  if (!leg->result) spdlog::debug("read repair of {}: no answer within {} ms", what, timeout.count());
  else if (!*leg->result) spdlog::debug("read repair of {}: {}", what, leg->result->error().message);
}

// What a read learned from one holder: the version it holds (none: nothing there), and which
// probe asked it, for the bytes that came with the answer.
struct Answer {
  NodeRef holder;
  std::optional<ValueMeta> meta;
  std::size_t probe;
};

// Values up to this size come back with the answer of the first holder a read asks.
constexpr std::uint64_t kInlineReadBytes = 64 * 1024;

}  // namespace

struct Storage::ProbeRound {
  explicit ProbeRound(asio::any_io_executor ex) : wake(ex, asio::steady_timer::time_point::max()) {}
  struct Probe {
    NodeRef holder;
    Result<FetchReply> reply;
    StringSink sink;
  };
  std::vector<Probe> probes;  // reserved for every holder: running probes write into their sinks
  std::size_t pending = 0;
  asio::steady_timer wake;  // cancelled by each probe that ends: the read counts what is pending
};

asio::awaitable<void> Storage::probe(std::shared_ptr<ProbeRound> round, std::size_t index, std::string key, Id key_id,
                                     std::uint64_t bytes, Role role, Timeout timeout, std::shared_ptr<const void> /*keep*/) {
  const FetchRequest ask{key, key_id, role, 0, bytes};
  const NodeRef holder = round->probes[index].holder;
  ChunkSink& sink = round->probes[index].sink;
  Result<FetchReply> r = make_error(Errc::internal, "unreached");
  if (holder.id == ring_.self().id) {
    r = co_await fetch_held(ask, key_id, sink, timeout);
  } else {
    auto client = ring_.peer(holder);
    if (!client) {
      r = client.error();
    } else {
      r = co_await (*client)->fetch(ask, sink, timeout);
      ring_.report(holder, r);
    }
  }
  round->probes[index].reply = std::move(r);
  --round->pending;
  round->wake.cancel();
}

asio::awaitable<Result<FetchReply>> Storage::fetch(const FetchRequest& req, ChunkSink& sink, Timeout timeout) {
  auto id = key_id_of(req.key, req.key_id);
  if (!id) co_return id.error();
  if (req.role == Role::shared)
    co_return make_error(Errc::invalid_argument, "role SHARED names a shared file: the node serves it, not its store");
  if (req.role != Role::client) co_return co_await fetch_held(req, *id, sink, timeout);
  if (!ring_.joined()) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", ring_.self().uri));
  auto keep = ring_.hold();
  if (req.version)
    if (auto pinned = co_await fetch_pinned(req, *id, sink, timeout)) co_return std::move(*pinned);
  auto found = co_await ring_.find_owner(*id);
  if (!found) co_return found.error();
  // The owner first, then its successors: they hold replicas when the owner is gone, has not
  // received the key yet, or missed a write while it was away. The owner is asked as the owner
  // (Role::primary), the others as replicas: a node named the owner of a key before its own
  // predecessor, by a lookup answered from a stale successor list, answers with the newer of its
  // copy and that predecessor's, as writes of the key are ordered there (owner_before).
  auto holders = holders_of(*found);
  auto role_of = [&](const NodeRef& holder) { return holder.id == found->owner.id ? Role::primary : Role::replica; };
  // Holders this node suspects are asked last: a read stops at R answers, and a live holder
  // then spares it a dead one's deadline, while a busy one is still asked when it is needed.
  std::stable_partition(holders.begin() + 1, holders.end(), [&](const NodeRef& h) { return !ring_.suspected(h.id); });
  // Ask holders what they hold until R of them hold a version (a tombstone counts: a read never
  // falls back to a copy older than a delete). "Nothing here" is no vote, since a node that
  // restarted empty or just took over the range knows nothing of the key, so the read asks on;
  // it needs R answers of any kind, and the newest version among them wins.
  const unsigned r_needed = std::min<unsigned>(quorum(config_.read_quorum), static_cast<unsigned>(holders.size()));
  // The holders are asked at once, R at a time, and the first of them (the owner, unless it is
  // suspected) for the value itself when the value is small: a read of a small value then costs
  // the lookup and one round of parallel calls, not R calls in a row and a fetch after them.
  // (A range from the start qualifies too: the REST and AMQP clients ask for a chunk at a time, and
  // a value shorter than the range is all of it.)
  const std::uint64_t inline_bytes =
      req.offset == 0 ? std::min({kInlineReadBytes, std::uint64_t{config_.chunk_bytes}, req.length.value_or(UINT64_MAX)})
                      : 0;
  auto round = std::make_shared<ProbeRound>(ring_.executor());
  round->probes.reserve(holders.size());  // a probe may start inside co_spawn: its sink must not move
  std::vector<Answer> answers;
  Error last = make_error(Errc::unavailable, fmt::format("no holder of '{}' answered", req.key));
  std::size_t next = 0, votes = 0;
  while (votes < r_needed && next < holders.size()) {
    const std::size_t first = round->probes.size();
    const std::size_t batch = std::min<std::size_t>(r_needed - votes, holders.size() - next);
    for (std::size_t i = 0; i < batch; ++i, ++next) {
      round->probes.push_back(ProbeRound::Probe{holders[next], make_error(Errc::internal, "unreached"), StringSink(0)});
      const std::uint64_t wanted = next == 0 ? inline_bytes : 0;
      if (wanted) round->probes.back().sink = StringSink(wanted);
      ++round->pending;
      asio::co_spawn(ring_.executor(),
                     probe(round, round->probes.size() - 1, req.key, *id, wanted, role_of(holders[next]), timeout, keep),
                     asio::detached);
    }
    while (round->pending > 0) co_await round->wake.async_wait(tuple_awaitable);
    for (std::size_t i = first; i < round->probes.size(); ++i) {
      auto& p = round->probes[i];
      if (p.reply) {
        observe(p.reply->meta.version);
        answers.push_back(Answer{p.holder, p.reply->meta, i});
        ++votes;
      } else if (p.reply.error().code == Errc::not_found) {
        answers.push_back(Answer{p.holder, std::nullopt, i});
      } else if (is_peer_failure(p.reply.error().code)) {
        last = p.reply.error();
      } else {
        co_return p.reply.error();
      }
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
      auto from = ring_.peer(newest->holder);
      auto to = ring_.peer(a.holder);
      if (!from || !to) continue;
      asio::co_spawn(ring_.executor(),
                     repair_copy(ring_.executor(), *from, role_of(newest->holder), *to, *newest->meta,
                                 fmt::format("'{}' on {}", req.key, a.holder.uri), config_.rpc_timeout),
                     asio::detached);
    }
  }
  if (!newest || newest->meta->deleted)
    co_return make_error(Errc::not_found, fmt::format("key '{}' not found", req.key));
  const Version chosen = newest->meta->version;
  // The whole value came with a holder's answer: hand it on, with the header that holder sent.
  for (const auto& a : answers) {
    auto& p = round->probes[a.probe];
    if (!a.meta || a.meta->version != chosen || !p.sink.header() || p.sink.data().size() != a.meta->size) continue;
    if (auto r = co_await sink.begin(*p.reply); !r) co_return r.error();
    if (!p.sink.data().empty())
      if (auto r = co_await sink.write(std::move(p.sink.data())); !r) co_return r.error();
    co_return *p.reply;
  }
  CountingSink counted(sink);
  VersionSink checked(counted, chosen);
  Error failed = make_error(Errc::unavailable, "unreached");
  for (const auto& a : answers) {
    if (!a.meta || a.meta->version != chosen) continue;
    auto r = co_await fetch_from(a.holder, role_of(a.holder), req, *id, checked, timeout);
    if (r) {
      // More of the value is to come in later ranges (REST and AMQP clients read a chunk per
      // call): they may come from this holder without a lookup and a quorum round each.
      if (req.length && req.offset + *req.length < r->meta.size)
        pins_.remember(*id, ReadPins::Pin{chosen, a.holder, role_of(a.holder), config_.clock->now()});
      co_return r;
    }
    if (counted.started() || !is_peer_failure(r.error().code)) co_return r.error();  // bytes went out
    failed = r.error();
  }
  co_return failed;
}

asio::awaitable<Result<FetchReply>> Storage::fetch_from(const NodeRef& holder, Role role, const FetchRequest& req,
                                                        const Id& key_id, ChunkSink& sink, Timeout timeout) {
  FetchRequest direct = req;
  direct.key_id = key_id;
  direct.role = role;
  direct.version.reset();  // for the access node that reads, not for the holder
  if (holder.id == ring_.self().id) co_return co_await fetch_held(direct, key_id, sink, timeout);
  auto client = ring_.peer(holder);
  if (!client) co_return client.error();
  auto r = co_await (*client)->fetch(direct, sink, timeout);
  if (!r && is_peer_failure(r.error().code)) ring_.peer_failed(holder, r.error());
  co_return r;
}

asio::awaitable<std::optional<Result<FetchReply>>> Storage::fetch_pinned(const FetchRequest& req, const Id& key_id,
                                                                         ChunkSink& sink, Timeout timeout) {
  auto pin = pins_.find(key_id, *req.version, config_.clock->now());
  if (!pin) co_return std::nullopt;
  CountingSink counted(sink);
  VersionSink checked(counted, pin->version);
  auto r = co_await fetch_from(pin->holder, pin->role, req, key_id, checked, timeout);
  if (r || counted.started()) co_return std::optional<Result<FetchReply>>(std::move(r));
  // Gone, or it holds another version now: the full read finds out which holders have what.
  pins_.forget(key_id);
  co_return std::nullopt;
}

asio::awaitable<Result<FetchReply>> Storage::fetch_held(const FetchRequest& req, const Id& key_id, ChunkSink& sink,
                                                       Timeout timeout) {
  if (req.role == Role::primary)
    if (auto before = owner_before(key_id)) co_return co_await fetch_newer_of(*before, req, key_id, sink, timeout);
  co_return co_await fetch_local(req, key_id, sink);
}

asio::awaitable<Result<FetchReply>> Storage::fetch_newer_of(const NodeRef& before, const FetchRequest& req,
                                                           const Id& key_id, ChunkSink& sink, Timeout timeout) {
  auto keep = ring_.hold();
  auto client = ring_.peer(before);
  if (client) {
    const FetchRequest ask{req.key, key_id, Role::primary, 0, std::uint64_t{0}};
    StringSink header(0);
    // A silent predecessor costs this read a quarter of its deadline, not all of it (see
    // hand_on_budget): its caller is still waiting for this node's answer.
    auto theirs = co_await (*client)->fetch(ask, header, hand_on_budget(timeout));
    ring_.report(before, theirs);
    const auto mine = store_->meta(key_id);
    if (theirs && (!mine || mine->version < theirs->meta.version)) {
      if (theirs->meta.deleted) {  // a tombstone is all of its answer
        if (auto r = co_await sink.begin(*theirs); !r) co_return r.error();
        co_return *theirs;
      }
      const FetchRequest from_it{req.key, key_id, Role::primary, req.offset, req.length};
      VersionSink checked(sink, theirs->meta.version);
      co_return co_await (*client)->fetch(from_it, checked, timeout);
    }
  }
  // Its predecessor holds nothing newer, or is gone: this node's copy is the answer.
  co_return co_await fetch_local(req, key_id, sink);
}

}  // namespace chord
