#include "consistency.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>

#include "chord/chunks.hpp"
#include "chord/sha256.hpp"
#include "client_ops.hpp"
#include "sim_ring.hpp"

namespace chord::sim {

namespace {

// The last acknowledged write of a key, and every value ever attempted for it.
struct KeyState {
  bool acked = false;
  Version version;
  bool deleted = false;
  std::set<std::string> attempted;
  // The version each acknowledged put was given: a write takes effect once, so a read that finds
  // its value under another version saw it applied again (a late delivery).
  std::map<std::string, Version> acked_at;
  // A delete since the last acknowledged write was refused: it may still have taken effect at
  // some holder (as a refused put may, whose value then reads back), and its tombstone is a newer
  // write, so "not found" is a right answer until the next acknowledged write.
  bool delete_in_doubt = false;
};

// How long a pause lasts: longer than any deadline of the calls made here (2 s), so that the
// writes a paused node holds reach it after their senders gave up and sent them elsewhere.
constexpr std::chrono::milliseconds kPausedFor{5000};

struct Got {
  Result<FetchReply> reply = make_error(Errc::internal, "unset");
  std::string data;
};

// A read through via as a client makes it: the whole value (no length), or one range of it, the
// later ranges naming the version the first came at.
asio::awaitable<Got> fetch_value(std::shared_ptr<Node> via, std::string key, std::uint64_t offset,
                                 std::optional<std::uint64_t> length, std::optional<Version> version) {
  StringSink sink;
  FetchRequest req{std::move(key), std::nullopt, Role::client, offset, length};
  req.version = version;
  Got out;
  out.reply = co_await via->fetch(req, sink, via->config().rpc_timeout);
  out.data = std::move(sink.data());
  co_return out;
}

class Schedule {
 public:
  Schedule(const ConsistencyOptions& o, std::uint64_t index, ConsistencyReport& report)
      : o_(o), index_(index), rng_(o.seed * 1'000'003 + index), report_(report), ring_(ring_options(o)) {}

  void run() {
    for (unsigned i = 0; i < o_.nodes; ++i) ring_.add();
    ring_.build_ideal();
    for (unsigned step = 0; step < o_.steps; ++step) {
      const auto dice = rng_() % 100;
      if (dice < 24) put();
      else if (dice < 32) put_if_unchanged();
      else if (dice < 42) remove();
      else if (dice < 66) get(pick_key());
      else if (dice < 72) read_range();
      else if (dice < 79) crash();
      else if (dice < 85) restart();
      else if (dice < 88) pause();
      else if (dice < 91) unpause();
      else if (dice < 94) suspect();
      else if (dice < 97) leave();
      else rejoin();
      for (auto r = rng_() % 3; r > 0; --r) ring_.round();
    }
    // Everyone back, the ring repaired: every key must still read as acknowledged.
    for (auto* n : paused_) report_.late_writes += ring_.resume(*n, kPausedFor);
    paused_.clear();
    while (!crashed_.empty()) restart();
    while (!left_.empty()) rejoin();
    ring_.stabilize(60);
    for (unsigned r = 0; r < 10; ++r) ring_.round();
    for (unsigned k = 0; k < o_.keys; ++k) get(k);
  }

 private:
  static RingOptions ring_options(const ConsistencyOptions& o) {
    RingOptions ro;
    ro.node.replicas = o.replicas;
    ro.node.write_quorum = o.write_quorum;
    ro.node.read_quorum = o.read_quorum;
    ro.node.successors = 4;
    return ro;
  }

  std::string key_name(unsigned k) const { return fmt::format("s{}-key-{}", index_, k); }
  unsigned pick_key() { return static_cast<unsigned>(rng_() % o_.keys); }
  unsigned down() const { return static_cast<unsigned>(crashed_.size() + paused_.size()); }
  // Holders that may be down at once with every write still able to reach its quorum.
  unsigned budget() const {
    return o_.replicas - std::max(1u, o_.write_quorum ? o_.write_quorum : o_.replicas / 2 + 1);
  }

  // A client's access node: a quarter of the time the one it used last (when that one is up), as a
  // client that keeps its node would, so that the owners an access node remembers
  // (route_cache.hpp) are used while faults change the ring under them. (Half the time made
  // stale reads at R = 1, which the checker must find, too rare for the weak run's 3000.)
  std::shared_ptr<Node> access() {
    auto live = ring_.live();
    if (last_access_ && rng_() % 4 == 0 && std::find(live.begin(), live.end(), last_access_) != live.end())
      return last_access_;
    last_access_ = live[rng_() % live.size()];
    return last_access_;
  }

  // A value never written before to key k, through a random node, remembered as attempted.
  Result<StoreReply> write(unsigned k, std::optional<Version> if_version = std::nullopt,
                           std::shared_ptr<Node> via = nullptr) {
    const std::string value = fmt::format("{}-write-{}", key_name(k), writes_++);
    keys_[k].attempted.insert(value);
    if (!via) via = access();
    auto r = ring_.run(put_value(via, key_name(k), value, 1 << 20, std::chrono::milliseconds(2000), if_version));
    if (r) keys_[k].acked_at[value] = r->version;
    return r;
  }

  // Two draws of rng_, in this order: as arguments of one call their order would be the
  // compiler's, and the g++ and clang trees would run other schedules for one seed.
  void put() {
    const unsigned k = pick_key();
    put_through(k, access());
  }

  void remove() {
    const unsigned k = pick_key();
    remove_through(k, access());
  }

  // false: refused.
  bool put_through(unsigned k, std::shared_ptr<Node> via) {
    ++report_.puts;
    auto r = write(k, std::nullopt, std::move(via));
    if (!r) {
      ++report_.refused;
      return false;
    }
    acknowledge(k, r->version, false, "put");
    return true;
  }

  // false: refused.
  bool remove_through(unsigned k, std::shared_ptr<Node> via) {
    ++report_.deletes;
    auto r = ring_.run(delete_key(via, key_name(k)));
    if (!r) {
      ++report_.refused;
      keys_[k].delete_in_doubt = true;
      return false;
    }
    acknowledge(k, r->version, true, "delete");
    return true;
  }

  // A put or delete, through another node, of a key node n owns or is about to own (any key if
  // none): it meets n's leave or join mid-way (an owner handing its keys on and its neighbours not
  // yet told; a node taking a range its successor still orders). Checked as any other write; the
  // report counts how many were refused.
  bool write_during(const Node& n) {
    unsigned k = pick_key();
    for (unsigned i = 0; i < o_.keys; ++i)
      if (ring_.true_owner(ring_.ring().hash(key_name(i))).id == n.self().id) k = i;
    auto others = ring_.live();
    std::erase_if(others, [&](const std::shared_ptr<Node>& x) { return x.get() == &n; });
    auto via = others[rng_() % others.size()];
    if (rng_() % 3 == 0) return remove_through(k, via);
    return put_through(k, via);
  }

  void acknowledge(unsigned k, const Version& v, bool deleted, const char* what) {
    auto& state = keys_[k];
    if (state.acked && !(state.version < v))
      violation(fmt::format("{} of {} acknowledged with version {}, not newer than the acknowledged {}", what,
                            key_name(k), v.hlc, state.version.hlc));
    state.acked = true;
    state.version = v;
    state.deleted = deleted;
    state.delete_in_doubt = false;
  }

  // The version read (zero: not found), or nullopt when the read was refused.
  std::optional<Version> get(unsigned k) {
    auto& state = keys_[k];
    ++report_.gets;
    auto got = ring_.run(fetch_value(access(), key_name(k), 0, std::nullopt, std::nullopt));
    if (!got.reply) {
      if (got.reply.error().code != Errc::not_found) {
        ++report_.refused;
        return std::nullopt;
      }
      if (state.acked && !state.deleted && !state.delete_in_doubt)
        violation(fmt::format("get {}: not found, but a write at version {} was acknowledged", key_name(k),
                              state.version.hlc));
      return Version{};
    }
    const auto& meta = got.reply->meta;
    if (Sha256::of(got.data) != meta.sha256 || !state.attempted.contains(got.data))
      violation(fmt::format("get {}: bytes that are no value written to it", key_name(k)));
    else if (state.acked && meta.version < state.version)
      violation(fmt::format("get {}: version {} is older than the acknowledged {}{}", key_name(k), meta.version.hlc,
                            state.version.hlc, state.deleted ? " (a delete): the key came back" : ""));
    else if (auto at = state.acked_at.find(got.data); at != state.acked_at.end() && at->second != meta.version)
      violation(fmt::format("get {}: the put acknowledged at version {} read back at version {}: applied twice",
                            key_name(k), at->second.hlc, meta.version.hlc));
    return meta.version;
  }

  // A read in ranges (the values here are a few dozen bytes: ranges of kRangeBytes), one range per
  // step, so that crashes, pauses, partitions and writes come between them. Its first range is
  // a read like any other; each later range names the version the first came at
  // (FetchRequest::version), which the access node may read from the first range's holder
  // (include/chord/read_pins.hpp). A range that comes at another version ends the read as the
  // REST client ends it (`conflict`: the key changed); one that fails ends it refused. Whatever
  // comes must be bytes of the version its header names, and a read that completes one value
  // written to the key, at the version it began with.
  static constexpr std::uint64_t kRangeBytes = 8;
  struct RangedRead {
    unsigned key;
    std::shared_ptr<Node> via;
    FetchReply first;
    std::string data;
  };

  void read_range() {
    if (!ranged_) {
      const unsigned k = pick_key();
      auto via = access();
      ++report_.gets;
      auto got = ring_.run(fetch_value(via, key_name(k), 0, kRangeBytes, std::nullopt));
      if (!got.reply) {
        if (got.reply.error().code != Errc::not_found) ++report_.refused;
        return;
      }
      const auto& state = keys_[k];
      if (state.acked && got.reply->meta.version < state.version)
        violation(fmt::format("range read {}: version {} is older than the acknowledged {}", key_name(k),
                              got.reply->meta.version.hlc, state.version.hlc));
      check_range(k, *got.reply, 0, got.data);
      ranged_ = RangedRead{k, via, *got.reply, std::move(got.data)};
    } else {
      auto& r = *ranged_;
      auto live = ring_.live();
      if (std::find(live.begin(), live.end(), r.via) == live.end()) {  // the client's access node is gone
        ++report_.refused;
        ranged_.reset();
        return;
      }
      const std::uint64_t offset = r.data.size();
      auto got = ring_.run(fetch_value(r.via, key_name(r.key), offset, kRangeBytes, r.first.meta.version));
      if (!got.reply) {
        ++report_.refused;
        ranged_.reset();
        return;
      }
      check_range(r.key, *got.reply, offset, got.data);
      if (got.reply->meta.version != r.first.meta.version) {
        ++report_.range_changes;
        ranged_.reset();
        return;
      }
      r.data += got.data;
    }
    auto& r = *ranged_;
    if (r.data.size() < r.first.meta.size) return;
    ++report_.range_reads;
    if (Sha256::of(r.data) != r.first.meta.sha256 || !keys_[r.key].attempted.contains(r.data))
      violation(fmt::format("range read {}: its ranges make no value written at version {}", key_name(r.key),
                            r.first.meta.version.hlc));
    ranged_.reset();
  }

  // A range's bytes are those of the value its header names.
  void check_range(unsigned k, const FetchReply& header, std::uint64_t offset, const std::string& data) {
    for (const auto& v : keys_[k].attempted)
      if (Sha256::of(v) == header.meta.sha256 && v.size() == header.meta.size) {
        if (offset > v.size() || v.compare(offset, data.size(), data) != 0 || data.size() != std::min(kRangeBytes, v.size() - offset))
          violation(fmt::format("range read {}: bytes {}+{} are not those of the value its header names", key_name(k),
                                offset, data.size()));
        return;
      }
    if (!header.meta.deleted)
      violation(fmt::format("range read {}: a header naming no value written to it", key_name(k)));
  }

  // A read, then a write conditional on the version it saw (as the shared-folder index updates
  // its records). Accepted, the condition must have held against every acknowledged write: one
  // taken against a version older than the last acknowledged write (or against "absent" over an
  // acknowledged value) is a lost update.
  void put_if_unchanged() {
    const unsigned k = pick_key();
    auto seen = get(k);
    if (!seen) return;
    ++report_.conditional;
    auto r = write(k, *seen);
    if (!r) {
      ++(r.error().code == Errc::precondition_failed ? report_.conflicts : report_.refused);
      return;
    }
    const auto& state = keys_[k];
    const bool absent_by_doubt = seen->zero() && state.delete_in_doubt;  // the refused delete's tombstone
    if (state.acked && !absent_by_doubt && (state.deleted ? !seen->zero() && *seen < state.version : *seen < state.version))
      violation(fmt::format("put {} if at version {}: accepted, but version {}{} was acknowledged", key_name(k),
                            seen->hlc, state.version.hlc, state.deleted ? " (a delete)" : ""));
    acknowledge(k, r->version, false, "conditional put");
  }

  void crash() {
    if (down() >= budget()) return;
    auto n = access();
    ring_.kill(*n);
    crashed_.push_back(n.get());
    ++report_.faults;
  }

  void restart() {
    if (crashed_.empty()) return;
    const auto at = rng_() % crashed_.size();
    Node* n = crashed_[at];
    crashed_.erase(crashed_.begin() + static_cast<std::ptrdiff_t>(at));
    bring_back(*n);
  }

  // Starts n again from its data dir (what it held when it went) and joins it through a random
  // live node; a join that fails leaves it crashed, to be tried again later.
  void bring_back(Node& n) {
    auto fresh = ring_.restart(n, true);
    const std::string via = access()->self().uri;
    // Half of the time with a write of a key it will own, run while it joins.
    auto joined = rng_() % 2 == 0 ? ring_.run_during(fresh->join(via), [&] {
      ++report_.join_writes;
      if (!write_during(*fresh)) ++report_.join_refused;
    })
                                  : ring_.run(fresh->join(via));
    if (!joined) crashed_.push_back(fresh.get());
  }

  // A graceful leave: the node hands its keys to its successor and goes, to come back later from
  // what it still holds. Within the fault budget too, as a leave that fails leaves a crashed node.
  void leave() {
    if (down() >= budget() || ring_.live().size() <= o_.replicas + 1) return;
    auto n = access();
    ++report_.leaves;
    const bool with_write = rng_() % 2 == 0;
    auto r = with_write ? ring_.leave_during(*n, [&] {
      ++report_.leave_writes;
      if (!write_during(*n)) ++report_.leave_refused;
    })
                        : ring_.leave(*n);
    if (r) left_.push_back(n.get());
    else crashed_.push_back(n.get());
  }

  void rejoin() {
    if (left_.empty()) return;
    Node* n = left_.back();
    left_.pop_back();
    bring_back(*n);
  }

  void pause() {
    if (down() >= budget()) return;
    auto n = access();
    ring_.pause(*n);  // unreachable, its state kept, writes sent to it held: a stopped process
    paused_.push_back(n.get());
    ++report_.faults;
  }

  // A failed call without a crash: a live node suspects some of its live successors, as after a
  // call that timed out on a busy peer, or one refused by a live peer (a gRPC channel in its
  // reconnect back-off after the peer restarted, an AMQP node whose own broker link is down).
  // Nothing is down, so it costs no fault budget; the suspicion lasts its configured time, or
  // until the suspected node answers a call.
  void suspect() {
    auto n = access();
    const auto successors = n->successors().nodes();
    const Error failed = rng_() % 2 == 0 ? make_error(Errc::deadline_exceeded, "a missed deadline (injected)")
                                         : make_error(Errc::unavailable, "a refused call (injected)");
    for (const auto& s : successors)
      if (s.id != n->self().id && rng_() % 2 == 0) n->peer_failed(s, failed);
    ++report_.suspicions;
  }

  void unpause() {
    if (paused_.empty()) return;
    report_.late_writes += ring_.resume(*paused_.back(), kPausedFor);
    paused_.pop_back();
  }

  void violation(std::string what) {
    ++report_.violation_count;
    if (report_.violations.size() < 10)
      report_.violations.push_back(fmt::format("seed {} schedule {}: {}", o_.seed, index_, what));
  }

  const ConsistencyOptions& o_;
  std::uint64_t index_;
  std::mt19937_64 rng_;
  ConsistencyReport& report_;
  SimRing ring_;
  std::map<unsigned, KeyState> keys_;
  std::vector<Node*> crashed_, paused_, left_;
  std::shared_ptr<Node> last_access_;  // see access()
  // After ring_, so that it goes first: a node must not outlive the ring's io_context (its
  // timers would be destroyed after their service).
  std::optional<RangedRead> ranged_;  // see read_range()
  unsigned writes_ = 0;
};

}  // namespace

ConsistencyReport check_consistency(const ConsistencyOptions& options) {
  ConsistencyReport report;
  for (std::uint64_t i = options.first; i < options.first + options.schedules; ++i) {
    Schedule(options, i, report).run();
    ++report.schedules;
  }
  return report;
}

}  // namespace chord::sim
