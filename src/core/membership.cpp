// Entering and leaving the ring: the paper's join (through any node of the ring), a join that
// tries a list of seeds, and the voluntary leave the paper sketches (hand keys on, tell both
// neighbours), made safe for neighbours that leave at the same moment.
#include <algorithm>
#include <unordered_set>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "chord/node.hpp"

namespace chord {

asio::awaitable<Result<void>> Node::join(std::optional<std::string> known_uri) {
  if (!known_uri || *known_uri == self_.uri) {
    // A new ring: the paper's create(): predecessor nil, successor the node itself.
    predecessor_.reset();
    successors_.assign({});
    joined_ = true;
    spdlog::info("[{}] created a new ring as {}", tag_, self_.uri);
    co_return Result<void>{};
  }
  auto known = connector_.connect(*known_uri);
  if (!known) co_return known.error();
  // n.join(n'): successor = n'.find_successor(n)
  const LookupRequest own{{}, self_.id};
  auto found = co_await (*known)->lookup(own, config_.rpc_timeout);
  if (!found)
    co_return make_error(found.error().code, fmt::format("join through {}: {}", *known_uri,
                                                         found.error().message));
  std::vector<NodeRef> list{found->owner};
  list.insert(list.end(), found->successors.begin(), found->successors.end());
  for (const auto& n : list) {
    if (n.id != self_.id || n.uri == self_.uri) continue;
    // Another URI with this id: a conflict if it is alive, a stale entry of a departed node if not.
    auto twin = connector_.connect(n.uri);
    if (!twin) continue;
    auto pong = co_await (*twin)->ping(Empty{}, config_.rpc_timeout);
    if (pong && pong->id == self_.id)
      co_return make_error(Errc::conflict,
                           fmt::format("node {} already has id {}; pick another URI", n.uri, ring_.hex(self_.id)));
  }
  // A restarted node may still be listed under its own URI; its successor is the next one.
  successors_.assign(list);
  if (successors_.empty())
    co_return make_error(Errc::unavailable,
                         fmt::format("join through {}: no successor other than this node", *known_uri));
  predecessor_.reset();
  predecessor_missed_ = 0;
  joined_ = true;
  spdlog::info("[{}] joined through {}; successor {}", tag_, *known_uri, successors_.first().uri);
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Node::join_any(std::vector<std::string> seeds) {
  // One seed list may be shared by a whole cluster, so it can name this node: its first entry
  // is the one node allowed to start the ring; every other node only ever joins.
  const bool first = !seeds.empty() && seeds.front() == self_.uri;
  std::erase(seeds, self_.uri);
  if (seeds.empty()) co_return co_await join(std::nullopt);
  std::string why;
  std::optional<Errc> retryable;
  Errc last = Errc::invalid_argument;
  for (const auto& seed : seeds) {
    auto r = co_await join(seed);
    if (r || r.error().code == Errc::conflict) co_return r;
    last = r.error().code;
    if (join_retryable(last)) retryable = last;
    why += (why.empty() ? "" : "; ") + r.error().message;
  }
  if (first && retryable) {
    spdlog::info("[{}] no other seed is part of a ring ({}); as the first seed, this node starts one", tag_, why);
    co_return co_await join(std::nullopt);
  }
  co_return make_error(retryable.value_or(last), why);
}

asio::awaitable<Result<void>> join_cluster(std::shared_ptr<Node> node, std::vector<std::string> seeds,
                                           std::chrono::milliseconds patience) {
  using SteadyClock = std::chrono::steady_clock;
  const auto until = SteadyClock::now() + patience;
  // Short and capped: a chain of nodes started at once (each naming the one before) joins one
  // link per retry, so the cap bounds how long the last one waits.
  auto backoff = std::chrono::milliseconds(50);
  const auto cap = std::chrono::milliseconds(500);
  std::minstd_rand jitter(static_cast<std::uint32_t>(IdHash{}(node->self().id)));
  for (unsigned attempt = 1;; ++attempt) {
    auto r = co_await node->join_any(seeds);
    if (r) co_return r;
    const auto code = r.error().code;
    if (!join_retryable(code)) co_return r;
    const auto now = SteadyClock::now();
    if (now >= until)
      co_return make_error(code, fmt::format("could not join within {} s ({} attempts); last: {}",
                                             std::chrono::duration_cast<std::chrono::seconds>(patience).count(),
                                             attempt, r.error().message));
    if (attempt == 1 || attempt % 10 == 0)
      spdlog::info("join: {}; retrying (attempt {})", r.error().message, attempt);
    // A wait in [backoff/2, backoff]: nodes started together do not retry in lockstep. The last
    // attempt is made at the deadline itself.
    auto wait = backoff / 2 + std::chrono::milliseconds(jitter() % (backoff.count() / 2 + 1));
    wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(until - now));
    asio::steady_timer timer(co_await asio::this_coro::executor, wait);
    co_await timer.async_wait(asio::use_awaitable);
    backoff = std::min(backoff * 2, cap);
  }
}

Error Node::leaving_error() const {
  return make_error(Errc::not_ready, fmt::format("{} is leaving the ring", self_.uri));
}

void Node::begin_leave() {
  if (leaving_) return;
  leaving_ = true;
  stop();
}

asio::awaitable<Result<void>> Node::leave(std::chrono::steady_clock::time_point deadline) {
  if (!joined_) co_return Result<void>{};
  begin_leave();
  auto keep = shared_from_this();
  using SteadyClock = std::chrono::steady_clock;
  auto late = [&] { return SteadyClock::now() >= deadline; };
  // A call's timeout: the usual one, cut short by the deadline (but long enough to be answered
  // on loopback, so that the neighbours still hear of the leave).
  auto budget = [&]() -> Timeout {
    auto left = std::chrono::duration_cast<Timeout>(deadline - SteadyClock::now());
    return std::clamp(left, Timeout(200), config_.rpc_timeout);
  };

  // Every key this node holds goes to the first of the next k live successors that lacks it: for
  // a key it owns that is the successor (the new owner) or, once the replicas are complete, the
  // k-th successor; for a replica it is the node that becomes the key's new last replica. So a
  // leave keeps k copies of every key at once, and a crash right after it loses nothing that k
  // crashes would not. A successor that is leaving too refuses, and is passed by: neighbours
  // that leave together hand their keys to the first node that stays.
  auto values = store_->list();
  std::vector<NodeRef> candidates = successors_.nodes();  // a copy: Leave notices change the list
  std::erase_if(candidates, [&](const NodeRef& n) { return n.id == self_.id; });  // a lone node
  struct Target {
    NodeRef node;
    std::unordered_set<Id, IdHash> lacks;
  };
  std::vector<Target> targets;
  std::unordered_set<Id, IdHash> passed;  // leaving, dead, or refused
  const std::size_t want = std::max(1u, config_.replicas);
  for (const auto& c : candidates) {
    if (targets.size() >= want || late()) break;
    auto client = peer(c);
    if (!client) {
      passed.insert(c.id);
      continue;
    }
    Target t{c, {}};
    bool answered = true;
    // At least one offer, even with no keys: it tells whether the successor stays.
    const std::size_t page = std::max<std::size_t>(1, config_.sync_page_keys);
    for (std::size_t at = 0; answered && (at == 0 || at < values.size()); at += page) {
      SyncRequest offer{self_, {}, std::nullopt, std::nullopt};
      for (std::size_t j = at; j < std::min(values.size(), at + page); ++j)
        offer.keys.push_back(KeyDigest{values[j].key_id, values[j].sha256, values[j].version});
      auto r = co_await (*client)->sync_replicas(offer, budget());
      if (r) {
        t.lacks.insert(r->missing.begin(), r->missing.end());
        continue;
      }
      answered = false;
      if (r.error().code == Errc::not_ready)
        spdlog::info("[{}] leave: passing {} by: {}", tag_, c.uri, r.error().message);
      else {
        peer_failed(c, r.error());
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
                                     lost + unsent, values.size(), self_.uri, lost, unsent));
  else if (!values.empty())
    spdlog::info("[{}] leave: {} keys, {} copied to the successors that lacked them", tag_, values.size(), moved);

  // Tell the predecessor and the first successor that stays; both learn of each other.
  std::vector<NodeRef> after;
  for (const auto& t : targets) after.push_back(t.node);
  for (const auto& c : candidates)
    if (!passed.contains(c.id) && std::none_of(after.begin(), after.end(), [&](const NodeRef& n) { return n.id == c.id; }))
      after.push_back(c);
  LeaveRequest notice{self_, predecessor_, after};
  std::vector<NodeRef> tell;
  if (!after.empty()) tell.push_back(after.front());
  if (predecessor_ && (tell.empty() || predecessor_->id != tell.front().id)) tell.push_back(*predecessor_);
  for (const auto& n : tell) {
    auto client = peer(n);
    if (!client) continue;
    auto r = co_await (*client)->leave(notice, budget());
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
    // Its predecessor may be leaving at the same moment: then this node waits for a notify.
    const auto& p = req.predecessor;
    if (p && p->id != self_.id && !departed_.contains(p->id)) predecessor_ = p;
    else predecessor_.reset();
    predecessor_missed_ = 0;
  }
  if (successors_.contains(gone.id)) {
    bool was_first = successors_.first().id == gone.id;
    successors_.remove(gone.id);
    if (was_first) {
      std::vector<NodeRef> list;
      for (const auto& n : req.successors)
        if (!departed_.contains(n.id)) list.push_back(n);
      list.insert(list.end(), successors_.nodes().begin(), successors_.nodes().end());
      successors_.assign(list);
    }
  }
  fingers_.forget(gone.id);
  std::erase_if(heard_, [&](const Heard& h) { return h.node.id == gone.id; });
  synced_.erase(gone.id);
  spdlog::info("[{}] {} left the ring", tag_, gone.uri);
  co_return Empty{};
}

}  // namespace chord
