// Hand-off: keys move to a new predecessor that now owns them (the paper's transfer on join),
// and all of a leaving node's keys go to the successors that stay.
#include <algorithm>
#include <chrono>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <spdlog/spdlog.h>

#include "chord/node.hpp"
#include "chord/storage.hpp"

namespace chord {

asio::awaitable<void> Storage::hand_off(std::optional<NodeRef> old_predecessor, NodeRef new_predecessor) {
  auto keep = ring_.hold();
  std::vector<Id> moving;
  for (const auto& v : store_->list()) {
    // With no old predecessor the range is unknown: offer every key this node no longer owns.
    bool theirs = old_predecessor ? in_half_open(v.key_id, old_predecessor->id, new_predecessor.id)
                                  : !in_half_open(v.key_id, new_predecessor.id, ring_.self().id);
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


void Storage::predecessor_changed(const std::optional<NodeRef>& old, const NodeRef& now) {
  if (store_->count() == 0) return;
  asio::co_spawn(ring_.executor(), hand_off(old, now), asio::detached);
}

void Storage::member_left(const NodeRef& gone) { synced_.erase(gone.id); }

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
    auto client = ring_.peer(c);
    if (!client) {
      passed.insert(c.id);
      continue;
    }
    Target t{c, {}};
    bool answered = true;
    // At least one offer, even with no keys: it tells whether the successor stays.
    const std::size_t page = std::max<std::size_t>(1, config_.sync_page_keys);
    for (std::size_t at = 0; answered && (at == 0 || at < values.size()); at += page) {
      SyncRequest offer{ring_.self(), {}, std::nullopt, std::nullopt};
      for (std::size_t j = at; j < std::min(values.size(), at + page); ++j)
        offer.keys.push_back(KeyDigest{values[j].key_id, values[j].sha256, values[j].version});
      auto r = co_await (*client)->sync_replicas(offer, leave_budget(deadline, config_.rpc_timeout));
      if (r) {
        t.lacks.insert(r->missing.begin(), r->missing.end());
        continue;
      }
      answered = false;
      if (r.error().code == Errc::not_ready)
        spdlog::info("[{}] leave: passing {} by: {}", tag_, c.uri, r.error().message);
      else {
        ring_.peer_failed(c, r.error());
        spdlog::warn("[{}] leave: {} did not say which keys it lacks: {}", tag_, c.uri, r.error().message);
      }
    }
    if (answered) targets.push_back(std::move(t));
    else passed.insert(c.id);
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
