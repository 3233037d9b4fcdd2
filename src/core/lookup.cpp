// Iterative lookup: the access node asks each hop for its next step, so that no request handler
// ever waits on another node (no cycle of waits). A dead hop is routed around: the caller tries
// the hop's other candidates, then asks the hop again naming the dead nodes, and backs up the
// path if the hop itself has died.
#include <algorithm>
#include <iterator>

#include <boost/container/small_vector.hpp>
#include <spdlog/spdlog.h>

#include "chord/key_id.hpp"
#include "chord/node.hpp"

namespace chord {

namespace {
bool listed(const std::vector<Id>& ids, const Id& id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }
}  // namespace

std::vector<NodeRef> Node::closest_preceding_nodes(const Id& key_id, unsigned count,
                                                   const std::vector<Id>& exclude) const {
  // Pointers while choosing, copies of the chosen few: this runs on every hop of every lookup.
  // Inline room for the fingers of a ring of 2^24 nodes and a successor list: growing a vector
  // here was three allocations a hop.
  boost::container::small_vector<const NodeRef*, 32> found;
  bool with_suspected = false;
  const OpenArc before_key(self_.id, key_id);
  const bool check_suspected = !suspected_.empty();
  auto consider = [&](const NodeRef& n) {
    if (n.uri.empty() || !before_key.contains(n.id) || (!exclude.empty() && listed(exclude, n.id))) return;
    if (!with_suspected && check_suspected && suspected(n.id)) return;
    for (const auto* f : found)
      if (f->id == n.id) return;
    found.push_back(&n);
  };
  auto choose = [&] {
    // The paper's closest_preceding_node scans the fingers from m down to 1; the closest fingers
    // come first, so that paths keep the paper's length (about 1/2 log2 N).
    const auto& runs = fingers_.runs();
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) consider(it->node);
    std::sort(found.begin(), found.end(),
              [&](const NodeRef* a, const NodeRef* b) { return in_open(a->id, b->id, key_id); });
    // Then the successor list, which routes on when the fingers are dead or not yet known.
    for (const auto& s : successors_.nodes()) {
      if (found.size() >= count) break;
      consider(s);
    }
  };
  choose();
  // Suspicion comes from one missed deadline: with nothing else to offer, the suspected are
  // still better than no step at all (the caller names the ones it finds dead in `exclude`).
  if (found.empty()) {
    with_suspected = true;
    choose();
  }
  std::vector<NodeRef> out;
  out.reserve(std::min<std::size_t>(found.size(), count));
  for (std::size_t i = 0; i < found.size() && i < count; ++i) out.push_back(*found[i]);
  return out;
}

LookupStepReply Node::step(const Id& key_id, const std::vector<Id>& exclude, unsigned max_nodes) const {
  // The first successor not known dead: key in (n, successor] makes this the last hop. The
  // list is copied only then: this runs on every hop of every lookup.
  const auto& nodes = successors_.nodes();
  auto first = std::find_if(nodes.begin(), nodes.end(), [&](const NodeRef& s) { return !listed(exclude, s.id); });
  const Id& next = first == nodes.end() ? self_.id : first->id;
  if (!in_half_open(key_id, self_.id, next))
    return LookupStepReply{false, closest_preceding_nodes(key_id, config_.lookup_candidates, exclude)};
  const std::size_t limit = max_nodes ? max_nodes : nodes.size() + 1;
  std::vector<NodeRef> succ;
  succ.reserve(std::min<std::size_t>(limit, nodes.end() - first + 1));
  for (auto it = first; it != nodes.end() && succ.size() < limit; ++it)
    if (!listed(exclude, it->id)) succ.push_back(*it);
  // A list shorter than its capacity names every other node of a small ring, and this node
  // follows its last entry: it is one of the key's holders too (in a ring of 3 and k = 3, the
  // third copy). Left out, a read would count its quorum among the other two alone, one of which
  // may be dead.
  const bool wraps = nodes.size() < successors_.capacity();
  if (succ.empty() || (wraps && succ.size() < limit && !listed(exclude, self_.id))) succ.push_back(self_);
  return LookupStepReply{true, std::move(succ)};
}

bool Node::owns(const Id& key_id) const { return predecessor_ && in_half_open(key_id, predecessor_->id, self_.id); }

// The answer a route would bring back from the predecessor. Greedy finger routing from the owner
// itself goes the long way round, to the node just before it: ~log2 N hops for a key that a
// client sent to its owner.
LookupStepReply Node::own_step(unsigned max_nodes) const {
  const auto& nodes = successors_.nodes();
  // As many as the predecessor's list would give: this node and all but the last of its own.
  const std::size_t limit = max_nodes ? max_nodes : successors_.capacity();
  std::vector<NodeRef> holders{self_};
  for (auto it = nodes.begin(); it != nodes.end() && holders.size() < limit; ++it)
    if (it->id != self_.id) holders.push_back(*it);
  return LookupStepReply{true, std::move(holders)};
}

asio::awaitable<Result<LookupStepReply>> Node::lookup_step(const LookupStepRequest& req, Timeout) {
  if (!joined_) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", self_.uri));
  if (!ring_.contains(req.key_id))
    co_return make_error(Errc::invalid_argument,
                         fmt::format("key id is outside this {}-bit ring", ring_.bits()));
  if (req.exclude.size() > config_.max_exclude)
    co_return make_error(Errc::too_large, fmt::format("a lookup step may exclude at most {} nodes", config_.max_exclude));
  co_return step(req.key_id, req.exclude, req.max_nodes);
}

asio::awaitable<Result<LookupReply>> Node::find_successor(Id key_id) { return find_successor(key_id, 0); }

asio::awaitable<Result<LookupReply>> Node::find_successor(Id key_id, unsigned count) {
  auto r = co_await route(key_id, std::nullopt, count);
  if (observer_) observer_->lookup_done(r ? r->hops : 0, r.ok());
  co_return r;
}

asio::awaitable<Result<LookupReply>> Node::find_owner(Id key_id) {
  if (auto hit = routes_.find(key_id, now())) {
    if (observer_) observer_->lookup_cached();
    co_return std::move(*hit);
  }
  std::optional<Id> arc_from;
  auto r = co_await route(key_id, std::nullopt, 0, &arc_from);
  if (observer_) observer_->lookup_done(r ? r->hops : 0, r.ok());
  if (r && arc_from) routes_.remember(*arc_from, *r, now() + config_.stabilize_interval);
  co_return r;
}

asio::awaitable<Result<LookupReply>> Node::route(Id key_id, std::optional<NodeRef> around_from, unsigned count,
                                                 std::optional<Id>* arc_from) {
  if (!joined_) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", self_.uri));
  auto keep = shared_from_this();
  LookupReply out;
  out.key_id = key_id;
  out.path.push_back(self_);
  std::vector<Id> dead;  // found dead during this lookup; routing around itself: this node too
  if (around_from) dead.push_back(self_.id);
  // Scanned, not hashed: a lookup asks about log2 N nodes, and a hash set cost an allocation per
  // node asked.
  boost::container::small_vector<Id, 24> asked{self_.id};
  out.path.reserve(16);
  unsigned failures = 0;
  unsigned calls = 0;  // every step asked, this node's own and repeated ones too: the bound on the loop
  const unsigned max_calls = 2 * ring_.bits() + 2 * successors_.capacity() + 8;

  // Asks node (or this node, locally) for its next step.
  auto ask = [&](const NodeRef& node) -> asio::awaitable<Result<LookupStepReply>> {
    ++calls;
    if (node.id == self_.id) co_return step(key_id, dead, count);
    auto client = peer(node);
    if (!client) co_return client.error();
    LookupStepRequest req{key_id, dead, count};
    if (req.exclude.size() > config_.max_exclude) req.exclude.resize(config_.max_exclude);
    auto r = co_await (*client)->lookup_step(req, config_.rpc_timeout);
    if (r) drop_unauthentic(r->nodes, node);
    co_return r;
  };
  auto failed = [&](const NodeRef& node, const Error& error) {
    ++failures;
    peer_failed(node, error);
    if (!listed(dead, node.id)) dead.push_back(node.id);
  };
  // A hop that answers it is not part of a ring (it left, or restarted and has not joined again)
  // is alive but routes nothing: passed by as a dead one is, without a suspicion, and no finger
  // of this node points to it any more. (It ended the whole lookup with its refusal before: the
  // data checker's writes during leaves met it.)
  auto outside = [&](const NodeRef& node, const Error& error) {
    if (error.code != Errc::not_ready) return false;
    fingers_.forget(node.id);
    routes_.forget(node.id);
    if (!listed(dead, node.id)) dead.push_back(node.id);
    return true;
  };

  // path holds the nodes that answered, the access node first: the stack to back up along.
  LookupStepReply current = around_from ? LookupStepReply{false, {*around_from}}
                            : owns(key_id)  ? own_step(count)
                                            : step(key_id, dead, count);
  for (;;) {
    if (calls >= max_calls)
      co_return make_error(Errc::deadline_exceeded,
                           fmt::format("lookup of {} gave up after {} calls ({} failed)", ring_.short_hex(key_id),
                                       max_calls, failures));
    if (current.done) {
      // Moved, not copied, from the step's answer into the reply: each copy of a NodeRef counts
      // a reference to its URI, and every lookup of a fix_fingers round ends here.
      std::vector<NodeRef> live;
      live.reserve(current.nodes.size());
      for (auto& n : current.nodes) {
        if (listed(dead, n.id)) continue;
        // A suspected owner failed a call a while ago; it may have restarted since. Passing it by
        // would name its successor as the owner of its keys, so it is asked first.
        if (live.empty() && suspected(n.id) && n.id != self_.id) {
          // Plain statements: g++ 12 destroys temporaries of a conditional around co_await twice.
          Result<NodeRef> pong = make_error(Errc::unavailable, "no client");
          auto client = peer(n);
          const Empty ask;
          if (client) pong = co_await (*client)->ping(ask, config_.rpc_timeout);
          if (!pong || pong->id != n.id) {
            if (!pong && is_peer_failure(pong.error().code)) failed(n, pong.error());
            else dead.push_back(n.id);
            continue;
          }
          peer_answered(n);
        }
        // Suspected successors stay in the answer: they are the key's other holders, and a
        // read or write that left them out would count a smaller quorum than the ring has.
        live.push_back(std::move(n));
      }
      if (live.empty())
        co_return make_error(Errc::unavailable,
                             fmt::format("every successor of key {} is unreachable", ring_.short_hex(key_id)));
      // Only an answer that no failure shaped names an arc: a node found dead by one missed
      // deadline may be alive, and its arc is not its successor's to keep for an interval. (With
      // none found dead, no node of the step was passed by: the owner is the step's first.)
      if (arc_from && !around_from && dead.empty()) *arc_from = out.path.back().id;
      out.owner = std::move(live.front());
      out.successors.assign(std::make_move_iterator(live.begin() + 1), std::make_move_iterator(live.end()));
      co_return out;
    }
    bool moved = false;
    for (const auto& next : current.nodes) {
      // Each hop must be closer to the key than the last node that answered (the first hop of a
      // route around this node is where it starts).
      const bool closer = in_open(next.id, out.path.back().id, key_id) || (around_from && out.path.size() == 1);
      if (std::find(asked.begin(), asked.end(), next.id) != asked.end() || listed(dead, next.id) || !closer)
        continue;
      asked.push_back(next.id);
      auto r = co_await ask(next);
      if (!r) {
        if (outside(next, r.error())) continue;
        if (!is_peer_failure(r.error().code)) co_return r.error();
        failed(next, r.error());
        continue;
      }
      peer_answered(next);
      ++out.hops;
      out.path.push_back(next);
      current = std::move(*r);
      moved = true;
      break;
    }
    if (moved) continue;
    // Every candidate of the last hop failed: ask it again, naming the dead, and back up the
    // path while the hop itself does not answer.
    for (;;) {
      if (out.path.empty())
        co_return make_error(Errc::unavailable, fmt::format("no live route to key {} ({} hops, {} failed)",
                                                            ring_.short_hex(key_id), out.hops, failures));
      NodeRef back = out.path.back();
      auto r = co_await ask(back);
      if (r) {
        current = std::move(*r);
        break;
      }
      if (!outside(back, r.error())) {
        if (!is_peer_failure(r.error().code)) co_return r.error();
        failed(back, r.error());
      }
      out.path.pop_back();
    }
  }
}

asio::awaitable<Result<LookupReply>> Node::lookup(const LookupRequest& req, Timeout) {
  auto id = key_id_of(ring_, config_.max_key_bytes, req.key, req.key_id);
  if (!id) co_return id.error();
  co_return co_await find_successor(*id);
}

}  // namespace chord
