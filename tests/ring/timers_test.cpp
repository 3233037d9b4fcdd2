#include <catch2/catch.hpp>

#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ring_helpers.hpp"

using namespace chord;

TEST_CASE("the periodic tasks on Asio timers converge a ring, and a crashed peer is noticed by deadline") {
  sim::RingOptions o;
  o.virtual_time = false;  // the nodes' own timers drive it
  o.node.stabilize_interval = std::chrono::milliseconds(10);
  o.node.fix_fingers_interval = std::chrono::milliseconds(5);
  o.node.check_predecessor_interval = std::chrono::milliseconds(10);
  o.node.replicate_interval = std::chrono::milliseconds(50);
  o.node.rpc_timeout = std::chrono::milliseconds(30);
  o.network.instant_deadlines = false;  // dead peers answer nothing, as over a network
  o.network.latency = std::chrono::microseconds(200);
  sim::SimRing ring(o);
  std::mt19937_64 rng(2);
  std::vector<std::shared_ptr<Node>> nodes;
  for (int i = 0; i < 16; ++i) nodes.push_back(ring.add());
  REQUIRE(ring.join({nodes[0]}, rng) == 0);
  REQUIRE(ring.join({nodes.begin() + 1, nodes.end()}, rng) == 0);
  for (auto& n : nodes) n->start();

  // Run the io_context in slices until the ring is right, or give up after 10 s.
  auto run_until = [&](auto done) {
    for (int i = 0; i < 200; ++i) {
      ring.io().restart();
      ring.io().run_for(std::chrono::milliseconds(50));
      if (done()) return true;
    }
    return false;
  };
  REQUIRE(run_until([&] { return ring.successors_correct() && ring.fingers_correct() == 1.0; }));

  ring.kill(*nodes[3]);
  REQUIRE(run_until([&] { return ring.successors_correct() && ring.fingers_correct() == 1.0; }));
  for (auto& n : nodes) n->stop();
  ring.io().restart();
  ring.io().run_for(std::chrono::milliseconds(200));
}

TEST_CASE("a settled ring slows its finger refresh and stops notifying, and speeds up again when a node joins") {
  sim::RingOptions o;
  o.virtual_time = false;
  o.node.stabilize_interval = std::chrono::milliseconds(10);
  o.node.fix_fingers_interval = std::chrono::milliseconds(5);
  o.node.check_predecessor_interval = std::chrono::milliseconds(20);
  o.node.replicate_interval = std::chrono::hours(1);  // only the routing calls are counted
  o.network.latency = std::chrono::microseconds(100);
  sim::SimRing ring(o);
  std::mt19937_64 rng(3);
  const unsigned n = 16;
  std::vector<std::shared_ptr<Node>> nodes;
  for (unsigned i = 0; i < n; ++i) nodes.push_back(ring.add());
  REQUIRE(ring.join({nodes[0]}, rng) == 0);
  REQUIRE(ring.join({nodes.begin() + 1, nodes.end()}, rng) == 0);
  for (auto& x : nodes) x->start();
  auto run_for = [&](std::chrono::milliseconds d) {
    ring.io().restart();
    ring.io().run_for(d);
  };
  auto run_until = [&](auto done) {
    for (int i = 0; i < 200; ++i) {
      run_for(std::chrono::milliseconds(50));
      if (done()) return true;
    }
    return false;
  };
  REQUIRE(run_until([&] { return ring.successors_correct() && ring.fingers_correct() == 1.0; }));

  // Settled: each stabilize round is one GetPredecessor, a check_predecessor Ping every other
  // round, and a finger check (two calls: the finger and its predecessor) every 8th fix_fingers
  // tick, that is every 4th round. At the paper's pace (a Notify every round, a finger lookup every half round) a node
  // made about 5.4 calls a round here.
  run_for(std::chrono::milliseconds(1000));
  const auto before = ring.network().calls();
  const auto t0 = std::chrono::steady_clock::now();
  run_for(std::chrono::milliseconds(1000));
  const double rounds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0) /
                        std::chrono::duration<double>(o.node.stabilize_interval);
  const double per_round = static_cast<double>(ring.network().calls() - before) / (n * rounds);
  INFO("calls per node and stabilize round: " << per_round);
  CHECK(per_round < 3.0);
  CHECK(ring.successors_correct());
  CHECK(ring.fingers_correct() == 1.0);

  // A join changes its neighbours' successor or predecessor: they refresh at full pace again,
  // and every finger table is right again as fast as when the ring was built.
  auto late = ring.add();
  std::optional<bool> joined;
  boost::asio::co_spawn(ring.io(), late->join(nodes[0]->self().uri.str()),
                        [&](std::exception_ptr e, Result<void> r) { joined = !e && r.ok(); });
  REQUIRE(run_until([&] { return joined.has_value(); }));
  REQUIRE(*joined);
  late->start();
  REQUIRE(run_until([&] { return ring.successors_correct() && ring.fingers_correct() == 1.0; }));
  for (auto& x : nodes) x->stop();
  late->stop();
  ring.io().restart();
  ring.io().run_for(std::chrono::milliseconds(200));
}
