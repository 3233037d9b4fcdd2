#pragma once
// A whole ring of real chord::Node objects over the in-process transport, driven in rounds:
// one round runs every live node's stabilize, fix_fingers and check_predecessor once. Used by
// `chordnode simulate` and by the ring tests, which check it against the true owners computed
// from the sorted ids.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "chord/node.hpp"
#include "inproc.hpp"

namespace chord::sim {

struct RingOptions {
  unsigned bits = 160;
  NodeConfig node;
  inproc::Options network{std::chrono::microseconds{0}, true};
  bool replicate = true;  // run maintain_replicas in every round
  // The nodes read a clock that each round() moves on by one stabilize interval, so that
  // suspicions last a fixed number of rounds however fast the machine runs them. Off for rings
  // driven by the nodes' own Asio timers.
  bool virtual_time = true;
};

class SimRing {
 public:
  explicit SimRing(RingOptions options);
  ~SimRing();

  boost::asio::io_context& io() { return io_; }
  const Ring& ring() const { return ring_; }
  inproc::Network& network() { return network_; }

  // Adds a node (id from its URI, or the given id) that is not yet part of any ring; it is a
  // host of its own.
  std::shared_ptr<Node> add(std::optional<Id> id = std::nullopt);
  // Adds a host running `vnodes` virtual nodes, each with the id of its own URI.
  std::vector<std::shared_ptr<Node>> add_host(unsigned vnodes);
  std::size_t host_of(const Node& n) const { return hosts_.at(&n); }
  std::size_t host_count() const { return next_host_; }
  const std::vector<std::shared_ptr<Node>>& nodes() const { return nodes_; }
  std::vector<std::shared_ptr<Node>> live() const;
  bool alive(const Node& n) const;

  // Joins each of `joining` through a random live, joined node (or creates the ring), all at once.
  // Returns how many joins failed.
  std::size_t join(const std::vector<std::shared_ptr<Node>>& joining, std::mt19937_64& rng);
  // Computes every attached node's predecessor, successors and fingers from the sorted ids; they
  // count as joined from then on.
  void build_ideal();

  // One round of the periodic tasks on every live node.
  void round();
  // Rounds until successors and predecessors are right (and fingers too if asked), at most
  // max_rounds. Returns the rounds run, or nullopt if it never converged.
  std::optional<unsigned> stabilize(unsigned max_rounds, bool fingers = false);

  // Crash: the node's timers stop and calls to it fail.
  void kill(Node& n);
  // A new process at a departed or crashed node's URI (so with its id), with an empty store, not
  // yet part of any ring. It replaces the old node, which is dropped: `n` must not be used after.
  // With keep_store, the new process finds what the old one held (a restart from its data dir).
  std::shared_ptr<Node> restart(Node& n, bool keep_store = false);
  void revive(Node& n);
  // A stopped process: calls to the node fail as to a crashed one, but it keeps its state, and
  // the writes sent to it wait in its socket. resume() lets it go on `paused_for` later (the
  // clock moves on by that much) and hands it those writes, long after their senders gave up.
  void pause(Node& n);
  // How many held writes it handed over.
  std::size_t resume(Node& n, std::chrono::milliseconds paused_for);
  // Graceful leave, run to completion.
  Result<void> leave(Node& n);
  // The same with other work meanwhile (see run_during).
  template <class F>
  Result<void> leave_during(Node& n, F during);
  // Graceful leaves of several nodes at the same moment (a process's virtual nodes, neighbours
  // sent SIGTERM together), run to completion; how many failed.
  std::size_t leave_together(const std::vector<Node*>& leaving);

  // --- truth, from the sorted ids of the live nodes ---
  std::vector<NodeRef> sorted_live() const;
  NodeRef true_owner(const Id& key_id) const;
  bool successors_correct() const;
  double fingers_correct() const;  // fraction of live nodes' finger entries that are right

  // Runs a coroutine to completion on the ring's io_context.
  template <class T>
  T run(boost::asio::awaitable<T> task);
  // The same with other work meanwhile: `during` runs once the task has begun (the ring runs the
  // task's calls among those its run() calls make), then the task runs to completion.
  template <class T, class F>
  T run_during(boost::asio::awaitable<T> task, F during);

 private:
  // The live nodes, their ids in ring order, and where each live node stands in that order.
  struct Truth {
    std::vector<std::shared_ptr<Node>> live;
    std::vector<Id> sorted;
    std::vector<std::size_t> position;  // of live[k] in sorted
  };
  Truth truth() const;
  bool successors_correct(const Truth& t) const;
  double fingers_correct(const Truth& t) const;
  bool fingers_all_right(const Truth& t) const;
  std::size_t right_fingers(const Truth& t, const Node& node) const;  // entries of node's table that are right
  void drain();
  std::shared_ptr<Node> attach(const std::string& uri, const Id& id, std::size_t host,
                               std::unique_ptr<Store> store = nullptr);

  RingOptions options_;
  std::shared_ptr<ManualClock> clock_;  // null without virtual time
  Ring ring_;
  boost::asio::io_context io_;
  inproc::Network network_;
  std::vector<std::shared_ptr<Node>> nodes_;
  std::unordered_map<const Node*, std::size_t> hosts_;
  std::size_t next_host_ = 0;
  mutable std::size_t first_wrong_ = 0;  // where fingers_all_right last found a wrong entry
};

}  // namespace chord::sim

#include "sim_ring_run.hpp"
