// The per-peer token bucket: a burst, then the rate; peers apart; a full table of peers.
#include <catch2/catch.hpp>

#include <string>

#include "chord/peer_rate.hpp"

using chord::PeerRate;
using namespace std::chrono_literals;

TEST_CASE("a peer gets its burst at once, then its rate, and others are apart") {
  PeerRate rate(10, 20);
  const auto t0 = PeerRate::Clock::time_point{} + 1h;
  int taken = 0;
  for (int i = 0; i < 100; ++i) taken += rate.allow("10.0.0.1", t0);
  CHECK(taken == 20);
  CHECK(rate.allow("10.0.0.2", t0));  // another peer has its own bucket
  CHECK_FALSE(rate.allow("10.0.0.1", t0 + 50ms));  // half a token back
  CHECK(rate.allow("10.0.0.1", t0 + 100ms));       // one
  CHECK_FALSE(rate.allow("10.0.0.1", t0 + 100ms));
  taken = 0;
  for (int i = 0; i < 100; ++i) taken += rate.allow("10.0.0.1", t0 + 10s);  // refilled to the burst, no more
  CHECK(taken == 20);
}

TEST_CASE("with its table of peers full, quiet peers make room and a crowd is let through") {
  PeerRate rate(1, 2, 4);
  const auto t0 = PeerRate::Clock::time_point{} + 1h;
  for (int p = 0; p < 4; ++p) {
    REQUIRE(rate.allow("p" + std::to_string(p), t0));
    REQUIRE(rate.allow("p" + std::to_string(p), t0));
  }
  CHECK_FALSE(rate.allow("p0", t0));
  // A fifth peer while the four are still drained: nothing to drop, it is let through.
  CHECK(rate.allow("p4", t0));
  // Later the four have refilled: their buckets go, and the new peer's counts from then on.
  CHECK(rate.allow("p5", t0 + 5s));
  CHECK(rate.allow("p5", t0 + 5s));
  CHECK_FALSE(rate.allow("p5", t0 + 5s));
}
