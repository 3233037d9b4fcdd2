#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "ring_helpers.hpp"

using namespace chord;

namespace {
sim::RingOptions options(unsigned bits) {
  sim::RingOptions o;
  o.bits = bits;
  return o;
}
}  // namespace

TEST_CASE("a ring of one node owns every key") {
  sim::SimRing ring(options(160));
  std::mt19937_64 rng(1);
  auto n = ring.add();
  REQUIRE(ring.join({n}, rng) == 0);
  ring.round();
  auto r = test::lookup(ring, *n, ring.ring().hash("anything"));
  REQUIRE(r);
  CHECK(r->owner == n->self());
  CHECK(r->hops == 0);
  REQUIRE(test::put(ring, *n, "k", "v"));
  auto v = test::get(ring, *n, "k");
  REQUIRE(v);
  CHECK(*v == "v");
  auto missing = test::get(ring, *n, "nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("rings of two and three nodes converge and route every key to its owner, naming every holder") {
  for (int size : {2, 3}) {
    sim::SimRing ring(options(160));
    std::mt19937_64 rng(static_cast<std::uint64_t>(size));
    std::vector<std::shared_ptr<Node>> nodes;
    for (int i = 0; i < size; ++i) nodes.push_back(ring.add());
    for (auto& n : nodes) REQUIRE(ring.join({n}, rng) == 0);
    REQUIRE(ring.stabilize(20, true));
    for (int k = 0; k < 50; ++k) {
      auto key = ring.ring().hash("key-" + std::to_string(k));
      for (auto& via : nodes) {
        auto r = test::lookup(ring, *via, key);
        REQUIRE(r);
        CHECK(r->owner == ring.true_owner(key));
        // With k = 3 every node of so small a ring holds every key, the node that answered the
        // last step too: a read that is not told of one counts its quorum among fewer holders.
        std::set<Id> named{r->owner.id};
        for (const auto& s : r->successors) named.insert(s.id);
        CHECK(named.size() == static_cast<std::size_t>(size));
      }
    }
  }
}

TEST_CASE("the paper's example: m = 3, nodes 0, 1, 3 and keys 1, 2, 6 that land on 1, 3, 0") {
  sim::SimRing ring(options(3));
  std::mt19937_64 rng(7);
  auto n0 = ring.add(Id::from_uint(0));
  auto n1 = ring.add(Id::from_uint(1));
  auto n3 = ring.add(Id::from_uint(3));
  REQUIRE(ring.join({n0}, rng) == 0);
  REQUIRE(ring.join({n1}, rng) == 0);
  REQUIRE(ring.join({n3}, rng) == 0);
  REQUIRE(ring.stabilize(30, true));
  // The paper's finger table of node 1: starts 2, 3, 5 -> nodes 3, 3, 0.
  CHECK(n1->fingers().node(1).id == Id::from_uint(3));
  CHECK(n1->fingers().node(2).id == Id::from_uint(3));
  CHECK(n1->fingers().node(3).id == Id::from_uint(0));
  const std::pair<std::uint64_t, std::uint64_t> expect[] = {{1, 1}, {2, 3}, {6, 0}};
  for (auto [key, owner] : expect) {
    for (auto via : {n0, n1, n3}) {
      auto r = test::lookup(ring, *via, Id::from_uint(key));
      REQUIRE(r);
      CHECK(r->owner.id == Id::from_uint(owner));
    }
  }
}

TEST_CASE("a second node with an existing id is refused") {
  sim::SimRing ring(options(3));
  std::mt19937_64 rng(3);
  auto a = ring.add(Id::from_uint(5));
  auto b = ring.add(Id::from_uint(2));
  REQUIRE(ring.join({a}, rng) == 0);
  REQUIRE(ring.join({b}, rng) == 0);
  REQUIRE(ring.stabilize(20, true));
  auto twin = ring.add(Id::from_uint(5));
  auto r = ring.run(twin->join(a->self().uri));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::conflict);
  CHECK_FALSE(twin->joined());
  CHECK(ring.successors_correct());
}

TEST_CASE("requests with bad ids are refused clearly") {
  sim::SimRing ring(options(8));
  std::mt19937_64 rng(3);
  auto a = ring.add();
  REQUIRE(ring.join({a}, rng) == 0);
  auto outside = Id::from_uint(0x1ff);  // 9 bits on an 8-bit ring
  auto step = ring.run(a->lookup_step(LookupStepRequest{outside, {}}, std::chrono::milliseconds(100)));
  REQUIRE_FALSE(step);
  CHECK(step.error().code == Errc::invalid_argument);
  auto wrong = ring.run(a->lookup(LookupRequest{"k", Id::from_uint(1)}, std::chrono::milliseconds(100)));
  if (ring.ring().hash("k") != Id::from_uint(1)) {
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().code == Errc::invalid_argument);
  }
  auto notify = ring.run(a->notify(NotifyRequest{NodeRef{outside, "inproc://x"}}, std::chrono::milliseconds(100)));
  REQUIRE_FALSE(notify);
  CHECK(notify.error().code == Errc::invalid_argument);
}

TEST_CASE("a node that goes silent leaves every successor list of a ring of two or three") {
  // Calls to it time out (its host is gone), so nothing refuses them and only stabilize drops it.
  // The node that drops it must not copy it back from its successor's list, which in a ring this
  // small has it from that node's own list: it was otherwise listed for good, nobody's first.
  for (int live : {2, 3}) {
    sim::SimRing ring(options(160));
    std::mt19937_64 rng(5);
    for (int i = 0; i <= live; ++i) REQUIRE(ring.join({ring.add()}, rng) == 0);
    REQUIRE(ring.stabilize(100, true));
    auto silent = ring.nodes()[1];
    ring.network().kill(silent->self().uri);
    for (int r = 0; r < 50; ++r) ring.round();
    for (auto& n : ring.nodes()) {
      if (n == silent) continue;
      INFO(live << " live nodes, at " << n->self().uri);
      CHECK_FALSE(n->successors().contains(silent->self().id));
    }
  }
}
