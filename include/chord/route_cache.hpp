#pragma once
// The owners an access node found lately, for the puts, gets and deletes it forwards. A lookup
// ends at the node whose successor owns the key: that answer names the whole arc (that node,
// owner] as the owner's, so a later key on the arc needs no lookup at all (a small put or get
// through an access node was a lookup of ~2 hops, then the call itself). An entry lives one
// stabilize interval, as long as the views a fresh lookup would be answered from may lag behind
// the ring; a write sent on a stale entry meets what one sent on a stale lookup meets (an owner
// that is no longer one hands it on to its predecessor, a dead one fails and is forgotten here).
// Only storage uses it: `lookup` (the Lookup RPC) and fix_fingers always route, so that hop
// counts and the simulator's figures stay those of Chord.
#include <cstddef>
#include <map>
#include <optional>
#include <vector>

#include "chord/clock.hpp"
#include "chord/id.hpp"
#include "chord/messages.hpp"

namespace chord {

class RouteCache {
 public:
  // Arcs remembered at once: past it, the one that expires first goes.
  static constexpr std::size_t kMaxArcs = 64;

  // The arc (from, reply.owner] is reply.owner's until `until`.
  void remember(const Id& from, const LookupReply& reply, Clock::time_point until) {
    if (from == reply.owner.id) return;  // a one-node ring: the arc would be the whole ring
    if (!arcs_.contains(reply.owner.id) && arcs_.size() >= kMaxArcs) {
      auto first = arcs_.begin();
      for (auto it = arcs_.begin(); it != arcs_.end(); ++it)
        if (it->second.until < first->second.until) first = it;
      arcs_.erase(first);
    }
    auto& arc = arcs_[reply.owner.id];
    arc.from = from;
    arc.owner = reply.owner;
    arc.successors = reply.successors;
    arc.until = until;
  }

  // The owner of key_id and its successors as the lookup that found them named them; hops 0,
  // and no path, which tells a remembered answer from a routed one (whose path has the asker).
  std::optional<LookupReply> find(const Id& key_id, Clock::time_point now) const {
    if (arcs_.empty()) return std::nullopt;
    // The arc that holds key_id ends at the first owner at or after it, around the ring.
    auto it = arcs_.lower_bound(key_id);
    if (it == arcs_.end()) it = arcs_.begin();
    const Arc& arc = it->second;
    if (now >= arc.until || !in_half_open(key_id, arc.from, arc.owner.id)) return std::nullopt;
    return LookupReply{key_id, arc.owner, arc.successors, 0, {}};
  }

  // A node that failed a call owns nothing here any more, nor holds a copy on an arc.
  void forget(const Id& node) {
    std::erase_if(arcs_, [&](const auto& a) {
      if (a.second.owner.id == node) return true;
      for (const auto& s : a.second.successors)
        if (s.id == node) return true;
      return false;
    });
  }

  std::size_t size() const { return arcs_.size(); }

 private:
  struct Arc {
    Id from;
    NodeRef owner;
    std::vector<NodeRef> successors;
    Clock::time_point until;
  };
  std::map<Id, Arc> arcs_;  // by the owner's id: the end of its arc
};

}  // namespace chord
