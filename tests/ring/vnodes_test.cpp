#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "ring_helpers.hpp"
#include "simulator.hpp"
#include "uri.hpp"

using namespace chord;

TEST_CASE("a virtual node's URI: PORT+i, QUEUE-v<i>, and index 0 is the node itself") {
  CHECK(*wire::virtual_uri("grpc://127.0.0.1:7000", 0) == "grpc://127.0.0.1:7000");
  CHECK(*wire::virtual_uri("grpc://127.0.0.1:7000", 3) == "grpc://127.0.0.1:7003");
  CHECK(*wire::virtual_uri("http://[::1]:8080", 1) == "http://[::1]:8081");
  CHECK(*wire::virtual_uri("amqp://127.0.0.1:5672/node-a", 2) == "amqp://127.0.0.1:5672/node-a-v2");
  CHECK(*wire::virtual_uri("inproc://node-4", 1) == "inproc://node-4-v1");
  auto over = wire::virtual_uri("grpc://127.0.0.1:65535", 1);
  REQUIRE_FALSE(over);
  CHECK(over.error().message.find("65536") != std::string::npos);
  CHECK_FALSE(wire::virtual_uri("not a uri", 1));
}

TEST_CASE("hosts of 4 virtual nodes join by the protocol, and every lookup finds the true owner") {
  sim::SimRing ring(sim::RingOptions{});
  std::mt19937_64 rng(7);
  std::vector<std::shared_ptr<Node>> all;
  for (int h = 0; h < 16; ++h)
    for (auto& n : ring.add_host(4)) all.push_back(n);
  REQUIRE(ring.host_count() == 16);
  std::set<Id> ids;
  for (const auto& n : all) {
    ids.insert(n->self().id);
    CHECK(n->self().id == ring.ring().hash(n->self().uri.str()));
  }
  CHECK(ids.size() == 64);
  CHECK(ring.host_of(*all[5]) == 1);
  REQUIRE(ring.join({all[0]}, rng) == 0);
  REQUIRE(ring.join(std::vector<std::shared_ptr<Node>>(all.begin() + 1, all.end()), rng) == 0);
  REQUIRE(ring.stabilize(200, true));
  for (int k = 0; k < 300; ++k) {
    auto key = ring.ring().hash("key-" + std::to_string(k));
    auto r = test::lookup(ring, *all[rng() % all.size()], key);
    REQUIRE(r);
    CHECK(r->owner == ring.true_owner(key));
  }
}

TEST_CASE("simulate: virtual nodes even out the keys per host") {
  sim::SimOptions o;
  o.nodes = 200;
  o.lookups = 200;
  o.keys = 20000;
  o.replicas = 1;
  o.build = sim::Build::ideal;
  auto plain = sim::simulate(o, {});
  o.vnodes = 16;
  auto virt = sim::simulate(o, {});
  REQUIRE(plain.load);
  REQUIRE(virt.load);
  CHECK(plain.load->stored == 20000);
  CHECK(virt.load->stored == 20000);
  CHECK(plain.load->mean == Approx(100));  // every key counted once, at its owner
  CHECK(virt.load->mean == Approx(100));
  INFO("p99/mean " << plain.load->p99 / 100.0 << " -> " << virt.load->p99 / 100.0);
  CHECK(plain.load->p99 > 300);  // consistent hashing alone: a few times the mean
  CHECK(virt.load->p99 < 200);   // 16 ids per host average the arcs out
  CHECK(virt.lookups.wrong == 0);
}

TEST_CASE("simulate: keys on failed hosts are lost without replication and kept with it") {
  sim::SimOptions o;
  o.nodes = 300;
  o.vnodes = 2;
  o.lookups = 500;
  o.keys = 3000;
  o.fail = 0.3;
  o.read_quorum = 1;  // what survives, not what a majority read can reach
  o.replicas = 1;
  o.build = sim::Build::ideal;
  auto single = sim::simulate(o, {});
  o.replicas = 3;
  auto triple = sim::simulate(o, {});
  REQUIRE(single.fetch_after_failure);
  REQUIRE(triple.fetch_after_failure);
  CHECK(single.killed == 90);
  const double lost1 = static_cast<double>(single.fetch_after_failure->lost) / 3000;
  const double lost3 = static_cast<double>(triple.fetch_after_failure->lost) / 3000;
  INFO("lost: k=1 " << lost1 << ", k=3 " << lost3);
  CHECK(lost1 > 0.2);  // about the fraction of hosts that failed
  CHECK(lost1 < 0.4);
  CHECK(lost3 < 0.08);  // about 0.3^3, plus keys whose copies shared a host
  // Repair re-routes but brings nothing back: what no live node holds stays lost.
  CHECK(single.fetch_after_repair->lost == single.fetch_after_failure->lost);
  CHECK(single.after_repair->wrong == 0);
  CHECK(triple.after_repair->wrong == 0);
}
