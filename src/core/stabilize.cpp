// The paper's maintenance protocol: stabilize, notify, fix_fingers, check_predecessor.
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
  // The lookup of its own successor costs a few calls: every round while it finds nodes, then
  // at doubling gaps up to every 8th round while the ring is settled.
  if (--successor_check_wait_ == 0) {
    const bool found = co_await check_successor();
    successor_check_gap_ = found ? 1 : std::min(successor_check_gap_ * 2, 8u);
    successor_check_wait_ = successor_check_gap_;
  }
  // Successors that dropped out of the list this round, for whatever reason (a failed call
  // here, or a successor's list that had lost them), are remembered too: a node that every
  // neighbour lost at once is otherwise known to nobody that would bring it back.
  remember_lost(before);
  if (observer_) observer_->stabilized();
}

void Node::remember_lost(const std::vector<NodeRef>& before) {
  auto t = now();
  for (const auto& n : before) {
    if (n.id == self_.id || successors_.contains(n.id) || departed_.contains(n.id)) continue;
    auto known = std::find_if(lost_.begin(), lost_.end(), [&](const Lost& l) { return l.node.id == n.id; });
    if (known == lost_.end() && lost_.size() < config_.successors) lost_.push_back(Lost{n, t + config_.suspect_for * 20});
  }
}

// A successor dropped after a failed call may only have been unreachable for a moment (a
// broker restart, a pause, a partition). Once its suspicion has expired it is asked again, and if
// it answers and still lies between this node and its successor, it is the successor again.
// Without this, nodes that all lost sight of each other at once can settle into interleaved loops
// (each node skipping one) that the paper's stabilize never merges: seen after a RabbitMQ
// restart. The same goes for an entry further down the list that lies before the successor: the
// list is out of ring order (it was taken from a successor while that node was unreachable, and
// no one has called it since), so it is either dead or this node's true successor. Two halves of
// a healed partition kept such entries and stayed two rings.
asio::awaitable<void> Node::recover_successors() {
  auto t = now();
  // Forgotten once it is the successor again: further down the list it is not yet back.
  std::erase_if(lost_, [&](const Lost& l) { return t > l.forget_at || successors_.first().id == l.node.id; });
  auto closer_than_successor = [this](const Id& id) {
    const Id& succ = successors_.first().id;
    return succ == self_.id || in_open(id, self_.id, succ);
  };
  // Copied, as the calls below may change lost_ and the list; only the ones closer than the
  // successor, which on a settled ring are none, and asked again below, as the successor may
  // change meanwhile.
  std::vector<NodeRef> retry;
  auto consider = [&](const NodeRef& n) {
    if (n.id == self_.id || !closer_than_successor(n.id) || suspected(n.id)) return;
    if (std::none_of(retry.begin(), retry.end(), [&](const NodeRef& r) { return r.id == n.id; })) retry.push_back(n);
  };
  for (const auto& l : lost_) consider(l.node);
  for (const auto& n : successors_.nodes()) consider(n);
  for (const auto& n : retry) {
    if (!closer_than_successor(n.id)) continue;
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
    if (closer_than_successor(n.id)) {
      spdlog::info("[{}] {} answers again: successor once more", tag_, n.uri);
      successors_.push_front(n);
    }
  }
}

void Node::note_unreachable(const NodeRef& n) {
  const auto until = now() + config_.suspect_for * 20;
  for (auto& u : unreachable_)
    if (u.node.id == n.id) {
      u.forget_at = until;
      return;
    }
  if (unreachable_.size() >= config_.successors) unreachable_.erase(unreachable_.begin());
  unreachable_.push_back(Lost{n, until});
}

bool Node::unreachable(const Id& id) const {
  const auto t = now();
  return std::any_of(unreachable_.begin(), unreachable_.end(),
                     [&](const Lost& u) { return u.node.id == id && u.forget_at > t; });
}

asio::awaitable<void> Node::stabilize_once() {
  // Ask the first live successor for its predecessor and successor list; dead ones drop out.
  // Bounded: when every peer fails at once, the round ends instead of cycling through them.
  std::optional<Id> knows_us;  // a successor that named this node as its predecessor
  for (unsigned attempt = 0;; ++attempt) {
    if (attempt > successors_.capacity() + 2) co_return;
    NodeRef succ = successors_.first();
    if (succ.id == self_.id) {
      // Alone (or every successor failed): a predecessor, if any, is the way back into a ring.
      if (predecessor_ && predecessor_->id != self_.id && !suspected(predecessor_->id))
        successors_.assign({*predecessor_});
      else {
        for (const auto& f : fingers_.runs())
          if (f.node.id != self_.id && !suspected(f.node.id)) {
            successors_.assign({f.node});
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
      note_unreachable(succ);
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
      note_unreachable(succ);
      continue;
    }
    peer_answered(succ);
    if (successors_.first().id != succ.id) co_return;  // changed under us while we waited
    drop_unauthentic(r->successors, succ);
    // Not taken back from the successor's list, which may have it from this node's own: in a ring
    // of two or three, a node that went silent (calls time out) was otherwise copied from list to
    // list for good, never anyone's first successor again, and every write sent it a copy.
    if (!unreachable_.empty()) std::erase_if(r->successors, [&](const NodeRef& n) { return unreachable(n.id); });
    successors_.assign(succ, r->successors);
    const auto& x = r->predecessor;
    if (x && x->id == self_.id && x->uri == self_.uri) knows_us = succ.id;
    if (x && x->id != self_.id && in_open(x->id, self_.id, succ.id) && !suspected(x->id) &&
        ring_.contains(x->id)) {
      // With authentic ids a new successor must first answer at its URI (adopt_closer pings it).
      if (config_.authentic_ids) co_await adopt_closer(*x);
      else successors_.push_front(*x);
    }
    break;
  }
  NodeRef succ = successors_.first();
  if (succ.id == self_.id) co_return;
  // The paper notifies every round; a successor whose predecessor this node already is would
  // change nothing, and on a settled ring that call was a third of the calls a node makes.
  if (knows_us == succ.id) co_return;
  auto client = peer(succ);
  if (!client) co_return;
  const NotifyRequest note{self_};
  auto r = co_await (*client)->notify(note, config_.rpc_timeout);
  if (!r) {
    if (r.error().code == Errc::conflict)
      spdlog::error("[{}] {} says: {}", tag_, succ.uri, r.error().message);
    peer_failed(succ, r.error());
    co_return;
  }
  if (r->closer) co_await adopt_closer(*r->closer);
}

// A hint from the successor's notify: a node between this one and its successor. It becomes the
// successor only once it answered at its URI with its id, so a stale or made-up hint costs a
// ping and changes nothing.
asio::awaitable<void> Node::adopt_closer(NodeRef hint) {
  auto between = [&] {
    return hint.id != self_.id && in_open(hint.id, self_.id, successors_.first().id) && ring_.contains(hint.id) &&
           !suspected(hint.id) && !departed_.contains(hint.id) && authentic(hint);
  };
  if (!between()) co_return;
  auto client = peer(hint);
  if (!client) co_return;
  const Empty ask;
  auto pong = co_await (*client)->ping(ask, config_.rpc_timeout);
  if (!pong) {
    peer_failed(hint, pong.error());
    co_return;
  }
  if (pong->id != hint.id || pong->uri != hint.uri || !between()) co_return;
  peer_answered(hint);
  successors_.push_front(hint);
}

bool Node::authentic(const NodeRef& n) const { return !config_.authentic_ids || ring_.hash(n.uri.str()) == n.id; }

void Node::drop_unauthentic(std::vector<NodeRef>& nodes, const NodeRef& from) const {
  if (!config_.authentic_ids) return;
  const auto before = nodes.size();
  std::erase_if(nodes, [&](const NodeRef& n) { return !authentic(n); });
  if (nodes.size() != before)
    spdlog::warn("[{}] {} named {} nodes whose ids are not the hash of their URIs; left out", tag_, from.uri,
                 before - nodes.size());
}

asio::awaitable<bool> Node::answers_as(const NodeRef& n, Timeout timeout) {
  if (!config_.authentic_ids) co_return true;
  auto client = peer(n);
  if (!client) co_return false;
  const Empty ask;
  auto pong = co_await (*client)->ping(ask, timeout);
  if (!pong) co_return false;
  co_return pong->id == n.id && pong->uri == n.uri;
}

void Node::heard_from(const NodeRef& n) {
  const auto t = now();
  for (auto& h : heard_)
    if (h.node.id == n.id) {
      h.at = t;
      return;
    }
  if (heard_.size() < kHeard) heard_.push_back(Heard{n, t});
  else heard_[jitter_() % kHeard] = Heard{n, t};  // a uniform sample of all the nodes heard from
}

std::optional<NodeRef> Node::closest_after(const Id& id) const {
  std::optional<NodeRef> best;
  auto consider = [&](const NodeRef& n) {
    if (n.uri.empty() || n.id == self_.id || !in_open(n.id, id, self_.id) || suspected(n.id) ||
        departed_.contains(n.id))
      return;
    if (!best || in_open(n.id, id, best->id)) best = n;
  };
  const auto fresh = heard_since();
  for (const auto& h : heard_)
    if (h.at > fresh) consider(h.node);
  if (predecessor_) consider(*predecessor_);
  for (const auto& n : successors_.nodes()) consider(n);
  for (const auto& f : fingers_.runs()) consider(f.node);
  return best;
}

asio::awaitable<Result<NotifyReply>> Node::notify(const NotifyRequest& req, Timeout timeout) {
  const NodeRef c = req.candidate;  // a copy: the request may not outlive the wait below
  if (!ring_.contains(c.id) || c.uri.empty())
    co_return make_error(Errc::invalid_argument, "notify: candidate id is outside the ring or has no URI");
  if (!authentic(c))
    co_return make_error(Errc::invalid_argument, fmt::format("notify: id {} is not the SHA-1 of the URI {}",
                                                             ring_.hex(c.id), c.uri));
  if (c.id == self_.id) {
    if (c.uri != self_.uri)
      co_return make_error(Errc::conflict, fmt::format("{} and {} have the same id {}", c.uri,
                                                       self_.uri, ring_.hex(c.id)));
    co_return NotifyReply{};
  }
  if (leaving_) co_return NotifyReply{};
  peer_answered(c);
  // A predecessor that announced its leave is as good as nil (its own predecessor may have left
  // with it, so the notice could not name a successor that stays).
  auto closer = [&] {
    return !predecessor_ || departed_.contains(predecessor_->id) || in_open(c.id, predecessor_->id, self_.id);
  };
  if (closer() && config_.authentic_ids) {
    // A new predecessor takes over a key range: it must answer at the URI it named, with its id,
    // before it gets one. The candidate's Ping calls no one, so this wait cannot close a cycle.
    const bool answered = co_await answers_as(c, std::max(Timeout(1), std::min(timeout, config_.rpc_timeout) / 2));
    if (!answered)
      co_return make_error(Errc::unavailable, fmt::format("notify: {} did not answer at that URI as {}", c.uri,
                                                          ring_.hex(c.id)));
    if (leaving_ || !closer() || c.id == self_.id) co_return NotifyReply{};  // changed while it was asked
  }
  if (closer()) {
    auto old = predecessor_;
    predecessor_ = c;
    predecessor_missed_ = 0;
    spdlog::debug("[{}] predecessor is now {}", tag_, c.uri);
    // Keys in (old predecessor, c] now belong to c: the paper's key transfer on join.
    storage_->predecessor_changed(old, c);
    co_return NotifyReply{};
  }
  if (c.id == predecessor_->id) co_return NotifyReply{};  // the predecessor again: nothing to tell
  // Not our predecessor: c's successor pointer skips nodes. Tell it the closest one we know.
  heard_from(c);
  co_return NotifyReply{closest_after(c.id)};
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
  } else if (auto near = co_await walk_to_finger(i)) {
    found = std::move(*near);
  } else {
    auto r = co_await find_successor(start, kOwnerLookupNodes);
    if (!r || r->owner.uri.empty()) {
      next_finger_ = i % m + 1;
      co_return;
    }
    found = r->owner;
  }
  // Every later finger whose start also falls in (n, found] points at found: fix them all in
  // one go, so that a full refresh takes about log N lookups instead of m.
  const unsigned last = std::max(i, std::min(m, ring_.last_finger_within(self_.id, found.id)));
  if (fingers_.set_range(i, last, found)) sweep_changed_ = true;
  next_finger_ = last >= m ? 1 : last + 1;
}

// A walk from the node entry i names, a call or two a step, instead of a lookup of about
// 1/2 log2 N calls: each node asked names its predecessor and successor, and start's successor is
// either the node asked (start in (predecessor, it]), its successor (start in (it, successor]:
// the answer a lookup's last hop would give), or further back or on. The node asked is taken
// only when its predecessor names it as successor too: both ends of the arc agree, where a
// lookup's last hop has one end's word. One end alone was not enough while many nodes join at
// once (a predecessor pointer far behind, its notifies still to come): rings of 1,000 started
// at once through one seed took 63 rounds to every finger right instead of 56. After a wave of
// joins an entry is mostly a node or two off, so a few steps settle it; anything else (no
// entry, no answer, no predecessor, no agreement, a longer walk) is left to the lookup.
asio::awaitable<std::optional<NodeRef>> Node::walk_to_finger(unsigned i) {
  const Id start = fingers_.start(i);
  NodeRef at = fingers_.node(i);  // a copy: the table may change during the calls
  for (unsigned step = 0; step < kFingerWalk; ++step) {
    if (at.uri.empty() || at.id == self_.id || suspected(at.id)) co_return std::nullopt;
    auto r = co_await neighbors_of(at);
    if (!r) co_return std::nullopt;
    const auto& p = r->predecessor;
    if (!p || p->id == at.id) co_return std::nullopt;
    if (in_half_open(start, p->id, at.id)) {
      const bool agreed = co_await follows(*p, at);  // a plain statement: see lookup.cpp
      if (agreed) co_return at;
      co_return std::nullopt;
    }
    if (in_half_open(start, self_.id, p->id)) {  // behind the node asked: its predecessor is closer
      if (!authentic(*p)) co_return std::nullopt;
      at = *p;
      continue;
    }
    // On past it: its successor (the first one named by its own URI's hash).
    drop_unauthentic(r->successors, at);
    if (r->successors.empty()) co_return std::nullopt;
    const NodeRef& next = r->successors.front();
    if (in_half_open(start, at.id, next.id)) {
      if (next.id == self_.id || suspected(next.id)) co_return std::nullopt;
      co_return next;
    }
    at = next;
  }
  co_return std::nullopt;
}

// Whether before names after as its successor (asked of before; false without an answer).
asio::awaitable<bool> Node::follows(const NodeRef& before, const NodeRef& after) {
  if (before.id == self_.id) co_return successors_.first().id == after.id;
  if (suspected(before.id) || !authentic(before)) co_return false;
  auto r = co_await neighbors_of(before);
  co_return r && !r->successors.empty() && r->successors.front().id == after.id;
}

// node's GetPredecessor answer, its failure noted; nullopt without one.
asio::awaitable<std::optional<Neighbors>> Node::neighbors_of(const NodeRef& node) {
  auto client = peer(node);
  if (!client) co_return std::nullopt;
  auto r = co_await (*client)->get_predecessor(Empty{}, config_.rpc_timeout);
  if (!r) {
    if (is_peer_failure(r.error().code)) peer_failed(node, r.error());
    co_return std::nullopt;
  }
  peer_answered(node);
  co_return std::move(*r);
}

// An idle ring spent about two thirds of its calls on fix_fingers (a lookup per tick, 9 of 14
// calls a second per node on a settled ring of 64, before the walk above made a confirmed entry
// two calls), though a settled table does not change.
// The pace drops while whole sweeps confirm what the table holds, and is back to every tick as
// soon as a sweep finds a new finger or this node's successor or predecessor changes (a join or
// a failure nearby). A failure far away is found by the lookups that route through it.
asio::awaitable<void> Node::fix_fingers_paced() {
  const Id succ = successors_.first().id;
  const Id pred = predecessor_ ? predecessor_->id : self_.id;
  if (succ != paced_successor_ || pred != paced_predecessor_) {
    paced_successor_ = succ;
    paced_predecessor_ = pred;
    finger_gap_ = finger_wait_ = 1;
  }
  if (--finger_wait_ > 0) co_return;
  if (next_finger_ <= 1) sweep_changed_ = false;  // a sweep begins
  co_await fix_fingers();
  if (sweep_changed_) finger_gap_ = 1;
  else if (next_finger_ <= 1) finger_gap_ = std::min(finger_gap_ * 2, kFingerGapMax);  // it ended
  finger_wait_ = finger_gap_;
}

// Stabilize repairs a successor pointer only from the successor's predecessor. Nodes that join at
// once through seeds that know little can end up interleaved: a -> c and b -> d with a < b < c <
// d, each pair locally consistent, so neither a nor b ever hears of the other. Asking the ring,
// routed around this node from a random finger, who follows this node finds such a skipped node
// (the Chord paper's remedy for loopy and interleaved states: look yourself up elsewhere).
asio::awaitable<bool> Node::check_successor() {
  const NodeRef succ = successors_.first();
  std::vector<NodeRef> starts;
  for (const auto& f : fingers_.runs())
    if (f.node.id != self_.id && f.node.id != succ.id && !suspected(f.node.id) &&
        (starts.empty() || starts.back().id != f.node.id))
      starts.push_back(f.node);
  if (starts.empty()) co_return false;
  const NodeRef from = starts[jitter_() % starts.size()];
  auto r = co_await route(fingers_.start(1), from, kOwnerLookupNodes);
  if (!r || r->owner.id == succ.id) co_return false;
  co_await adopt_closer(r->owner);
  co_return successors_.first().id != succ.id;
}

asio::awaitable<void> Node::check_predecessor() {
  if (!joined_ || leaving_ || !predecessor_) co_return;
  NodeRef pred = *predecessor_;
  Result<NodeRef> r = make_error(Errc::unavailable, "no client");
  auto client = peer(pred);
  const Empty ask;
  if (client) r = co_await (*client)->ping(ask, config_.rpc_timeout);
  if (!predecessor_ || predecessor_->id != pred.id) co_return;  // changed while we waited
  if (r && r->id == pred.id) {
    predecessor_missed_ = 0;
    peer_answered(pred);
    co_return;
  }
  if (r) spdlog::warn("[{}] {} answers with id {}, not {}", tag_, pred.uri, ring_.hex(r->id), ring_.hex(pred.id));
  else peer_failed(pred, r.error());
  // The paper clears the predecessor on the first failure. Here it takes a few misses in a row,
  // as the successor list suspects before it drops: one lost ping must not hand the range to
  // the next node that notifies. A node that answers "not part of a ring" has left or restarted.
  const bool gone = r || r.error().code == Errc::not_ready || departed_.contains(pred.id);
  if (!gone && ++predecessor_missed_ < std::max(1u, config_.predecessor_misses)) co_return;
  predecessor_.reset();
  predecessor_missed_ = 0;
  spdlog::info("[{}] predecessor {} failed", tag_, pred.uri);
}

}  // namespace chord
