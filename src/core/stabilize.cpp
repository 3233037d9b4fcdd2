// The paper's maintenance protocol: stabilize, notify, fix_fingers, check_predecessor, plus the
// voluntary leave that the paper sketches (hand keys to the successor, tell both neighbours).
#include <algorithm>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include "chord/node.hpp"

namespace chord {

asio::awaitable<void> Node::stabilize() {
  if (!joined_ || leaving_) co_return;
  co_await recover_successors();
  const std::vector<NodeRef> before = successors_.nodes();
  co_await stabilize_once();
  // Successors that dropped out of the list this round, for whatever reason (a failed call
  // here, or a successor's list that had lost them), are remembered too: a node that every
  // neighbour lost at once is otherwise known to nobody that would bring it back.
  remember_lost(before);
  if (observer_) observer_->stabilized();
}

void Node::remember_lost(const std::vector<NodeRef>& before) {
  auto now = std::chrono::steady_clock::now();
  for (const auto& n : before) {
    if (n.id == self_.id || successors_.contains(n.id) || departed_.contains(n.id)) continue;
    auto known = std::find_if(lost_.begin(), lost_.end(), [&](const Lost& l) { return l.node.id == n.id; });
    if (known == lost_.end() && lost_.size() < config_.successors) lost_.push_back(Lost{n, now + config_.suspect_for * 20});
  }
}

// A successor dropped after a failed call may only have been unreachable for a moment (a
// broker restart, a pause). Once its suspicion has expired it is asked again, and if it answers
// and still lies between this node and its successor, it is the successor again. Without this,
// nodes that all lost sight of each other at once can settle into interleaved loops (each node
// skipping one) that the paper's stabilize never merges: seen after a RabbitMQ restart.
asio::awaitable<void> Node::recover_successors() {
  if (lost_.empty()) co_return;
  auto now = std::chrono::steady_clock::now();
  std::erase_if(lost_, [&](const Lost& l) { return now > l.forget_at || successors_.contains(l.node.id); });
  std::vector<NodeRef> retry;
  for (const auto& l : lost_)
    if (!suspected(l.node.id)) retry.push_back(l.node);
  for (const auto& n : retry) {
    const NodeRef succ = successors_.first();
    if (succ.id != self_.id && !in_open(n.id, self_.id, succ.id)) continue;  // not closer than what we have
    auto client = peer(n);
    if (!client) continue;
    const Empty ask;
    auto r = co_await (*client)->ping(ask, config_.rpc_timeout);
    if (!r || r->id != n.id) {
      if (!r) peer_failed(n, r.error());
      continue;
    }
    peer_answered(n);
    std::erase_if(lost_, [&](const Lost& l) { return l.node.id == n.id; });
    if (successors_.first().id == self_.id || in_open(n.id, self_.id, successors_.first().id)) {
      spdlog::info("[{}] {} answers again: successor once more", tag_, n.uri);
      successors_.push_front(n);
    }
  }
}

asio::awaitable<void> Node::stabilize_once() {
  // Ask the first live successor for its predecessor and successor list; dead ones drop out.
  // Bounded: when every peer fails at once, the round ends instead of cycling through them.
  for (unsigned attempt = 0;; ++attempt) {
    if (attempt > successors_.capacity() + 2) co_return;
    NodeRef succ = successors_.first();
    if (succ.id == self_.id) {
      // Alone (or every successor failed): a predecessor, if any, is the way back into a ring.
      if (predecessor_ && predecessor_->id != self_.id && !suspected(predecessor_->id))
        successors_.assign({*predecessor_});
      else {
        for (const auto& f : fingers_.entries())
          if (!f.uri.empty() && f.id != self_.id && !suspected(f.id)) {
            successors_.assign({f});
            break;
          }
      }
      if (successors_.empty()) co_return;
      continue;
    }
    auto client = peer(succ);
    if (!client) {
      peer_failed(succ, make_error(Errc::unavailable, client.error().message));
      successors_.remove(succ.id);
      continue;
    }
    auto r = co_await (*client)->get_predecessor(Empty{}, config_.rpc_timeout);
    if (!r) {
      if (!is_peer_failure(r.error().code)) {
        spdlog::warn("[{}] stabilize: {} refused GetPredecessor: {}", tag_, succ.uri, r.error().message);
        co_return;
      }
      peer_failed(succ, r.error());
      successors_.remove(succ.id);
      continue;
    }
    peer_answered(succ);
    if (successors_.first().id != succ.id) co_return;  // changed under us while we waited
    successors_.assign(succ, r->successors);
    const auto& x = r->predecessor;
    if (x && x->id != self_.id && in_open(x->id, self_.id, succ.id) && !suspected(x->id) &&
        ring_.contains(x->id))
      successors_.push_front(*x);
    break;
  }
  NodeRef succ = successors_.first();
  if (succ.id == self_.id) co_return;
  auto client = peer(succ);
  if (!client) co_return;
  const NotifyRequest note{self_};
  auto r = co_await (*client)->notify(note, config_.rpc_timeout);
  if (!r) {
    if (r.error().code == Errc::conflict)
      spdlog::error("[{}] {} says: {}", tag_, succ.uri, r.error().message);
    peer_failed(succ, r.error());
  }
}

asio::awaitable<Result<Empty>> Node::notify(const NotifyRequest& req, Timeout) {
  const auto& c = req.candidate;
  if (!ring_.contains(c.id) || c.uri.empty())
    co_return make_error(Errc::invalid_argument, "notify: candidate id is outside the ring or has no URI");
  if (c.id == self_.id) {
    if (c.uri != self_.uri)
      co_return make_error(Errc::conflict, fmt::format("{} and {} have the same id {}", c.uri,
                                                       self_.uri, ring_.hex(c.id)));
    co_return Empty{};
  }
  if (leaving_) co_return Empty{};
  peer_answered(c);
  if (!predecessor_ || in_open(c.id, predecessor_->id, self_.id)) {
    auto old = predecessor_;
    predecessor_ = c;
    spdlog::debug("[{}] predecessor is now {}", tag_, c.uri);
    // Keys in (old predecessor, c] now belong to c: the paper's key transfer on join.
    if (store_->count() > 0) spawn(hand_off(old, c));
  }
  co_return Empty{};
}

asio::awaitable<void> Node::fix_fingers() {
  if (!joined_ || leaving_) co_return;
  const unsigned m = fingers_.size();
  if (next_finger_ < 1 || next_finger_ > m) next_finger_ = 1;
  const unsigned i = next_finger_;
  const Id start = fingers_.start(i);
  NodeRef found;
  const NodeRef& succ = successors_.first();
  if (in_half_open(start, self_.id, succ.id)) {
    found = succ;
  } else {
    auto r = co_await find_successor(start);
    if (!r) {
      next_finger_ = i % m + 1;
      co_return;
    }
    found = r->owner;
  }
  // Every later finger whose start also falls in (n, found] points at found: fix them all in
  // one go, so that a full refresh takes about log N lookups instead of m.
  unsigned j = i;
  for (; j <= m; ++j) {
    if (j > i && !in_half_open(fingers_.start(j), self_.id, found.id)) break;
    fingers_.set(j, found);
  }
  next_finger_ = j > m ? 1 : j;
}

asio::awaitable<void> Node::check_predecessor() {
  if (!joined_ || leaving_ || !predecessor_) co_return;
  NodeRef pred = *predecessor_;
  auto client = peer(pred);
  if (!client) {
    predecessor_.reset();
    co_return;
  }
  auto r = co_await (*client)->ping(Empty{}, config_.rpc_timeout);
  bool alive = r.ok() && r->id == pred.id;
  if (r.ok() && !alive)
    spdlog::warn("[{}] {} answers with id {}, not {}", tag_, pred.uri, ring_.hex(r->id), ring_.hex(pred.id));
  if (!alive) {
    if (!r.ok()) peer_failed(pred, r.error());
    if (predecessor_ && predecessor_->id == pred.id) {
      predecessor_.reset();
      spdlog::info("[{}] predecessor {} failed", tag_, pred.uri);
    }
  } else {
    peer_answered(pred);
  }
}

asio::awaitable<Result<void>> Node::leave() {
  if (!joined_) co_return Result<void>{};
  leaving_ = true;
  stop();
  auto keep = shared_from_this();
  // Every key this node holds goes to the first of the next k successors that lacks it: for a
  // key it owns that is the successor (the new owner) or, once the replicas are complete, the
  // k-th successor; for a replica it is the node that becomes the key's new last replica. So a
  // leave keeps k copies of every key at once, and a crash right after it loses nothing that k
  // crashes would not.
  Result<void> outcome;
  auto values = store_->list();
  if (!values.empty()) {
    // A copy: Leave notices from peers change the list while this waits on them.
    std::vector<NodeRef> candidates = successors_.nodes();
    std::erase_if(candidates, [&](const NodeRef& n) { return n.id == self_.id; });  // a lone node
    const std::size_t ask = std::min<std::size_t>(std::max(1u, config_.replicas), candidates.size());
    // lacks[i]: the keys successor i said it does not hold; nullopt: it did not answer.
    std::vector<std::optional<std::unordered_set<Id, IdHash>>> lacks(ask);
    for (std::size_t i = 0; i < ask; ++i) {
      auto client = peer(candidates[i]);
      if (!client) continue;
      std::unordered_set<Id, IdHash> missing;
      bool answered = true;
      for (std::size_t at = 0; at < values.size() && answered; at += 4096) {
        SyncRequest offer{self_, {}};
        for (std::size_t j = at; j < std::min(values.size(), at + 4096); ++j)
          offer.keys.push_back(KeyDigest{values[j].key_id, values[j].sha256});
        auto r = co_await (*client)->sync_replicas(offer, config_.rpc_timeout);
        if (r) {
          missing.insert(r->missing.begin(), r->missing.end());
          continue;
        }
        // Not asked again: its keys go to the successors that did answer, or past the first k.
        peer_failed(candidates[i], r.error());
        spdlog::warn("[{}] leave: {} did not say which keys it lacks: {}", tag_, candidates[i].uri, r.error().message);
        answered = false;
      }
      if (answered) lacks[i] = std::move(missing);
    }
    std::size_t moved = 0, lost = 0;
    for (const auto& v : values) {
      bool placed = false, held = false;
      for (std::size_t i = 0; i < ask && !placed; ++i) {
        if (!lacks[i]) continue;
        if (!lacks[i]->contains(v.key_id)) {
          held = true;
          continue;
        }
        auto r = co_await push_value(candidates[i], v.key_id, i == 0 ? Role::handoff : Role::replica);
        if (r) placed = true;
        else spdlog::warn("[{}] leave: {} did not take {}: {}", tag_, candidates[i].uri, v.key, r.error().message);
      }
      // Nobody answered, or those who lack it refused: any successor beyond the first k will do.
      for (std::size_t i = ask; i < candidates.size() && !placed && !held; ++i) {
        auto r = co_await push_value(candidates[i], v.key_id, Role::handoff);
        placed = r.ok();
      }
      if (placed) ++moved;
      else if (!held) ++lost;
    }
    if (lost)
      outcome = make_error(Errc::unavailable, fmt::format("leave: no successor took {} of the {} keys of {}", lost,
                                                          values.size(), self_.uri));
    else
      spdlog::info("[{}] leave: {} keys, {} copied to the successors that lacked them", tag_, values.size(), moved);
  }
  LeaveRequest notice{self_, predecessor_, successors_.nodes()};
  std::vector<NodeRef> tell;
  if (!successors_.empty()) tell.push_back(successors_.first());
  if (predecessor_ && (tell.empty() || predecessor_->id != tell.front().id)) tell.push_back(*predecessor_);
  for (const auto& n : tell) {
    auto client = peer(n);
    if (!client) continue;
    auto r = co_await (*client)->leave(notice, config_.rpc_timeout);
    if (!r) spdlog::warn("[{}] leave: {} was not told: {}", tag_, n.uri, r.error().message);
  }
  joined_ = false;
  spdlog::info("[{}] left the ring", tag_);
  co_return outcome;
}

asio::awaitable<Result<Empty>> Node::leave(const LeaveRequest& req, Timeout) {
  const auto& gone = req.leaving;
  if (gone.id == self_.id) co_return make_error(Errc::invalid_argument, "leave: a node cannot tell itself it left");
  // It said goodbye: not a successor lost by accident, so recover_successors leaves it alone.
  if (departed_.size() > 4 * config_.successors) departed_.clear();
  departed_.insert(gone.id);
  std::erase_if(lost_, [&](const Lost& l) { return l.node.id == gone.id; });
  if (predecessor_ && predecessor_->id == gone.id) {
    if (req.predecessor && req.predecessor->id != self_.id) predecessor_ = req.predecessor;
    else predecessor_.reset();
  }
  if (successors_.contains(gone.id)) {
    bool was_first = successors_.first().id == gone.id;
    successors_.remove(gone.id);
    if (was_first) {
      std::vector<NodeRef> list = req.successors;
      list.insert(list.end(), successors_.nodes().begin(), successors_.nodes().end());
      successors_.assign(list);
    }
  }
  fingers_.forget(gone.id);
  synced_.erase(gone.id);
  spdlog::info("[{}] {} left the ring", tag_, gone.uri);
  co_return Empty{};
}

}  // namespace chord
