// Hand-off: keys move to a new predecessor that now owns them (the paper's transfer on join),
// and all of a leaving node's keys go to the successors that stay.
#include <algorithm>
#include <chrono>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <spdlog/spdlog.h>

#include "chord/blocking.hpp"
#include "chord/node.hpp"
#include "chord/storage.hpp"

namespace chord {

asio::awaitable<void> Storage::hand_off(std::optional<NodeRef> old_predecessor, NodeRef new_predecessor) {
  auto keep = ring_.hold();
  std::vector<ValueMeta> moving;
  for (const auto& v : store_->list()) {
    // With no old predecessor the range is unknown: offer every key this node no longer owns.
    bool theirs = old_predecessor ? in_half_open(v.key_id, old_predecessor->id, new_predecessor.id)
                                  : !in_half_open(v.key_id, new_predecessor.id, ring_.self().id);
    if (theirs) moving.push_back(v);
  }
  if (moving.empty()) co_return;
  // Only what it lacks or holds older moves: a node back from a crash holds most of it already.
  auto lacks = co_await lacking(new_predecessor, moving);
  if (!lacks) {
    spdlog::warn("[{}] hand-off to {}: it did not say which keys it lacks: {}", tag_, new_predecessor.uri,
                 lacks.error().message);
    co_return;
  }
  unsigned sent = 0;
  for (const auto& id : *lacks) {
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


asio::awaitable<Result<std::vector<Id>>> Storage::lacking(const NodeRef& target, const std::vector<ValueMeta>& metas,
                                                          std::optional<std::chrono::steady_clock::time_point> deadline) {
  auto client = ring_.peer(target);
  if (!client) co_return client.error();
  std::vector<Id> out;
  const std::size_t page = std::max<std::size_t>(1, config_.sync_page_keys);
  for (std::size_t at = 0; at == 0 || at < metas.size(); at += page) {
    SyncRequest offer{ring_.self(), {}, std::nullopt, std::nullopt};
    for (std::size_t j = at; j < std::min(metas.size(), at + page); ++j)
      offer.keys.push_back(KeyDigest{metas[j].key_id, metas[j].sha256, metas[j].version});
    const Timeout timeout = deadline ? leave_budget(*deadline, config_.rpc_timeout) : config_.rpc_timeout;
    auto r = co_await (*client)->sync_replicas(offer, timeout);
    if (!r) {
      ring_.peer_failed(target, r.error());
      co_return r.error();
    }
    ring_.peer_answered(target);
    out.insert(out.end(), r->missing.begin(), r->missing.end());
  }
  co_return out;
}

asio::awaitable<void> Storage::drop_extra_copies() {
  if (!ring_.predecessor() || ring_.leaving()) co_return;
  auto keep = ring_.hold();
  const Id self = ring_.self().id;
  const Id pred = ring_.predecessor()->id;
  // What this node holds but does not own, in ring order from itself: replicas of the keys of
  // the nodes before it, legitimately for the k-1 nearest, and copies left over from joins,
  // leaves and returns beyond those.
  const auto held = store_->list_range(self, pred);
  const std::size_t k = std::max(1u, config_.replicas);
  std::size_t at = 0, dropped = 0;
  while (at < held.size()) {
    auto found = co_await ring_.find_successor(held[at].key_id);
    if (!found || found->owner.id == self) co_return;  // the ring is moving: another round
    // Every held key from here up to the owner's id is that owner's.
    std::size_t end = at + 1;
    while (end < held.size() && in_half_open(held[end].key_id, self, found->owner.id)) ++end;
    std::vector<NodeRef> holders{found->owner};
    for (const auto& s : found->successors)
      if (holders.size() < k && std::none_of(holders.begin(), holders.end(), [&](const NodeRef& h) { return h.id == s.id; }))
        holders.push_back(s);
    const bool mine = std::any_of(holders.begin(), holders.end(), [&](const NodeRef& h) { return h.id == self; });
    if (mine || holders.size() < k) {
      at = end;
      continue;
    }
    // Not a holder: the copies go once every one of the k holders says it has them (or newer).
    // Those a holder lacks are sent to it first and dropped in a later round.
    const std::vector<ValueMeta> group(held.begin() + static_cast<std::ptrdiff_t>(at),
                                       held.begin() + static_cast<std::ptrdiff_t>(end));
    std::unordered_set<Id, IdHash> unconfirmed;
    bool answered = true;
    for (const auto& h : holders) {
      auto lacks = co_await lacking(h, group);
      if (!lacks) {
        answered = false;
        break;
      }
      for (const auto& id : *lacks) {
        unconfirmed.insert(id);
        (void)co_await push_value(h, id, Role::replica);
      }
    }
    if (answered) {
      std::vector<ValueMeta> drop;
      for (const auto& m : group)
        if (!unconfirmed.contains(m.key_id)) drop.push_back(m);
      auto erase = [&] {
        std::size_t n = 0;
        // Only the version the holders confirmed: a newer one that came meanwhile stays.
        for (const auto& m : drop)
          if (auto now = store_->meta(m.key_id); now && now->version == m.version) n += store_->erase(m.key_id) ? 1 : 0;
        return n;
      };
      dropped += co_await run_blocking(store_->io_pool(), erase);
    }
    at = end;
  }
  if (dropped) spdlog::info("[{}] dropped {} copies that {} other holders confirmed", tag_, dropped, k);
}

void Storage::predecessor_changed(const std::optional<NodeRef>& old, const NodeRef& now) {
  if (store_->count() == 0) return;
  asio::co_spawn(ring_.executor(), hand_off(old, now), asio::detached);
}

void Storage::member_left(const NodeRef& gone) {
  synced_.erase(gone.id);
  if (peak_holders_ > 1) --peak_holders_;  // a ring smaller by one: quorum() takes the size up again
}

asio::awaitable<Departure> Storage::departing(std::chrono::steady_clock::time_point deadline) {
  auto keep = ring_.hold();
  auto late = [&] { return std::chrono::steady_clock::now() >= deadline; };
  // Every key this node holds goes to the first of the next k live successors that lacks it: for
  // a key it owns that is the successor (the new owner) or, once the replicas are complete, the
  // k-th successor; for a replica it is the node that becomes the key's new last replica. So a
  // leave keeps k copies of every key at once, and a crash right after it loses nothing that k
  // crashes would not. A successor that is leaving too refuses, and is passed by: neighbours
  // that leave together hand their keys to the first node that stays.
  auto values = store_->list();
  std::vector<NodeRef> candidates = ring_.successors().nodes();  // a copy: Leave notices change the list
  std::erase_if(candidates, [&](const NodeRef& n) { return n.id == ring_.self().id; });  // a lone node
  struct Target {
    NodeRef node;
    std::unordered_set<Id, IdHash> lacks;
  };
  std::vector<Target> targets;
  std::unordered_set<Id, IdHash> passed;  // leaving, dead, or refused
  const std::size_t want = std::max(1u, config_.replicas);
  for (const auto& c : candidates) {
    if (targets.size() >= want || late()) break;
    // Even with no keys it is asked once: the answer tells whether the successor stays.
    auto lacks = co_await lacking(c, values, deadline);
    if (lacks) {
      targets.push_back(Target{c, {lacks->begin(), lacks->end()}});
      continue;
    }
    passed.insert(c.id);
    if (lacks.error().code == Errc::not_ready)
      spdlog::info("[{}] leave: passing {} by: {}", tag_, c.uri, lacks.error().message);
    else
      spdlog::warn("[{}] leave: {} did not say which keys it lacks: {}", tag_, c.uri, lacks.error().message);
  }
  std::size_t moved = 0, lost = 0, unsent = 0;
  for (const auto& v : values) {
    if (late()) {
      ++unsent;
      continue;
    }
    bool placed = false, held = false;
    for (std::size_t i = 0; i < targets.size() && !placed; ++i) {
      if (!targets[i].lacks.contains(v.key_id)) {
        held = true;
        continue;
      }
      auto r = co_await push_value(targets[i].node, v.key_id, i == 0 ? Role::handoff : Role::replica);
      if (r || r.error().code == Errc::conflict) placed = true;  // conflict: it holds a newer version
      else spdlog::warn("[{}] leave: {} did not take {}: {}", tag_, targets[i].node.uri, v.key, r.error().message);
    }
    // Nobody answered, or those who lack it refused: any other successor that stays will do.
    for (std::size_t i = 0; i < candidates.size() && !placed && !held && !late(); ++i) {
      const auto& c = candidates[i];
      if (passed.contains(c.id) ||
          std::any_of(targets.begin(), targets.end(), [&](const Target& t) { return t.node.id == c.id; }))
        continue;
      auto r = co_await push_value(c, v.key_id, Role::handoff);
      placed = r || r.error().code == Errc::conflict;
    }
    if (placed) ++moved;
    else if (!held) ++lost;
  }
  Result<void> outcome;
  if (lost || unsent)
    outcome = make_error(Errc::unavailable,
                         fmt::format("leave: {} of the {} keys of {} were not handed off ({} found no successor to take them, {} past the "
                                     "deadline); their other copies remain on the replicas",
                                     lost + unsent, values.size(), ring_.self().uri, lost, unsent));
  else if (!values.empty())
    spdlog::info("[{}] leave: {} keys, {} copied to the successors that lacked them", tag_, values.size(), moved);

  // The ring tells the predecessor and the first successor that stays.
  std::vector<NodeRef> after;
  for (const auto& t : targets) after.push_back(t.node);
  for (const auto& c : candidates)
    if (!passed.contains(c.id) && std::none_of(after.begin(), after.end(), [&](const NodeRef& n) { return n.id == c.id; }))
      after.push_back(c);
  co_return Departure{outcome, after};
}
}  // namespace chord
