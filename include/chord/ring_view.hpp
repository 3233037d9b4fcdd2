#pragma once
// The seam between the two layers of a node, as MIT's DHash sits on Chord and go-chord's Vnode
// calls its Delegate: the ring (chord::Node) answers "who owns this id, who follows me, how do I
// reach that peer" through RingView, and tells the storage layer when its neighbourhood changes
// through RingDelegate. Storage sees nothing else of the ring; the ring nothing of values.
#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "chord/finger_table.hpp"
#include "chord/id.hpp"
#include "chord/messages.hpp"
#include "chord/result.hpp"
#include "chord/service.hpp"

namespace chord {

class RingView {
 public:
  virtual ~RingView() = default;
  virtual const NodeRef& self() const = 0;
  virtual const Ring& ring() const = 0;
  virtual const asio::any_io_executor& executor() const = 0;
  // Part of a ring, and not on its way out.
  virtual bool joined() const = 0;
  virtual bool leaving() const = 0;
  // The error a leaving node answers writes with.
  virtual Error leaving_error() const = 0;
  // On a leaving node: returns once the leave has been announced to the neighbours (or after
  // limit), so that a write refused meanwhile is answered when its sender's next lookup can name
  // the node that holds the key now.
  virtual asio::awaitable<void> until_left(Timeout /*limit*/) { co_return; }
  virtual const std::optional<NodeRef>& predecessor() const = 0;
  virtual const SuccessorList& successors() const = 0;
  // Routed around for now: a call to it failed lately.
  virtual bool suspected(const Id& id) const = 0;
  // The owner of key_id and its successors, by an iterative lookup from this node.
  virtual asio::awaitable<Result<LookupReply>> find_successor(Id key_id) = 0;
  // The same for a put, get or delete this node forwards: may answer from the owners found
  // lately (route_cache.hpp) instead of routing.
  virtual asio::awaitable<Result<LookupReply>> find_owner(Id key_id) { return find_successor(key_id); }
  // A client for a peer (this node itself for its own ref). What became of a call to it is
  // reported back, so that routing learns of dead peers from storage traffic too.
  virtual Result<std::shared_ptr<ChordService>> peer(const NodeRef& node) = 0;
  virtual void peer_failed(const NodeRef& node, const Error& error) = 0;
  virtual void peer_answered(const NodeRef& node) = 0;
  // A peer that answered it is leaving the ring, or not (yet) in one: it owns no arc to remember.
  virtual void peer_not_ready(const NodeRef& /*node*/) {}
  // What a call to node came to: any answer, an error too unless it says the peer is gone, clears
  // a suspicion; a peer failure makes one.
  template <class T>
  void report(const NodeRef& node, const Result<T>& r) {
    if (!r && r.error().code == Errc::not_ready) peer_not_ready(node);
    if (r || !is_peer_failure(r.error().code)) peer_answered(node);
    else peer_failed(node, r.error());
  }
  // Keeps the ring (and with it the storage layer) alive while a coroutine of storage runs.
  virtual std::shared_ptr<const void> hold() const = 0;
};

// A call's timeout during a leave: the usual one, cut short by the deadline (but long enough to
// be answered on loopback, so that the neighbours still hear of the leave).
inline Timeout leave_budget(std::chrono::steady_clock::time_point deadline, Timeout usual) {
  auto left = std::chrono::duration_cast<Timeout>(deadline - std::chrono::steady_clock::now());
  return std::clamp(left, Timeout(200), usual);
}

// Which nodes stay after a leave, in the order they should be told (see Node::leave).
struct Departure {
  Result<void> outcome;
  std::vector<NodeRef> staying;
};

class RingDelegate {
 public:
  virtual ~RingDelegate() = default;
  // The ring's periodic tasks start or stop (a stop looks like a crash to the ring).
  virtual void ring_started() = 0;
  virtual void ring_stopped() = 0;
  // A notify made `now` this node's predecessor: the keys in (old, now] are now's.
  virtual void predecessor_changed(const std::optional<NodeRef>& old, const NodeRef& now) = 0;
  // A peer announced its leave.
  virtual void member_left(const NodeRef& gone) = 0;
  // This node leaves: its values go to the successors that stay, before `deadline`.
  virtual asio::awaitable<Departure> departing(std::chrono::steady_clock::time_point deadline) = 0;
};

}  // namespace chord
