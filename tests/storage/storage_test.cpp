// The storage layer on its own: chord::Storage instances over a ring whose membership the test
// fixes (no Node, no stabilize), calling each other through the in-process transport. What is
// checked here is what Storage promises whatever the ring does: quorum writes, the newest
// version wins, tombstones outrank older copies, hand-off to a new predecessor, anti-entropy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <future>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include "chord/chunks.hpp"
#include "chord/node.hpp"
#include "chord/sha256.hpp"
#include "chord/storage.hpp"
#include "inproc.hpp"

using namespace chord;

namespace {

constexpr Timeout kTimeout{1000};

// One member of a fixed ring: the RingView its Storage sees, and the ChordService its peers call
// (the storage RPCs only; the ring's own are not this layer's).
class Host final : public ChordService, public RingView, public std::enable_shared_from_this<Host> {
 public:
  Host(asio::any_io_executor ex, const Ring& ring, NodeRef self, const NodeConfig& config, Connector& net)
      : ex_(std::move(ex)), ring_(ring), self_(std::move(self)), config_(config), net_(net),
        successors_(self_, 8) {}
  void open(std::unique_ptr<Store> store = make_memory_store()) {
    storage_ = std::make_shared<Storage>(*this, config_, std::move(store));
  }

  void place(std::optional<NodeRef> predecessor, std::vector<NodeRef> successors, std::vector<NodeRef> members) {
    predecessor_ = std::move(predecessor);
    successors_.assign(successors);
    members_ = std::move(members);
  }
  Storage& storage() { return *storage_; }

  // RingView
  const NodeRef& self() const override { return self_; }
  const Ring& ring() const override { return ring_; }
  const asio::any_io_executor& executor() const override { return ex_; }
  bool joined() const override { return true; }
  bool leaving() const override { return false; }
  Error leaving_error() const override { return make_error(Errc::not_ready, "leaving"); }
  const std::optional<NodeRef>& predecessor() const override { return predecessor_; }
  const SuccessorList& successors() const override { return successors_; }
  bool suspected(const Id&) const override { return false; }
  asio::awaitable<Result<LookupReply>> find_successor(Id key_id) override {
    // The members in ring order: the owner is the first at or after the key.
    auto at = std::find_if(members_.begin(), members_.end(), [&](const NodeRef& n) { return !(n.id < key_id); });
    std::size_t i = at == members_.end() ? 0 : static_cast<std::size_t>(at - members_.begin());
    LookupReply reply{key_id, members_[i], {}, 0, {}};
    for (std::size_t j = 1; j < members_.size(); ++j) reply.successors.push_back(members_[(i + j) % members_.size()]);
    co_return reply;
  }
  Result<std::shared_ptr<ChordService>> peer(const NodeRef& node) override {
    if (node.id == self_.id) return std::shared_ptr<ChordService>(shared_from_this());
    return net_.connect(node.uri);
  }
  void peer_failed(const NodeRef&, const Error&) override {}
  void peer_answered(const NodeRef&) override {}
  std::shared_ptr<const void> hold() const override { return shared_from_this(); }

  // ChordService: the storage RPCs
  asio::awaitable<Result<StoreReply>> store(const StoreRequest& r, ChunkSource& c, Timeout t) override {
    co_return co_await storage_->store(r, c, t);
  }
  asio::awaitable<Result<FetchReply>> fetch(const FetchRequest& r, ChunkSink& s, Timeout t) override {
    co_return co_await storage_->fetch(r, s, t);
  }
  asio::awaitable<Result<DeleteReply>> remove(const DeleteRequest& r, Timeout t) override {
    co_return co_await storage_->remove(r, t);
  }
  asio::awaitable<Result<SyncReply>> sync_replicas(const SyncRequest& r, Timeout t) override {
    co_return co_await storage_->sync_replicas(r, t);
  }
  asio::awaitable<Result<ListKeysReply>> list_keys(const ListKeysRequest& r, Timeout t) override {
    co_return co_await storage_->list_keys(r, t);
  }
  asio::awaitable<Result<NodeRef>> ping(const Empty&, Timeout) override { co_return self_; }
#define NOT_STORAGE(fn, Name, Req, Rep)                                    \
  asio::awaitable<Result<Rep>> fn(const Req&, Timeout) override {          \
    co_return make_error(Errc::not_found, "not a storage call");       \
  }
  NOT_STORAGE(get_predecessor, GetPredecessor, Empty, Neighbors)
  NOT_STORAGE(notify, Notify, NotifyRequest, NotifyReply)
  NOT_STORAGE(lookup_step, LookupStep, LookupStepRequest, LookupStepReply)
  NOT_STORAGE(leave, Leave, LeaveRequest, Empty)
  NOT_STORAGE(lookup, Lookup, LookupRequest, LookupReply)
  NOT_STORAGE(node_info, GetNodeInfo, Empty, NodeInfo)
#undef NOT_STORAGE

 private:
  asio::any_io_executor ex_;
  Ring ring_;
  NodeRef self_;
  const NodeConfig& config_;
  Connector& net_;
  std::optional<NodeRef> predecessor_;
  SuccessorList successors_;
  std::vector<NodeRef> members_;
  std::shared_ptr<Storage> storage_;
};

// N hosts on a 16-bit ring, each placed by the true ring order, k = 3 copies.
struct FixedRing {
  asio::io_context io;
  inproc::Network net{io.get_executor(), inproc::Options{std::chrono::microseconds(0), true, false}};
  Ring ring{16};
  NodeConfig config;
  std::vector<std::shared_ptr<Host>> hosts;  // in ring order

  explicit FixedRing(int n, unsigned write_quorum = 0) {
    config.replicas = 3;
    config.write_quorum = write_quorum;
    config.chunk_bytes = 1000;
    config.replicate_interval = std::chrono::milliseconds(10);
    for (int i = 0; i < n; ++i) {
      const std::string uri = "inproc://s" + std::to_string(i);
      auto h = std::make_shared<Host>(io.get_executor(), ring, NodeRef{ring.hash(uri), uri}, config, net);
      h->open();
      net.attach(uri, h);
      hosts.push_back(h);
    }
    std::sort(hosts.begin(), hosts.end(), [](const auto& a, const auto& b) { return a->self().id < b->self().id; });
    place();
  }

  void place() {
    std::vector<NodeRef> members;
    for (auto& h : hosts) members.push_back(h->self());
    const std::size_t n = members.size();
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<NodeRef> succ;
      for (std::size_t j = 1; j < n; ++j) succ.push_back(members[(i + j) % n]);
      hosts[i]->place(members[(i + n - 1) % n], succ, members);
    }
  }

  template <class T>
  T run(asio::awaitable<T> task) {
    auto f = asio::co_spawn(io, std::move(task), asio::use_future);
    io.restart();
    io.run();  // also drains what the task left running (hand-offs, read repairs)
    return f.get();
  }

  Host& owner_of(const std::string& key) {
    const Id id = ring.hash(key);
    for (auto& h : hosts)
      if (!(h->self().id < id)) return *h;
    return *hosts.front();
  }
  std::size_t index_of(const Host& h) const {
    return static_cast<std::size_t>(std::find_if(hosts.begin(), hosts.end(), [&](const auto& p) { return p.get() == &h; }) -
                                    hosts.begin());
  }
  Host& after(const Host& h, std::size_t steps) { return *hosts[(index_of(h) + steps) % hosts.size()]; }

  Result<StoreReply> put(Host& via, const std::string& key, const std::string& value,
                         std::optional<Version> if_version = std::nullopt) {
    const ValueMeta meta{key, ring.hash(key), value.size(), Sha256::of(value), {}, false};
    auto source = std::make_shared<StringSource>(value, config.chunk_bytes);
    return run([&]() -> asio::awaitable<Result<StoreReply>> {
      const StoreRequest req{meta, Role::client, false, if_version};
      co_return co_await via.store(req, *source, kTimeout);
    }());
  }
  Result<std::string> get(Host& via, const std::string& key) {
    return run([&]() -> asio::awaitable<Result<std::string>> {
      StringSink sink;
      const FetchRequest req{key, std::nullopt, Role::client, 0, std::nullopt};
      auto r = co_await via.fetch(req, sink, kTimeout);
      if (!r) co_return r.error();
      co_return sink.data();
    }());
  }
  Result<DeleteReply> remove(Host& via, const std::string& key, std::optional<Version> if_version = std::nullopt) {
    return run([&]() -> asio::awaitable<Result<DeleteReply>> {
      const DeleteRequest req{key, std::nullopt, Role::client, {}, if_version};
      co_return co_await via.remove(req, kTimeout);
    }());
  }
  // A store straight to one host in a role of the ring's (replica, primary), at a given version.
  Result<StoreReply> store_at(Host& h, const std::string& key, const std::string& value, Version version, Role role,
                              std::optional<Version> if_version = std::nullopt) {
    const ValueMeta meta{key, ring.hash(key), value.size(), Sha256::of(value), version, false};
    return run([&]() -> asio::awaitable<Result<StoreReply>> {
      StringSource source(value, config.chunk_bytes);
      const StoreRequest req{meta, role, false, if_version};
      co_return co_await h.store(req, source, kTimeout);
    }());
  }
  std::optional<ValueMeta> held(Host& h, const std::string& key) {
    auto b = h.storage().local().open(ring.hash(key));
    if (!b) return std::nullopt;
    return b->meta();
  }
};

// A store whose commits block, as an fsync on a busy disk does, until the test releases them
// from the node's own executor: if a commit ran there, nothing could release it.
class BlockingStore final : public Store {
 public:
  explicit BlockingStore(std::shared_future<void> released) : released_(std::move(released)) {}
  Result<std::unique_ptr<ValueWriter>> begin(const ValueMeta& meta) override {
    auto w = inner_->begin(meta);
    if (!w) return w.error();
    return std::unique_ptr<ValueWriter>(std::make_unique<Writer>(std::move(*w), released_));
  }
  std::shared_ptr<const Blob> open(const Id& id) const override { return inner_->open(id); }
  std::optional<ValueMeta> meta(const Id& id) const override { return inner_->meta(id); }
  bool erase(const Id& id) override { return inner_->erase(id); }
  std::vector<ValueMeta> list() const override { return inner_->list(); }
  std::vector<ValueMeta> list_range(const Id& a, const Id& b) const override { return inner_->list_range(a, b); }
  std::size_t count() const override { return inner_->count(); }
  std::uint64_t bytes() const override { return inner_->bytes(); }
  std::uint64_t version() const override { return inner_->version(); }
  asio::thread_pool* io_pool() override { return &pool_; }

 private:
  class Writer final : public ValueWriter {
   public:
    Writer(std::unique_ptr<ValueWriter> inner, std::shared_future<void> released)
        : inner_(std::move(inner)), released_(std::move(released)) {}
    Result<void> append(std::string_view chunk) override { return inner_->append(chunk); }
    Result<void> commit() override {
      if (released_.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
        return make_error(Errc::internal, "the commit blocked the node's executor");
      return inner_->commit();
    }

   private:
    std::unique_ptr<ValueWriter> inner_;
    std::shared_future<void> released_;
  };
  std::unique_ptr<Store> inner_ = make_memory_store();
  std::shared_future<void> released_;
  asio::thread_pool pool_{1};
};

}  // namespace

TEST_CASE("storage: a commit that blocks on the disk leaves the node's executor free") {
  FixedRing r(1);
  std::promise<void> release;
  r.hosts[0]->open(std::make_unique<BlockingStore>(release.get_future().share()));
  // Released by a timer on the executor: it fires only if the executor is not stuck in the commit.
  asio::steady_timer timer(r.io, std::chrono::milliseconds(20));
  bool fired_before_commit = false;
  timer.async_wait([&](boost::system::error_code) {
    fired_before_commit = r.hosts[0]->storage().local().count() == 0;
    release.set_value();
  });
  auto put = r.put(*r.hosts[0], "slow", "bytes");
  REQUIRE(put);
  CHECK(fired_before_commit);
  CHECK(r.get(*r.hosts[0], "slow").value() == "bytes");
}

TEST_CASE("storage: a value that came whole goes to the replicas while the owner writes its own copy") {
  FixedRing r(5);
  Host& owner = r.owner_of("whole");
  std::promise<void> release;
  owner.open(std::make_unique<BlockingStore>(release.get_future().share()));
  // The owner's commit waits for this timer: by then both replicas hold the value (they were
  // sent it at once, not after the owner's copy and an end of stream through a pipe each).
  asio::steady_timer timer(r.io, std::chrono::milliseconds(20));
  bool replicas_first = false;
  timer.async_wait([&](boost::system::error_code) {
    replicas_first = owner.storage().local().count() == 0 && r.held(r.after(owner, 1), "whole") &&
                     r.held(r.after(owner, 2), "whole");
    release.set_value();
  });
  auto put = r.put(owner, "whole", "all of it");
  REQUIRE(put);
  CHECK(put->copies == 3);
  CHECK(replicas_first);
  for (std::size_t c = 0; c < 3; ++c) CHECK(r.held(r.after(owner, c), "whole")->version == put->version);

  // Bytes that do not match their digest reach the replicas the same way: each checks them
  // itself, and no holder keeps them.
  std::promise<void> release_lie;
  owner.open(std::make_unique<BlockingStore>(release_lie.get_future().share()));
  asio::steady_timer later(r.io, std::chrono::milliseconds(20));
  later.async_wait([&](boost::system::error_code) { release_lie.set_value(); });
  const ValueMeta lie{"lie", r.ring.hash("lie"), 9, Sha256::of(std::string("the truth")), {}, false};
  auto refused = r.run([&]() -> asio::awaitable<Result<StoreReply>> {
    StringSource source("the lies!", r.config.chunk_bytes);
    const StoreRequest req{lie, Role::client};
    co_return co_await owner.store(req, source, kTimeout);
  }());
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::data_loss);
  for (auto& h : r.hosts) CHECK_FALSE(r.held(*h, "lie"));
}

TEST_CASE("storage: a put through any member lands on the owner and its k-1 successors, versioned") {
  FixedRing r(6);
  auto put = r.put(*r.hosts[0], "alpha", "one");
  REQUIRE(put);
  CHECK(put->copies == 3);
  Host& owner = r.owner_of("alpha");
  CHECK(put->owner.id == owner.self().id);
  for (std::size_t c = 0; c < 3; ++c) {
    auto m = r.held(r.after(owner, c), "alpha");
    REQUIRE(m);
    CHECK(m->version == put->version);
    CHECK(m->version.writer == owner.self().id);  // the owner orders the writes of its keys
  }
  CHECK_FALSE(r.held(r.after(owner, 3), "alpha"));
  auto again = r.put(*r.hosts[3], "alpha", "two");
  REQUIRE(again);
  CHECK(put->version < again->version);
  CHECK(r.get(*r.hosts[5], "alpha").value() == "two");
}

TEST_CASE("storage: a write is acknowledged only once W copies hold it") {
  FixedRing r(5, 3);
  Host& owner = r.owner_of("beta");
  r.net.kill(r.after(owner, 2).self().uri);
  auto put = r.put(owner, "beta", "v");
  REQUIRE_FALSE(put);
  CHECK(put.error().code == Errc::unavailable);
  CHECK_THAT(put.error().message, Catch::Contains("written to 2 of 3 copies"));
  FixedRing two(5, 2);
  Host& o2 = two.owner_of("beta");
  two.net.kill(two.after(o2, 2).self().uri);
  auto ok = two.put(o2, "beta", "v");
  REQUIRE(ok);
  CHECK(ok->copies == 2);
}

TEST_CASE("storage: a delete is a newer tombstone: an older copy never brings the key back") {
  FixedRing r(5);
  Host& owner = r.owner_of("gamma");
  Host& last = r.after(owner, 2);
  REQUIRE(r.put(owner, "gamma", "v1"));
  r.net.kill(last.self().uri);  // misses the delete
  auto del = r.remove(*r.hosts[1], "gamma");
  REQUIRE(del);
  CHECK(del->copies == 2);
  r.net.revive(last.self().uri);
  // With the first replica down, a read of R = 2 asks the owner (tombstone) and the stale holder
  // (the old value): the tombstone wins, and the stale holder is repaired.
  r.net.kill(r.after(owner, 1).self().uri);
  CHECK(r.held(last, "gamma")->deleted == false);
  auto got = r.get(last, "gamma");
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Errc::not_found);
  auto now = r.held(last, "gamma");
  REQUIRE(now);
  CHECK(now->deleted);
  CHECK(now->version == del->version);
}

TEST_CASE("storage: anti-entropy brings a replica that restarted empty up to date, both ways") {
  FixedRing r(5);
  Host& owner = r.owner_of("delta");
  REQUIRE(r.put(owner, "delta", "d"));
  Host& replica = r.after(owner, 1);
  // The replica forgets everything (a restart without its data dir).
  const auto id = r.ring.hash("delta");
  replica.storage().take_store();
  // a new empty store in its place
  auto fresh = std::make_shared<Host>(r.io.get_executor(), r.ring, replica.self(), r.config, r.net);
  fresh->open();
  r.net.detach(replica.self().uri);
  r.net.attach(replica.self().uri, fresh);
  r.hosts[r.index_of(replica)] = fresh;
  r.place();
  CHECK_FALSE(fresh->storage().local().open(id));
  r.run(owner.storage().maintain_replicas());
  auto m = fresh->storage().local().open(id);
  REQUIRE(m);
  CHECK(m->meta().version == owner.storage().local().open(id)->meta().version);
}

TEST_CASE("storage: keys move to a new predecessor that owns them, and only those") {
  FixedRing r(4);
  for (int i = 0; i < 40; ++i) REQUIRE(r.put(*r.hosts[0], "k" + std::to_string(i), "v"));
  // A newcomer takes part of some member's range: that member hands it the keys it now owns.
  const std::string uri = "inproc://newcomer";
  auto joiner = std::make_shared<Host>(r.io.get_executor(), r.ring, NodeRef{r.ring.hash(uri), uri}, r.config, r.net);
  joiner->open();
  r.net.attach(uri, joiner);
  auto succ_it = std::find_if(r.hosts.begin(), r.hosts.end(), [&](const auto& h) { return !(h->self().id < joiner->self().id); });
  Host& successor = succ_it == r.hosts.end() ? *r.hosts.front() : **succ_it;
  const auto old = successor.predecessor();
  r.hosts.push_back(joiner);
  std::sort(r.hosts.begin(), r.hosts.end(), [](const auto& a, const auto& b) { return a->self().id < b->self().id; });
  r.place();
  successor.storage().predecessor_changed(old, joiner->self());
  r.run([]() -> asio::awaitable<int> { co_return 0; }());
  std::size_t owned = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string key = "k" + std::to_string(i);
    const bool theirs = &r.owner_of(key) == joiner.get();
    CHECK(static_cast<bool>(r.held(*joiner, key)) == theirs);
    owned += theirs;
  }
  INFO("keys in the newcomer's range: " << owned);
  CHECK(joiner->storage().local().count() == owned);
}

TEST_CASE("storage: a tombstone is kept through the grace period and purged after it") {
  FixedRing r(3);
  auto clock = std::make_shared<ManualClock>();
  r.config.clock = clock;
  r.config.tombstone_grace = std::chrono::hours(1);
  Host& owner = r.owner_of("epsilon");
  REQUIRE(r.put(owner, "epsilon", "e"));
  REQUIRE(r.remove(owner, "epsilon"));
  clock->advance(std::chrono::minutes(59));
  r.run(owner.storage().maintain_replicas());
  REQUIRE(r.held(owner, "epsilon"));
  CHECK(r.held(owner, "epsilon")->deleted);
  // Past the grace period, and past the purge period (a sixteenth of it) since the last purge.
  clock->advance(std::chrono::minutes(6));
  r.run(owner.storage().maintain_replicas());
  CHECK_FALSE(r.held(owner, "epsilon"));
  // A stale copy offered now would bring the key back: that is what the grace period bounds,
  // and why a data dir older than it is refused at start (tests/e2e).
}

TEST_CASE("storage: conditional writes apply only at the version they name, and change nothing otherwise") {
  FixedRing r(5);
  Host& via = *r.hosts[2];
  SECTION("create only") {
    auto first = r.put(via, "cas", "a", Version{});
    REQUIRE(first);
    auto second = r.put(via, "cas", "b", Version{});
    REQUIRE_FALSE(second);
    CHECK(second.error().code == Errc::precondition_failed);
    CHECK(r.get(via, "cas").value() == "a");
  }
  SECTION("compare and set, put and delete") {
    auto v1 = r.put(via, "cas", "a");
    REQUIRE(v1);
    auto v2 = r.put(via, "cas", "b", v1->version);
    REQUIRE(v2);
    auto stale = r.put(via, "cas", "c", v1->version);
    REQUIRE_FALSE(stale);
    CHECK(stale.error().code == Errc::precondition_failed);
    CHECK_THAT(stale.error().message, Catch::Contains("nothing was changed"));
    auto stale_delete = r.remove(via, "cas", v1->version);
    REQUIRE_FALSE(stale_delete);
    CHECK(stale_delete.error().code == Errc::precondition_failed);
    CHECK(r.get(via, "cas").value() == "b");
    REQUIRE(r.remove(via, "cas", v2->version));
    CHECK(r.get(via, "cas").error().code == Errc::not_found);
    // Deleted is "does not exist": create-only applies again.
    CHECK(r.put(via, "cas", "d", Version{}));
  }
  SECTION("an owner that missed a write judges by the newest version its replicas hold") {
    Host& owner = r.owner_of("cas");
    auto v1 = r.put(via, "cas", "a");
    REQUIRE(v1);
    r.net.kill(owner.self().uri);
    // The first replica takes the range over and takes a write the owner misses.
    Host& next = r.after(owner, 1);
    auto missed = r.store_at(next, "cas", "b", {}, Role::primary, v1->version);
    REQUIRE(missed);
    r.net.revive(owner.self().uri);
    auto stale = r.put(via, "cas", "c", v1->version);
    REQUIRE_FALSE(stale);
    CHECK(stale.error().code == Errc::precondition_failed);
    CHECK(r.put(via, "cas", "c", missed->version));
  }
  SECTION("a conditional write never succeeds alongside another write it did not see") {
    auto v1 = r.put(via, "cas", "a");
    REQUIRE(v1);
    // An unconditional write of many chunks and a conditional one on v1, begun together: at most
    // one of them may win against v1, and the unconditional one always applies.
    const std::string big(20 * r.config.chunk_bytes, 'x');
    auto write = [&](std::string value, std::optional<Version> cond) -> asio::awaitable<Result<StoreReply>> {
      const ValueMeta meta{"cas", r.ring.hash("cas"), value.size(), Sha256::of(value), {}, false};
      StringSource source(value, r.config.chunk_bytes);
      const StoreRequest req{meta, Role::client, false, cond};
      co_return co_await via.store(req, source, kTimeout);
    };
    auto a = asio::co_spawn(r.io, write(big, std::nullopt), asio::use_future);
    auto b = asio::co_spawn(r.io, write("small", v1->version), asio::use_future);
    r.io.restart();
    r.io.run();
    auto ra = a.get();
    auto rb = b.get();
    REQUIRE(ra);
    INFO((rb ? std::string("conditional write applied") : rb.error().message));
    // Applied only if it came after nothing: then the big write must have come after it.
    if (rb) CHECK(rb->version < ra->version);
    else CHECK(rb.error().code == Errc::precondition_failed);
    CHECK(r.get(via, "cas").value() == big);
  }
}

TEST_CASE("storage: a copy beyond the k holders is dropped once all k confirm it, and kept otherwise") {
  FixedRing r(6);
  Host& owner = r.owner_of("zeta");
  auto put = r.put(owner, "zeta", "z");
  REQUIRE(put);
  Host& extra = r.after(owner, 3);  // not among the k = 3 holders
  auto given = r.store_at(extra, "zeta", "z", put->version, Role::replica);
  REQUIRE(given);
  auto rounds = [&](Host& h) {
    for (unsigned i = 0; i < r.config.full_sync_every; ++i) r.run(h.storage().maintain_replicas());
  };
  // One holder does not answer: nobody can confirm it holds the key, so the copy stays.
  r.net.kill(r.after(owner, 2).self().uri);
  rounds(extra);
  CHECK(r.held(extra, "zeta"));
  r.net.revive(r.after(owner, 2).self().uri);
  rounds(extra);
  CHECK_FALSE(r.held(extra, "zeta"));
  for (std::size_t c = 0; c < 3; ++c) CHECK(r.held(r.after(owner, c), "zeta"));
  CHECK(r.get(*r.hosts[0], "zeta").value() == "z");
}

TEST_CASE("storage: a crashed holder does not lower the write quorum, and a leave does") {
  FixedRing r(2);  // k = 3, W = 2 of the 2 nodes there are
  Host& a = *r.hosts[0];
  Host& b = *r.hosts[1];
  REQUIRE(r.put(a, "eta", "1"));
  // b crashes and a's successor list loses it, as stabilize would.
  r.net.kill(b.self().uri);
  a.place(std::nullopt, {}, {a.self()});
  auto alone = r.put(a, "eta", "2");
  REQUIRE_FALSE(alone);
  CHECK(alone.error().code == Errc::unavailable);
  // b said goodbye instead: a ring of one may take writes alone.
  a.storage().member_left(b.self());
  CHECK(r.put(a, "eta", "3"));
}

TEST_CASE("storage: the same write delivered twice is taken once and answered as a copy both times") {
  FixedRing r(4);
  Host& owner = r.owner_of("theta");
  auto put = r.put(owner, "theta", std::string(5 * r.config.chunk_bytes, 't'));
  REQUIRE(put);
  Host& replica = r.after(owner, 1);
  const auto before = replica.storage().local().version();
  // An anti-entropy push of the version a replica leg already delivered (or the other way round).
  auto again = r.store_at(replica, "theta", std::string(5 * r.config.chunk_bytes, 't'), put->version, Role::replica);
  REQUIRE(again);
  CHECK(replica.storage().local().version() == before);  // nothing was written again
  // A different value under the same version is no duplicate: refused.
  auto forged = r.store_at(replica, "theta", "x", put->version, Role::replica);
  REQUIRE_FALSE(forged);
  CHECK(forged.error().code == Errc::conflict);
  auto del = r.remove(owner, "theta");
  REQUIRE(del);
  auto tomb_again = r.run([&]() -> asio::awaitable<Result<DeleteReply>> {
    const DeleteRequest req{"theta", std::nullopt, Role::replica, del->version};
    co_return co_await replica.remove(req, kTimeout);
  }());
  CHECK(tomb_again);
}
