// Anti-entropy: the owner of a range offers its replicas the (key id, digest, version) list of
// what it holds there, in pages, and each side takes what the other holds newer. Tombstones past
// their grace period are purged here too.
#include <algorithm>
#include <chrono>
#include <random>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "chord/chunk_pipe.hpp"
#include "chord/chunks.hpp"
#include "chord/blocking.hpp"
#include "chord/node.hpp"
#include "chord/storage.hpp"

namespace chord {

bool Storage::past_grace(const Version& v) const {
  const auto grace = static_cast<std::uint64_t>(config_.tombstone_grace.count());
  const auto wall = config_.clock->wall_ms();
  return wall >= grace && v.millis() < wall - grace;
}

asio::awaitable<void> Storage::purge_tombstones() {
  const auto grace = static_cast<std::uint64_t>(config_.tombstone_grace.count());
  const auto wall = config_.clock->wall_ms();
  if (wall < grace || wall < next_purge_ms_) co_return;
  // Listing a store of 10^6 keys every replica round would cost more than the rounds themselves:
  // a tombstone is dropped within a sixteenth of the grace period (at most an hour) after it.
  const auto period = std::clamp<std::uint64_t>(grace / 16, static_cast<std::uint64_t>(config_.replicate_interval.count()),
                                                3'600'000);
  next_purge_ms_ = wall + period;
  std::vector<Id> expired;
  for (const auto& m : store_->list())
    if (m.deleted && past_grace(m.version)) expired.push_back(m.key_id);
  if (expired.empty()) co_return;
  auto erase = [&] {
    std::size_t n = 0;
    for (const auto& id : expired) n += store_->erase(id) ? 1 : 0;
    return n;
  };
  const auto purged = co_await run_blocking(store_->io_pool(), erase);
  spdlog::debug("[{}] purged {} tombstones older than the grace period", tag_, purged);
}


asio::awaitable<Result<SyncReply>> Storage::sync_replicas(const SyncRequest& req, Timeout) {
  // A leaving node takes no copies: the sender moves on to a successor that stays.
  if (ring_.leaving()) co_return ring_.leaving_error();
  SyncReply reply;
  for (const auto& k : req.keys) {
    observe(k.version);
    auto held = store_->meta(k.key_id);
    if (!held || held->version < k.version) reply.missing.push_back(k.key_id);
    else if (k.version < held->version) reply.newer.push_back(k.key_id);
  }
  if (req.range_from && req.range_to) {
    std::unordered_set<Id, IdHash> offered;
    for (const auto& k : req.keys) offered.insert(k.key_id);
    // A tombstone past its grace period is not worth a copy: the owner has purged it already.
    for (const auto& m : store_->list_range(*req.range_from, *req.range_to))
      if (!offered.contains(m.key_id) && !(m.deleted && past_grace(m.version))) reply.newer.push_back(m.key_id);
  }
  co_return reply;
}

asio::awaitable<void> Storage::maintain_replicas() {
  if (!ring_.joined() || ring_.leaving()) co_return;
  co_await purge_tombstones();
  if (++rounds_ % std::max(1u, config_.full_sync_every) == 0) co_await drop_extra_copies();
  if (!ring_.predecessor() || config_.replicas <= 1) co_return;
  auto keep = ring_.hold();
  const Id pred = ring_.predecessor()->id;
  const auto version = store_->version();
  std::vector<KeyDigest> owned;  // built once, only if some replica needs an offer
  bool listed = false;
  const std::size_t page = std::max<std::size_t>(1, config_.sync_page_keys);
  for (const auto& target : replica_targets(false)) {
    auto& stamp = synced_[target.id];
    bool unchanged = stamp.store_version == version && stamp.predecessor == pred && stamp.rounds > 0;
    if (unchanged && stamp.rounds % std::max(1u, config_.full_sync_every) != 0) {
      ++stamp.rounds;
      continue;
    }
    if (!listed) {
      for (const auto& v : store_->list_range(pred, ring_.self().id)) owned.push_back(KeyDigest{v.key_id, v.sha256, v.version});
      listed = true;
    }
    auto client = ring_.peer(target);
    if (!client) continue;
    bool complete = true;
    // In pages: one message per page, and the values it names moved before the next page.
    for (std::size_t at = 0; complete && (at == 0 || at < owned.size()); at += page) {
      // Pages tile the range (predecessor, self] in ring order: each names its bounds, so the
      // replica can also name what it holds there that this node lacks.
      const std::size_t end = std::min(at + page, owned.size());
      SyncRequest offer{ring_.self(), {}, at == 0 ? pred : owned[at - 1].key_id,
                        end == owned.size() ? ring_.self().id : owned[end - 1].key_id};
      offer.keys.assign(owned.begin() + static_cast<std::ptrdiff_t>(std::min(at, owned.size())),
                        owned.begin() + static_cast<std::ptrdiff_t>(end));
      auto r = co_await (*client)->sync_replicas(offer, config_.rpc_timeout);
      if (!r) {
        ring_.peer_failed(target, r.error());
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


void Storage::ring_started() {
  if (running_) return;
  running_ = true;
  timer_ = std::make_shared<asio::steady_timer>(ring_.executor());
  asio::co_spawn(ring_.executor(), replicate_loop(), asio::detached);
}

void Storage::ring_stopped() {
  running_ = false;
  if (timer_) timer_->cancel();
  timer_.reset();
}

asio::awaitable<void> Storage::replicate_loop() {
  auto keep = ring_.hold();
  auto timer = timer_;
  std::minstd_rand jitter(static_cast<std::uint32_t>(IdHash{}(ring_.self().id)) ^ 0x5eedu);
  const auto interval = config_.replicate_interval;
  while (running_ && timer == timer_) {
    // +-10% jitter so that the replica rounds of a ring do not fall into lockstep.
    const auto spread = std::max<long>(1, interval.count() / 5);
    timer->expires_after(interval + std::chrono::milliseconds(static_cast<long>(jitter() % spread) - spread / 2));
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!running_ || timer != timer_) break;
    co_await maintain_replicas();
  }
}
}  // namespace chord
