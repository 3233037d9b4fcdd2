#include <catch2/catch.hpp>

#include <random>

#include "ring_helpers.hpp"
#include "simulator.hpp"

using namespace chord;

namespace {

sim::SimReport at_once(sim::Seeds seeds, std::uint64_t nodes) {
  sim::SimOptions o;
  o.nodes = nodes;
  o.lookups = 2000;
  o.build = sim::Build::at_once;
  o.seeds = seeds;
  return sim::simulate(o, {});
}

}  // namespace

TEST_CASE("nodes started at once through seeds that are still joining form one correct ring") {
  struct Shape {
    sim::Seeds seeds;
    std::uint64_t nodes;
  };
  for (auto [seeds, nodes] : {Shape{sim::Seeds::chain, 64}, Shape{sim::Seeds::star, 300},
                              Shape{sim::Seeds::random, 1000}, Shape{sim::Seeds::shared, 300}}) {
    INFO(sim::seeds_name(seeds) << " of " << nodes);
    auto r = at_once(seeds, nodes);
    REQUIRE(r.build_rounds);
    CHECK(r.fingers_correct == 1.0);
    CHECK(r.lookups.wrong == 0);
    CHECK(r.lookups.failed == 0);
    if (seeds == sim::Seeds::chain) {
      // About one link of the chain per round: a node finds its seed in a ring only once the
      // seed's own join has been answered.
      CHECK(r.join_rounds > nodes / 2);
      CHECK(r.join_retries > 0);
    }
    if (seeds == sim::Seeds::star) CHECK(r.join_rounds == 1);
  }
}

TEST_CASE("a node whose seeds are all still joining does not start a ring of its own") {
  sim::SimRing ring(sim::RingOptions{});
  auto a = ring.add(), b = ring.add(), c = ring.add();
  // a and b name each other; neither is first in a list that names itself.
  auto ra = ring.run(a->join_any({b->self().uri}));
  auto rb = ring.run(b->join_any({a->self().uri, c->self().uri}));
  REQUIRE_FALSE(ra);
  REQUIRE_FALSE(rb);
  CHECK(join_retryable(ra.error().code));
  CHECK(ra.error().message.find(b->self().uri) != std::string::npos);
  CHECK(rb.error().message.find(a->self().uri) != std::string::npos);
  CHECK(rb.error().message.find(c->self().uri) != std::string::npos);
  CHECK_FALSE(a->joined());
  CHECK_FALSE(b->joined());

  // One shared list: only its first entry starts the ring, and only when no other seed is in one.
  const std::vector<std::string> shared{c->self().uri, a->self().uri, b->self().uri};
  REQUIRE_FALSE(ring.run(a->join_any(shared)));
  REQUIRE(ring.run(c->join_any(shared)));
  REQUIRE(ring.run(a->join_any(shared)));
  REQUIRE(ring.run(b->join_any(shared)));
  REQUIRE(ring.stabilize(50, true));
  CHECK(ring.sorted_live().size() == 3);
}

TEST_CASE("join_cluster waits for a seed that comes up late and gives up clearly on one that never does") {
  sim::SimRing ring(sim::RingOptions{});
  auto seed = ring.add(), late = ring.add(), lonely = ring.add();
  std::optional<Result<void>> joined, gave_up;
  boost::asio::co_spawn(ring.io(), join_cluster(late, {seed->self().uri}, std::chrono::seconds(5)),
                        [&](std::exception_ptr, Result<void> r) { joined = r; });
  boost::asio::co_spawn(ring.io(), join_cluster(lonely, {"inproc://nobody"}, std::chrono::milliseconds(300)),
                        [&](std::exception_ptr, Result<void> r) { gave_up = r; });
  ring.io().restart();
  ring.io().run_for(std::chrono::milliseconds(400));
  CHECK_FALSE(joined);  // its seed is up but not in a ring: it keeps trying
  REQUIRE(gave_up);
  REQUIRE_FALSE(*gave_up);
  CHECK(gave_up->error().message.find("could not join within") != std::string::npos);
  CHECK(gave_up->error().message.find("inproc://nobody") != std::string::npos);
  CHECK_FALSE(lonely->joined());

  REQUIRE(ring.run(seed->join_any({})));  // no seeds: it starts the ring
  ring.io().restart();
  ring.io().run_for(std::chrono::milliseconds(1000));
  REQUIRE(joined);
  CHECK(*joined);
  REQUIRE(ring.stabilize(50, true));
}

TEST_CASE("one missed ping keeps the predecessor, a few in a row drop it") {
  sim::SimRing ring(sim::RingOptions{});
  std::mt19937_64 rng(5);
  for (int i = 0; i < 4; ++i) REQUIRE(ring.join({ring.add()}, rng) == 0);
  REQUIRE(ring.stabilize(50, true));
  auto& node = *ring.live()[0];
  auto pred_id = node.predecessor()->id;
  Node* pred = nullptr;
  for (auto& n : ring.nodes())
    if (n->self().id == pred_id) pred = n.get();
  REQUIRE(pred);

  // A pause: one ping lost, then it answers again.
  ring.network().kill(pred->self().uri);
  ring.run(node.check_predecessor());
  ring.network().revive(pred->self().uri);
  REQUIRE(node.predecessor());
  CHECK(node.predecessor()->id == pred_id);
  ring.run(node.check_predecessor());

  // A crash: gone only after config.predecessor_misses pings in a row.
  ring.network().kill(pred->self().uri);
  for (unsigned i = 1; i < node.config().predecessor_misses; ++i) {
    ring.run(node.check_predecessor());
    REQUIRE(node.predecessor());
  }
  ring.run(node.check_predecessor());
  CHECK_FALSE(node.predecessor());
}

TEST_CASE("a lookup routes around a hop that is not part of a ring (it left, or restarted and has not joined)") {
  sim::SimRing ring{sim::RingOptions{}};
  std::mt19937_64 rng{31};
  test::joined_ring(ring, 16, rng);
  // Restarted at its address with nothing: every finger that named it now reaches a node that
  // answers each step with not_ready, until stabilize and fix_fingers catch up.
  auto out = ring.restart(*ring.live()[5], false);
  const Id out_id = out->self().id;
  std::size_t lookups = 0, pointed = 0;
  for (const auto& n : ring.live()) {
    if (n == out) continue;
    auto fingers = n->fingers().distinct();
    const bool had = std::any_of(fingers.begin(), fingers.end(), [&](const FingerEntry& f) { return f.node.id == out_id; });
    pointed += had ? 1 : 0;
    for (int k = 0; k < 32; ++k) {
      auto r = test::lookup(ring, *n, ring.ring().hash("around-" + std::to_string(k)));
      INFO("from " << n->self().uri << ": " << (r ? std::string("ok") : r.error().message));
      REQUIRE(r);
      CHECK(r->owner.id != out_id);
      ++lookups;
    }
    // A node whose lookups met it keeps no finger to it.
    if (had) {
      fingers = n->fingers().distinct();
      CHECK(std::none_of(fingers.begin(), fingers.end(), [&](const FingerEntry& f) { return f.node.id == out_id; }));
    }
  }
  CHECK(lookups == 15 * 32);
  CHECK(pointed >= 3);  // the node stood in several finger tables: lookups had it on their paths
}
