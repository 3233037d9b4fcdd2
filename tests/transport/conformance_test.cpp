// The same cases against every backend: each RPC, deadlines, a dead peer, a value of several
// chunks, oversized and malformed input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>

#include "chord/chunks.hpp"
#include "chord/clock.hpp"
#include "chord/sha256.hpp"
#include "harness.hpp"

using namespace chord;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<test::Harness> harness_named(const std::string& name) {
  if (name == "inproc") return test::make_inproc_harness();
  if (name == "rest") return test::make_rest_harness(true);
  if (name == "amqp") return test::make_amqp_harness();
  return test::make_grpc_harness();
}

ValueMeta meta_of(const Ring& ring, const std::string& key, const std::string& value) {
  return ValueMeta{key, ring.hash(key), value.size(), Sha256::of(value), {}, false};
}

asio::awaitable<Result<StoreReply>> put(std::shared_ptr<ChordService> via, ValueMeta meta, std::string value,
                                        std::size_t chunk, std::optional<Version> if_version = std::nullopt) {
  StringSource source(std::move(value), chunk);
  const StoreRequest req{meta, Role::client, false, if_version};
  co_return co_await via->store(req, source, 2000ms);
}

asio::awaitable<Result<std::string>> get(std::shared_ptr<ChordService> via, std::string key) {
  StringSink sink;
  const FetchRequest req{key, std::nullopt, Role::client, 0, std::nullopt};
  auto r = co_await via->fetch(req, sink, 2000ms);
  if (!r) co_return r.error();
  if (Sha256::of(sink.data()) != r->meta.sha256) co_return make_error(Errc::data_loss, "digest mismatch");
  co_return std::move(sink.data());
}

// A source whose single chunk is larger than any node accepts.
class OversizedSource final : public ChunkSource {
 public:
  explicit OversizedSource(std::size_t n) : n_(n) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override {
    if (sent_) co_return std::optional<std::string>{};
    sent_ = true;
    co_return std::optional<std::string>(std::string(n_, 'x'));
  }

 private:
  std::size_t n_;
  bool sent_ = false;
};

}  // namespace

TEST_CASE("transport conformance") {
  auto backend = GENERATE(as<std::string>{}, "inproc", "grpc", "rest", "amqp");
  auto h = harness_named(backend);
  INFO("backend " << backend);
  h->start(3);
  REQUIRE(h->converged());
  const Ring ring(160);
  auto c0 = h->client(0);
  auto c1 = h->client(1);

  SECTION("Ping answers with the node's identity") {
    auto r = h->run(c1->ping(Empty{}, 500ms));
    REQUIRE(r);
    CHECK(*r == h->node(1).self());
  }

  SECTION("GetPredecessor, Notify, LookupStep, GetNodeInfo carry the node's state") {
    auto nb = h->run(c0->get_predecessor(Empty{}, 500ms));
    REQUIRE(nb);
    REQUIRE(nb->predecessor);
    CHECK(nb->successors.size() == 2);
    auto info = h->run(c0->node_info(Empty{}, 500ms));
    REQUIRE(info);
    CHECK(info->self == h->node(0).self());
    CHECK(info->bits == 160);
    CHECK(info->predecessor == nb->predecessor);
    CHECK(info->transport == backend);
    CHECK_FALSE(info->fingers.empty());
    // A notify from the current predecessor changes nothing and is accepted.
    auto ok = h->run(c0->notify(NotifyRequest{*nb->predecessor}, 500ms));
    REQUIRE(ok);
    CHECK_FALSE(ok->closer);
    // One from a node that is not its predecessor learns of a closer successor: here the
    // predecessor, which lies between the candidate and the node.
    auto hint = h->run(c0->notify(NotifyRequest{nb->successors.front()}, 500ms));
    REQUIRE(hint);
    REQUIRE(hint->closer);
    CHECK(*hint->closer == *nb->predecessor);
    // The step for the node's own successor's id is the last one.
    auto step = h->run(c0->lookup_step(LookupStepRequest{nb->successors.front().id, {}}, 500ms));
    REQUIRE(step);
    CHECK(step->done);
    CHECK(step->nodes.front() == nb->successors.front());
    CHECK(step->nodes.size() == 3);  // a ring of 3: both others, then the node itself
    // Asked for fewer, it names the first of the same nodes, and only those.
    for (unsigned max_nodes : {1u, 2u}) {
      auto few = h->run(c0->lookup_step(LookupStepRequest{nb->successors.front().id, {}, max_nodes}, 500ms));
      REQUIRE(few);
      CHECK(few->done);
      REQUIRE(few->nodes.size() == max_nodes);
      CHECK(std::equal(few->nodes.begin(), few->nodes.end(), step->nodes.begin()));
    }
  }

  SECTION("Lookup through any node finds the same owner") {
    for (int k = 0; k < 20; ++k) {
      std::string key = "key-" + std::to_string(k);
      auto a = h->run(c0->lookup(LookupRequest{key, std::nullopt}, 1000ms));
      auto b = h->run(c1->lookup(LookupRequest{key, std::nullopt}, 1000ms));
      REQUIRE(a);
      REQUIRE(b);
      CHECK(a->owner == b->owner);
      CHECK(a->key_id == ring.hash(key));
      CHECK(a->path.front() == h->node(0).self());
    }
  }

  SECTION("values around the size a read takes with the holders' answers come back whole") {
    // Up to 64 KiB a value comes with the first holder's answer; past it, from a second fetch.
    for (std::size_t size : {std::size_t{1}, std::size_t{4096}, std::size_t{65535}, std::size_t{65536},
                             std::size_t{65537}, std::size_t{200000}}) {
      std::string value(size, '\0');
      for (std::size_t i = 0; i < size; ++i) value[i] = static_cast<char>((i * 7 + size) % 253);
      const std::string key = "around-" + std::to_string(size);
      REQUIRE(h->run(put(c0, meta_of(ring, key, value), value, 1 << 16)));
      auto got = h->run(get(c1, key));
      INFO(key << ": " << (got ? std::string("ok") : got.error().message));
      REQUIRE(got);
      CHECK(*got == value);
    }
  }

  SECTION("a value of several chunks goes in through one node and out through another") {
    std::string value(3 * (1 << 20) + 12345, '\0');
    for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 131 % 251);
    auto stored = h->run(put(c0, meta_of(ring, "multi", value), value, 1 << 20));
    INFO((stored ? std::string() : stored.error().message));
    REQUIRE(stored);
    CHECK(stored->bytes == value.size());
    CHECK(stored->copies == 3);
    auto got = h->run(get(c1, "multi"));
    REQUIRE(got);
    CHECK(*got == value);
    auto empty = h->run(put(c1, meta_of(ring, "empty", ""), "", 1 << 20));
    REQUIRE(empty);
    auto got_empty = h->run(get(c0, "empty"));
    REQUIRE(got_empty);
    CHECK(got_empty->empty());
    auto keys = h->run(c0->list_keys(ListKeysRequest{0}, 500ms));
    REQUIRE(keys);
    CHECK(keys->keys.size() == 2);  // 3 nodes, 3 copies: every node holds both
    auto del = h->run(c1->remove(DeleteRequest{"multi", std::nullopt, Role::client, {}}, 1000ms));
    REQUIRE(del);
    CHECK(del->existed);
    auto gone = h->run(get(c0, "multi"));
    REQUIRE_FALSE(gone);
    CHECK(gone.error().code == Errc::not_found);
  }

  SECTION("a conditional write that does not hold is precondition_failed, fast, and changes nothing") {
    auto first = h->run(put(c0, meta_of(ring, "cas", "one"), "one", 4, Version{}));
    REQUIRE(first);
    const auto started = std::chrono::steady_clock::now();
    auto again = h->run(put(c1, meta_of(ring, "cas", "two"), "two", 4, Version{}));
    REQUIRE_FALSE(again);
    CHECK(again.error().code == Errc::precondition_failed);  // ABORTED + details on gRPC, 412 on REST
    // Refused before its first chunk was taken: the sender is told at once, not at its deadline.
    CHECK(std::chrono::steady_clock::now() - started < 1500ms);  // the deadline is 2000 ms
    auto stale = h->run(c1->remove(DeleteRequest{"cas", std::nullopt, Role::client, {}, Version{1, first->owner.id}}, 1000ms));
    REQUIRE_FALSE(stale);
    CHECK(stale.error().code == Errc::precondition_failed);
    auto replaced = h->run(put(c1, meta_of(ring, "cas", "three"), "three", 4, first->version));
    REQUIRE(replaced);
    CHECK(h->run(get(c0, "cas")).value() == "three");
  }

  SECTION("a put or delete that arrives after its sender's deadline is cancelled and changes nothing") {
    REQUIRE(h->run(put(c0, meta_of(ring, "late", "kept"), "kept", 4)));
    const std::uint64_t gone_by = steady_clock()->wall_ms() - 1000;  // its sender stopped waiting a second ago
    StringSource source("lost", 4);
    const StoreRequest late_put{meta_of(ring, "late", "lost"), Role::client, false, std::nullopt, gone_by};
    auto p = h->run(c1->store(late_put, source, 2000ms));
    REQUIRE_FALSE(p);
    CHECK(p.error().code == Errc::cancelled);
    CHECK(p.error().message.find("after its sender's deadline") != std::string::npos);
    auto d = h->run(c1->remove(DeleteRequest{"late", std::nullopt, Role::client, {}, std::nullopt, gone_by}, 2000ms));
    REQUIRE_FALSE(d);
    CHECK(d.error().code == Errc::cancelled);
    CHECK(h->run(get(c0, "late")).value() == "kept");
    // In time, the same requests are applied.
    StringSource again("newer", 4);
    const StoreRequest in_time{meta_of(ring, "late", "newer"), Role::client, false, std::nullopt, not_after(2000ms)};
    REQUIRE(h->run(c1->store(in_time, again, 2000ms)));
    CHECK(h->run(get(c0, "late")).value() == "newer");
  }

  SECTION("a missing key is not_found, and a wrong key id is refused") {
    auto r = h->run(get(c0, "never-stored"));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::not_found);
    auto wrong = h->run(c0->lookup(LookupRequest{"k", ring.hash("other")}, 500ms));
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().code == Errc::invalid_argument);
  }

  SECTION("a value whose bytes do not match its digest is refused and not stored") {
    auto meta = meta_of(ring, "liar", "the truth");
    auto r = h->run(put(c0, meta, "the lies!", 4));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::data_loss);  // DATA_LOSS on gRPC, 422 on REST, data_loss on AMQP
    auto g = h->run(get(c1, "liar"));
    REQUIRE_FALSE(g);
    CHECK(g.error().code == Errc::not_found);
  }

  SECTION("a value that ends before or runs past the size its header announced is refused and not stored") {
    const std::string value = "the truth";
    auto shorter = ValueMeta{"short", ring.hash("short"), 20, Sha256::of(value), {}, false};
    auto r = h->run(put(c0, shorter, value, 4));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
    auto longer = ValueMeta{"long", ring.hash("long"), 5, Sha256::of(value), {}, false};
    auto r2 = h->run(put(c0, longer, value, 5));
    REQUIRE_FALSE(r2);
    CHECK(r2.error().code == Errc::invalid_argument);
    // A header true to the first 5 bytes: no holder may keep them. A sender marks a message last
    // only once its source has ended, and an owner refuses a chunk past the size before it hands
    // it to its replicas, so no replica is left with the 5 bytes as a whole value.
    auto prefix = ValueMeta{"prefix", ring.hash("prefix"), 5, Sha256::of(value.substr(0, 5)), {}, false};
    auto r3 = h->run(put(c0, prefix, value, 5));
    REQUIRE_FALSE(r3);
    CHECK(r3.error().code == Errc::invalid_argument);
    for (const char* key : {"short", "long", "prefix"}) {
      auto g = h->run(get(c1, key));
      INFO(key << ": " << (g ? "found '" + *g + "'" : g.error().message));
      REQUIRE_FALSE(g);
      CHECK(g.error().code == Errc::not_found);
    }
  }

  SECTION("oversized input is refused clearly") {
    // A chunk over the limit.
    auto meta = ValueMeta{"big-chunk", ring.hash("big-chunk"), 2 << 20, {}, {}, false};
    auto task = [](std::shared_ptr<ChordService> via, ValueMeta m) -> asio::awaitable<Result<StoreReply>> {
      OversizedSource source(2 << 20);
      const StoreRequest req{m, Role::primary};
      co_return co_await via->store(req, source, 2000ms);
    };
    auto r = h->run(task(c0, meta));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::too_large);
    // A value over the node's size bound, refused before any byte moves.
    auto huge = ValueMeta{"huge", ring.hash("huge"), h->node(0).config().max_value_bytes + 1, {}, {}, false};
    auto r2 = h->run(put(c0, huge, "", 1 << 20));
    REQUIRE_FALSE(r2);
    CHECK(r2.error().code == Errc::too_large);
    CHECK(h->node(0).store().count() == 0);
  }

  SECTION("a peer that never answers costs the caller its deadline, no more") {
    auto silent = h->connector().connect(h->silent_uri());
    REQUIRE(silent);
    auto t0 = std::chrono::steady_clock::now();
    auto r = h->run((*silent)->ping(Empty{}, 200ms));
    auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE_FALSE(r);
    CHECK(is_peer_failure(r.error().code));
    CHECK(r.error().message.find(h->silent_uri()) != std::string::npos);  // names the peer
    CHECK(took < 1500ms);  // bounded by the deadline (gRPC may give up sooner, on its handshake)
  }

  SECTION("a dead peer is reported as such, and the ring routes around it") {
    for (int k = 0; k < 10; ++k) {
      std::string v = "value-" + std::to_string(k);
      REQUIRE(h->run(put(c0, meta_of(ring, "d" + std::to_string(k), v), v, 3)));
    }
    h->kill(2);
    auto dead = h->client(2);
    auto r = h->run(dead->ping(Empty{}, 300ms));
    REQUIRE_FALSE(r);
    CHECK(is_peer_failure(r.error().code));
    REQUIRE(h->converged());
    for (int k = 0; k < 10; ++k) {
      auto g = h->run(get(c1, "d" + std::to_string(k)));
      INFO("get d" << k << ": " << (g ? std::string("ok") : std::string(to_string(g.error().code)) + ": " + g.error().message));
      REQUIRE(g);
      CHECK(*g == "value-" + std::to_string(k));
    }
  }
}
