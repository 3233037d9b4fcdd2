#include <catch2/catch.hpp>

#include <thread>

#include "chord/peer_cache.hpp"

using namespace chord;
using namespace std::chrono_literals;

TEST_CASE("a peer cache drops clients nobody asked for within its idle time and nobody holds") {
  std::vector<std::string> evicted;
  // An idle time far above the gaps between finds below: a loaded machine (CI runs the e2e
  // tests beside this one) overslept a 20 ms sleep past a 40 ms idle time.
  PeerCache<int> cache(300ms, [&](const std::string& uri) { evicted.push_back(uri); });
  cache.add("grpc://a:1", std::make_shared<int>(1));
  cache.add("grpc://b:1", std::make_shared<int>(2));
  auto held = cache.find("grpc://b:1");  // a caller keeps b's client
  REQUIRE(held);
  std::this_thread::sleep_for(400ms);
  CHECK(cache.find("grpc://a:1") == nullptr);  // idle and unheld: gone
  CHECK(evicted == std::vector<std::string>{"grpc://a:1"});
  CHECK(cache.find("grpc://b:1") == held);     // idle but held: kept
  cache.add("grpc://c:1", std::make_shared<int>(3));
  for (int i = 0; i < 4; ++i) {  // asked for often: kept however long
    std::this_thread::sleep_for(20ms);
    CHECK(cache.find("grpc://c:1") != nullptr);
  }
  CHECK(cache.size() == 2);
}
