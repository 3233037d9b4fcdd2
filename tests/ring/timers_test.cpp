#include <catch2/catch.hpp>

#include <random>

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
