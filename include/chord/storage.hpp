#pragma once
// chord::Storage: the layer above the ring that keeps values (DHash to Chord's lookup). It owns
// the store, the versions it gives (a hybrid logical clock), tombstones, the quorum writes and
// reads, read repair, anti-entropy with the successors and the hand-off of keys on join and
// leave. It reaches the ring only through a RingView and hears of changes as a RingDelegate.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "chord/read_pins.hpp"
#include "chord/ring_view.hpp"
#include "chord/store.hpp"

namespace chord {

struct NodeConfig;

// How much of a caller's deadline a node spends on a peer it hands the caller's request on to
// before it answers itself (see storage.cpp).
Timeout hand_on_budget(Timeout timeout);

class Storage final : public RingDelegate, public std::enable_shared_from_this<Storage> {
 public:
  Storage(RingView& ring, const NodeConfig& config, std::unique_ptr<Store> store);
  ~Storage() override;

  // --- the storage RPCs of chord.v1 (the ring's ChordService passes them here) ---
  asio::awaitable<Result<StoreReply>> store(const StoreRequest& req, ChunkSource& chunks, Timeout timeout);
  asio::awaitable<Result<FetchReply>> fetch(const FetchRequest& req, ChunkSink& sink, Timeout timeout);
  asio::awaitable<Result<DeleteReply>> remove(const DeleteRequest& req, Timeout timeout);
  asio::awaitable<Result<SyncReply>> sync_replicas(const SyncRequest& req, Timeout timeout);
  asio::awaitable<Result<ListKeysReply>> list_keys(const ListKeysRequest& req, Timeout timeout);

  // Owner side of replication: the next k-1 successors hold every key this node owns, and
  // copies this node no longer should hold are dropped once their holders have them. Runs every
  // replicate_interval while the ring runs; public so that a simulator can run it in rounds.
  asio::awaitable<void> maintain_replicas();

  // --- RingDelegate ---
  void ring_started() override;
  void ring_stopped() override;
  void predecessor_changed(const std::optional<NodeRef>& old, const NodeRef& now) override;
  void member_left(const NodeRef& gone) override;
  asio::awaitable<Departure> departing(std::chrono::steady_clock::time_point deadline) override;

  const Store& local() const { return *store_; }
  // The store of a stopped node, for a new process that restarts from the same data dir.
  std::unique_ptr<Store> take_store() { return std::move(store_); }

 private:
  // Where a primary write of key_id goes when this node is not its owner: its predecessor, which
  // lies closer before the key (nullopt: this node owns it, or knows no live predecessor).
  std::optional<NodeRef> owner_before(const Id& key_id) const;
  // owner_before, if that predecessor answers a ping within hand_on_budget(timeout): a write is
  // handed on only to a predecessor known to be there (see its definition).
  asio::awaitable<std::optional<NodeRef>> answering_owner_before(const Id& key_id, Timeout timeout);
  // Whether node answers a ping, as itself, within hand_on_budget(timeout): asked before a value
  // that cannot be sent again starts moving there.
  asio::awaitable<Result<void>> answers(const NodeRef& node, Timeout timeout);
  // A version newer than any this node has seen, and newer than `held` (the key's current one).
  Version next_version(const ValueMeta* held);
  void observe(const Version& v);
  // How many copies a quorum of `asked` (0: a majority of k) needs among the holders there are.
  unsigned quorum(unsigned asked) const;
  // The k-1 successors that hold copies of this node's keys, unsuspected first; the suspected
  // ones only with_suspected (anti-entropy leaves them out of its round).
  std::vector<NodeRef> replica_targets(bool with_suspected) const;
  // A key's k holders as a lookup names them: its owner, then the owner's successors.
  std::vector<NodeRef> holders_of(const LookupReply& found) const;
  Result<Id> key_id_of(const std::string& key, const std::optional<Id>& key_id) const;
  Result<void> check_meta(const ValueMeta& meta) const;
  Result<void> writable() const;
  // What a leaving node answers a write with (see storage.cpp).
  asio::awaitable<Error> refused_while_leaving(Role role, Timeout timeout);
  // Refuses a write that arrives after its sender's not_after_ms (see storage.cpp).
  Result<void> in_time(std::uint64_t not_after_ms) const;
  // Holds exactly this version of the key already (a write delivered twice).
  bool holds(const ValueMeta& meta) const;
  // Writes a tombstone here; whether it replaced a value.
  // For a conditional write at the owner: the newest version R holders know, if it is `expected`
  // (zero: the key does not exist) and no other write of the key is in flight here.
  asio::awaitable<Result<std::optional<ValueMeta>>> checked_condition(const std::string& key, const Id& key_id,
                                                                      const Version& expected);
  asio::awaitable<Result<bool>> put_tombstone(const std::string& key, const Id& key_id, const Version& version);
  // Drops tombstones past the grace period; lists the store at most once per purge period.
  asio::awaitable<void> purge_tombstones();
  bool past_grace(const Version& v) const;
  // Sees each chunk once it is written here (the owner forwards it to its replicas).
  using ChunkTap = std::function<asio::awaitable<void>(const std::string&)>;
  asio::awaitable<Result<void>> store_local(const ValueMeta& meta, ChunkSource& chunks, const ChunkTap& tap = {});
  asio::awaitable<Result<StoreReply>> store_as_owner(const ValueMeta& meta, ChunkSource& chunks);
  // A write handed to the node that orders it (Role::primary); what became of it is reported to
  // the ring.
  asio::awaitable<Result<StoreReply>> store_at(const NodeRef& owner, const StoreRequest& req, ChunkSource& chunks,
                                               Timeout timeout);
  asio::awaitable<Result<DeleteReply>> remove_at(const NodeRef& owner, const DeleteRequest& req, const Id& key_id,
                                                 Timeout timeout);
  // The holders' loop of a client's put or delete (see storage.cpp): mine(budget) when this node
  // owns the key, send(owner, budget) to another, resend() whether the write can go out again.
  template <class Reply, class Mine, class Send, class Resend>
  asio::awaitable<Result<Reply>> forward_write(const std::string& key, const Id& key_id, Timeout timeout, Mine& mine,
                                               Send& send, Resend resend);
  asio::awaitable<Result<void>> push_value(const NodeRef& target, const Id& key_id, Role role);
  asio::awaitable<Result<void>> pull_value(const NodeRef& from, const Id& key_id);
  asio::awaitable<Result<FetchReply>> fetch_local(const FetchRequest& req, const Id& key_id, ChunkSink& sink);
  // What this node answers a read of its store with (any role but client and shared): its copy,
  // or asked as the owner (Role::primary), see fetch_newer_of.
  asio::awaitable<Result<FetchReply>> fetch_held(const FetchRequest& req, const Id& key_id, ChunkSink& sink,
                                                 Timeout timeout);
  // A read asked of this node as the key's owner (Role::primary) for a key before its
  // predecessor `before` (see owner_before): the newer of this node's copy and that node's.
  asio::awaitable<Result<FetchReply>> fetch_newer_of(const NodeRef& before, const FetchRequest& req, const Id& key_id,
                                                     ChunkSink& sink, Timeout timeout);
  // One holder asked, within a read, what it holds (and up to `bytes` of the value): the answer
  // lands in round->probes[index]. keep holds the node for as long as the call runs.
  struct ProbeRound;
  // A client read's later range from the holder its first range came from (see read_pins.hpp);
  // nullopt when there is no such pin or that holder no longer gives that version.
  asio::awaitable<std::optional<Result<FetchReply>>> fetch_pinned(const FetchRequest& req, const Id& key_id,
                                                                  ChunkSink& sink, Timeout timeout);
  // From `holder` (this node or a peer), asked in `role`.
  asio::awaitable<Result<FetchReply>> fetch_from(const NodeRef& holder, Role role, const FetchRequest& req,
                                                 const Id& key_id, ChunkSink& sink, Timeout timeout);
  asio::awaitable<void> probe(std::shared_ptr<ProbeRound> round, std::size_t index, std::string key, Id key_id,
                              std::uint64_t bytes, Role role, Timeout timeout, std::shared_ptr<const void> keep);
  asio::awaitable<void> hand_off(std::optional<NodeRef> old_predecessor, NodeRef new_predecessor);
  // Which of these the target lacks or holds older (SyncReplicas, in pages; one even for none).
  // With a deadline (a leave), each call's timeout is cut short by it.
  asio::awaitable<Result<std::vector<Id>>> lacking(
      const NodeRef& target, const std::vector<ValueMeta>& metas,
      std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);
  // Copies this node holds for keys whose k holders it is not among (left over from joins,
  // leaves and returns) go, once each of the k holders has confirmed it holds them.
  asio::awaitable<void> drop_extra_copies();
  asio::awaitable<void> replicate_loop();

  RingView& ring_;
  const NodeConfig& config_;
  std::unique_ptr<Store> store_;
  std::string tag_;  // short id for log lines
  std::uint64_t hlc_ = 0;  // the hybrid logical clock of the versions this node gives

  struct SyncStamp {
    std::uint64_t store_version = 0;
    Id predecessor;
    unsigned rounds = 0;
  };
  std::unordered_map<Id, SyncStamp, IdHash> synced_;
  // Writes of each key in flight at this owner: a conditional write refuses to judge while
  // another one's version is not settled.
  std::unordered_map<Id, unsigned, IdHash> writing_;
  ReadPins pins_;  // client reads served here, for their later ranges
  struct WriteGuard {
    WriteGuard(std::unordered_map<Id, unsigned, IdHash>& m, const Id& id) : map(m), key_id(id) { ++map[key_id]; }
    ~WriteGuard() {
      if (auto it = map.find(key_id); it != map.end() && --it->second == 0) map.erase(it);
    }
    WriteGuard(const WriteGuard&) = delete;
    WriteGuard& operator=(const WriteGuard&) = delete;
    std::unordered_map<Id, unsigned, IdHash>& map;
    Id key_id;
  };
  std::uint64_t next_purge_ms_ = 0;
  unsigned rounds_ = 0;  // replica rounds run
  // The most holders (this node and its distinct successors, at most k) seen: the write quorum's
  // cap. A crashed successor leaves the list at once, and the bar must not fall with it; only a
  // member's announced leave lowers it.
  mutable std::size_t peak_holders_ = 1;
  bool running_ = false;
  std::shared_ptr<asio::steady_timer> timer_;
};

}  // namespace chord
