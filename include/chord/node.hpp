#pragma once
// chord::Node: one Chord node. It keeps the paper's state (predecessor, successor list,
// finger table), runs stabilize / notify / fix_fingers / check_predecessor and answers lookups
// from its own state. Values are the storage layer's (chord::Storage, above the ring): the node
// passes the storage RPCs to it, shows it the ring through RingView and tells it of changes of
// neighbours through RingDelegate. It reaches peers only through a Connector, so it runs
// unchanged over every transport.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "chord/clock.hpp"
#include "chord/route_cache.hpp"
#include "chord/finger_table.hpp"
#include "chord/ring_view.hpp"
#include "chord/service.hpp"
#include "chord/shared_folder.hpp"
#include "chord/storage.hpp"
#include "chord/store.hpp"

namespace chord {

struct NodeConfig {
  unsigned successors = 16;  // r, the length of the successor list
  unsigned replicas = 3;     // k: a key lives on its owner and the next k-1 successors
  // W and R of k: a put or delete is acknowledged once W copies hold it; a get asks R holders and
  // returns the newest version. 0: a majority of k. Both are capped by the ring's size.
  unsigned write_quorum = 0;
  unsigned read_quorum = 0;
  // How long a tombstone is kept: a copy that comes back after longer may bring the key back.
  std::chrono::milliseconds tombstone_grace{std::chrono::hours(24 * 10)};
  std::chrono::milliseconds stabilize_interval{500};
  std::chrono::milliseconds fix_fingers_interval{500};
  std::chrono::milliseconds check_predecessor_interval{1000};
  std::chrono::milliseconds replicate_interval{2000};
  std::chrono::milliseconds rpc_timeout{2000};
  std::chrono::milliseconds suspect_for{5000};  // how long a failed peer is routed around
  std::size_t chunk_bytes = 1 << 20;
  std::uint64_t max_value_bytes = 4ull << 30;
  std::size_t max_key_bytes = 4096;
  std::uint32_t max_list_keys = 10000;
  unsigned lookup_candidates = 4;  // closest preceding nodes offered per lookup step
  unsigned max_exclude = 64;       // dead nodes a lookup step request may name
  // Every this many replica rounds, a successor is offered the full key list even if nothing
  // changed here: it may have restarted empty.
  unsigned full_sync_every = 10;
  // Keys per SyncReplicas message: replica sync and leave send a range in pages, so a node with
  // 10^6 keys syncs with messages far below the transports' 8 MiB bound.
  std::size_t sync_page_keys = 4096;
  // check_predecessor drops the predecessor after this many missed pings in a row: one lost
  // ping (a pause, a busy peer) must not make a live predecessor look dead and move its keys.
  unsigned predecessor_misses = 3;
  // Ids that cannot be chosen (MIT Chord's is_authenticID): every node a peer names must have as
  // id the SHA-1 of its URI (reduced to m bits), or it is refused or left out; a new predecessor
  // or successor is adopted only once it answered at that URI with that id. serve turns it on;
  // the simulator, whose tests place nodes at chosen ids, leaves it off.
  bool authentic_ids = false;
  std::shared_ptr<const Clock> clock = steady_clock();
};

// A join failure worth retrying: the seed is not up, did not answer in time, or is itself not
// (yet) part of a ring. Anything else (a refusal, a conflict of ids) will not change by waiting.
inline bool join_retryable(Errc c) { return is_peer_failure(c) || c == Errc::not_ready; }

// What a node reports as it works, for metrics. Called on the node's executor.
class NodeObserver {
 public:
  virtual ~NodeObserver() = default;
  virtual void lookup_done(std::uint32_t hops, bool ok) = 0;
  // A put, get or delete's owner came from the owners found lately (route_cache.hpp), no lookup.
  virtual void lookup_cached() {}
  virtual void stabilized() = 0;
};

class Node final : public ChordService, public RingView, public std::enable_shared_from_this<Node> {
 public:
  Node(asio::any_io_executor executor, Ring ring, NodeRef self, NodeConfig config,
       Connector& connector, std::unique_ptr<Store> store, std::string transport = "inproc");
  ~Node() override;

  // --- lifecycle ---
  // Joins the ring that known_uri belongs to, or creates a new ring when there is none.
  asio::awaitable<Result<void>> join(std::optional<std::string> known_uri);
  // One pass over a list of seeds: joins through the first that lets it in. Only the list's
  // first entry, when it is this node, starts a ring, and only if no other seed is in one (no
  // seeds, or this node alone: a new ring); any other node whose seeds are all still joining
  // must not start a ring of its own, which would never merge with theirs. The error names
  // every seed and why it failed; it is join_retryable() if any seed may yet let it in, and a
  // conflict of ids ends the pass at once.
  asio::awaitable<Result<void>> join_any(std::vector<std::string> seeds);
  // Runs the periodic tasks on timers until stop() or leave().
  void start();
  // Stops the periodic tasks; the ring sees a crash.
  void stop();
  // First step of a graceful leave: stops the periodic tasks and refuses hand-offs, replicas and
  // new values from now on, so that neighbours leaving at the same moment pass this node by.
  void begin_leave();
  // Graceful leave: hands every key to the first k successors that are not leaving themselves
  // and tells predecessor and successor. Calls made after `deadline` are not started: keys not
  // handed off by then stay on their replicas.
  asio::awaitable<Result<void>> leave(
      std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());
  bool leaving() const override { return leaving_; }
  asio::awaitable<void> until_left(Timeout limit) override;

  // --- the paper's periodic tasks (public so that a simulator can run them in rounds) ---
  asio::awaitable<void> stabilize();
  asio::awaitable<void> fix_fingers();
  asio::awaitable<void> check_predecessor();
  // fix_fingers as the timer runs it: every tick while the ring around this node changes, at
  // doubling gaps of up to kFingerGapMax ticks while whole sweeps find nothing new.
  asio::awaitable<void> fix_fingers_paced();
  static constexpr unsigned kFingerGapMax = 8;

  // Iterative lookup from this node: owner of key_id, hops and path.
  asio::awaitable<Result<LookupReply>> find_successor(Id key_id) override;
  // The same, naming at most count nodes (owner first; 0: as many as the last hop knows).
  asio::awaitable<Result<LookupReply>> find_successor(Id key_id, unsigned count);
  asio::awaitable<Result<LookupReply>> find_owner(Id key_id) override;
  void peer_not_ready(const NodeRef& node) override { routes_.forget(node.id); }
  // What a lookup asks for when only the owner matters (fix_fingers, check_successor): the owner,
  // and the node after it for when the owner has died, where the last step would otherwise send
  // its whole successor list (16 nodes by default) to be dropped.
  static constexpr unsigned kOwnerLookupNodes = 2;

  // --- state ---
  const NodeRef& self() const override { return self_; }
  const Ring& ring() const override { return ring_; }
  const NodeConfig& config() const { return config_; }
  const std::optional<NodeRef>& predecessor() const override { return predecessor_; }
  const SuccessorList& successors() const override { return successors_; }
  const FingerTable& fingers() const { return fingers_; }
  Storage& storage() { return *storage_; }
  const Store& store() const { return storage_->local(); }
  bool joined() const override { return joined_; }
  // Peers currently routed around because a call to them failed.
  std::size_t suspected_count() const;
  void set_observer(std::shared_ptr<NodeObserver> observer) { observer_ = std::move(observer); }
  // The folder Fetch with role SHARED reads from (serve --share); without one such a fetch is
  // not_found.
  void set_shared_folder(std::shared_ptr<SharedFolder> folder) { shared_folder_ = std::move(folder); }
  const asio::any_io_executor& executor() const override { return executor_; }
  // Routing state computed outside the protocol (the simulator's ideal ring). fingers[i-1] is
  // finger i.
  void install_routing(std::optional<NodeRef> predecessor, const std::vector<NodeRef>& successors,
                       const std::vector<NodeRef>& fingers);

  // --- ChordService: what peers and clients call ---
#define CHORD_OVERRIDE_RPC(fn, Name, Req, Rep) \
  asio::awaitable<Result<Rep>> fn(const Req& req, Timeout timeout) override;
  CHORD_UNARY_RPCS(CHORD_OVERRIDE_RPC)
#undef CHORD_OVERRIDE_RPC
  asio::awaitable<Result<StoreReply>> store(const StoreRequest& req, ChunkSource& chunks,
                                            Timeout timeout) override;
  asio::awaitable<Result<FetchReply>> fetch(const FetchRequest& req, ChunkSink& sink,
                                            Timeout timeout) override;

  // --- RingView: what the storage layer may ask of the ring ---
  bool suspected(const Id& id) const override;
  Error leaving_error() const override;
  Result<std::shared_ptr<ChordService>> peer(const NodeRef& node) override;
  void peer_failed(const NodeRef& node, const Error& error) override;
  void peer_answered(const NodeRef& node) override;
  std::shared_ptr<const void> hold() const override { return shared_from_this(); }

 private:
  // Routing
  // around_from: route as if this node were not in the ring, starting at that node. The answer
  // for this node's own id + 1 is then the ring's view of its successor: a way to find nodes
  // that its successor pointer skips, which stabilize alone never learns of.
  // count: the most nodes the answer names (0: all the last hop knows).
  // arc_from, if given, is set to the node whose step named the owner, when no node was found
  // dead on the way (so none of that step was passed by: its first node is the owner).
  asio::awaitable<Result<LookupReply>> route(Id key_id, std::optional<NodeRef> around_from = std::nullopt,
                                             unsigned count = 0, std::optional<Id>* arc_from = nullptr);
  // Whether it found (and adopted) a node between this one and its successor.
  asio::awaitable<bool> check_successor();
  // fix_fingers' search for entry i's node by walking from the node it names, a call or two a
  // step (at most kFingerWalk steps): nullopt when only a lookup can tell.
  asio::awaitable<std::optional<NodeRef>> walk_to_finger(unsigned i);
  asio::awaitable<bool> follows(const NodeRef& before, const NodeRef& after);
  asio::awaitable<std::optional<Neighbors>> neighbors_of(const NodeRef& node);
  static constexpr unsigned kFingerWalk = 3;
  asio::awaitable<void> stabilize_once();
  asio::awaitable<void> recover_successors();
  asio::awaitable<void> adopt_closer(NodeRef hint);
  void heard_from(const NodeRef& n);
  // Nodes heard from since then still count (a minute by default): a node notifies every
  // stabilize round while its successor pointer skips one, unless it is paused or busy.
  std::chrono::steady_clock::time_point heard_since() const { return now() - 12 * config_.suspect_for; }
  void tell_too(std::vector<NodeRef>& tell) const;
  // Whether n's id is the hash of its URI (always true without config.authentic_ids).
  bool authentic(const NodeRef& n) const;
  // Leaves out of a list a peer sent the nodes whose ids are not the hash of their URIs.
  void drop_unauthentic(std::vector<NodeRef>& nodes, const NodeRef& from) const;
  // Whether n answers a ping at its URI with its id (always true without config.authentic_ids).
  asio::awaitable<bool> answers_as(const NodeRef& n, Timeout timeout);
  // The node this node knows that comes first after id, before this node itself.
  std::optional<NodeRef> closest_after(const Id& id) const;
  void remember_lost(const std::vector<NodeRef>& before);
  void note_unreachable(const NodeRef& n);
  bool unreachable(const Id& id) const;
  LookupStepReply step(const Id& key_id, const std::vector<Id>& exclude, unsigned max_nodes) const;
  // key_id in (predecessor, self]: the keys this node holds as their owner.
  bool owns(const Id& key_id) const;
  LookupStepReply own_step(unsigned max_nodes) const;
  std::vector<NodeRef> closest_preceding_nodes(const Id& key_id, unsigned count,
                                               const std::vector<Id>& exclude) const;
  Clock::time_point now() const { return config_.clock->now(); }
  std::optional<NodeRef> first_unsuspected(const std::vector<NodeRef>& nodes) const;

  void spawn(asio::awaitable<void> task);
  asio::awaitable<void> periodic(std::chrono::milliseconds interval,
                                 asio::awaitable<void> (Node::*task)());

  asio::any_io_executor executor_;
  Ring ring_;
  NodeRef self_;
  std::string tag_;  // short id for log lines
  NodeConfig config_;
  Connector& connector_;
  std::shared_ptr<Storage> storage_;
  std::string transport_;

  std::optional<NodeRef> predecessor_;
  SuccessorList successors_;
  FingerTable fingers_;
  unsigned next_finger_ = 1;
  // fix_fingers on its timer (fix_fingers_paced): ticks between runs, and what the last sweep saw.
  unsigned finger_gap_ = 1, finger_wait_ = 1;
  bool sweep_changed_ = false;  // a finger of the sweep under way named a different node
  Id paced_successor_, paced_predecessor_;  // neighbours at the last paced run
  unsigned predecessor_missed_ = 0;  // pings in a row the predecessor did not answer
  unsigned successor_check_gap_ = 1, successor_check_wait_ = 1;  // stabilize rounds between check_successor
  std::unordered_map<Id, std::chrono::steady_clock::time_point, IdHash> suspected_;
  RouteCache routes_;  // owners found for storage's calls (find_owner)
  // Successors dropped after a failed call, asked again once their suspicion expires.
  struct Lost {
    NodeRef node;
    std::chrono::steady_clock::time_point forget_at;
  };
  std::vector<Lost> lost_;
  // First successors this node dropped after its own stabilize call to them failed, until they
  // answer again or forget_at: not taken back from a successor's list meanwhile.
  std::vector<Lost> unreachable_;
  std::unordered_set<Id, IdHash> departed_;  // nodes that announced their leave
  // A bounded sample of the nodes whose notify this node turned down lately, for closer-successor
  // hints. Entries age out: a node long gone must not be hinted round after round.
  static constexpr std::size_t kHeard = 64;
  struct Heard {
    NodeRef node;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Heard> heard_;

  bool joined_ = false;
  bool running_ = false;
  bool leaving_ = false;
  std::shared_ptr<asio::steady_timer> left_;  // from begin_leave; cancelled once the leave is announced
  std::vector<std::shared_ptr<asio::steady_timer>> timers_;
  std::minstd_rand jitter_;
  std::shared_ptr<NodeObserver> observer_;
  std::shared_ptr<SharedFolder> shared_folder_;
};

// Joins through `seeds` as a process starting with a seed list does: join_any() again and
// again, with backoff and jitter, while no seed lets it in yet (seeds that are down, or still
// joining themselves), until `patience` has passed.
asio::awaitable<Result<void>> join_cluster(std::shared_ptr<Node> node, std::vector<std::string> seeds,
                                           std::chrono::milliseconds patience);

}  // namespace chord
