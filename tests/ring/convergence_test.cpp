#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "ring_helpers.hpp"
#include "simulator.hpp"

using namespace chord;

TEST_CASE("64 nodes joining at once converge, and every lookup finds the true owner") {
  sim::SimRing ring(sim::RingOptions{});
  std::mt19937_64 rng(64);
  auto first = ring.add();
  REQUIRE(ring.join({first}, rng) == 0);
  std::vector<std::shared_ptr<Node>> rest;
  for (int i = 0; i < 63; ++i) rest.push_back(ring.add());
  REQUIRE(ring.join(rest, rng) == 0);  // all 63 through the one member, concurrently
  auto rounds = ring.stabilize(200, true);
  REQUIRE(rounds);
  INFO("converged after " << *rounds << " rounds");
  CHECK(ring.fingers_correct() == 1.0);
  for (int k = 0; k < 500; ++k) {
    auto key = ring.ring().hash("key-" + std::to_string(k));
    auto& via = *ring.nodes()[rng() % ring.nodes().size()];
    auto r = test::lookup(ring, via, key);
    REQUIRE(r);
    CHECK(r->owner == ring.true_owner(key));
    CHECK(r->path.front() == via.self());
    CHECK(r->path.size() == r->hops + 1);
  }
}

TEST_CASE("mean path length for N = 1,024 is about 1/2 log2 N") {
  sim::SimOptions o;
  o.nodes = 1024;
  o.lookups = 4000;
  o.seed = 11;
  auto report = sim::simulate(o, {});
  REQUIRE(report.build_rounds);
  CHECK(report.lookups.wrong == 0);
  CHECK(report.lookups.failed == 0);
  const double expected = 0.5 * std::log2(1024.0);
  INFO("mean hops " << report.lookups.hops_mean);
  CHECK(report.lookups.hops_mean >= 0.9 * expected);
  CHECK(report.lookups.hops_mean <= 1.1 * expected);
}

TEST_CASE("the ideal build gives the same answers as the protocol") {
  sim::SimOptions o;
  o.nodes = 500;
  o.lookups = 2000;
  o.build = sim::Build::ideal;
  auto report = sim::simulate(o, {});
  CHECK(report.fingers_correct == 1.0);
  CHECK(report.lookups.wrong == 0);
  CHECK(report.lookups.failed == 0);
}

TEST_CASE("after a fifth of the nodes crash, lookups are right again once the ring re-stabilizes") {
  sim::SimOptions o;
  o.nodes = 300;
  o.lookups = 1000;
  o.fail = 0.2;
  o.seed = 5;
  auto report = sim::simulate(o, {});
  REQUIRE(report.after_repair);
  CHECK(report.killed == 60);
  CHECK(report.repair_rounds);
  CHECK(report.after_repair->wrong == 0);
  CHECK(report.after_repair->failed == 0);
}
