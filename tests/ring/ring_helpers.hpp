#pragma once
// Client operations on a simulated ring, as a user would do them through any node.
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "client_ops.hpp"
#include "sim_ring.hpp"

namespace chord::test {

// Small chunks: every value of a test is multi-chunk.
inline Result<StoreReply> put(sim::SimRing& ring, Node& via, const std::string& key, const std::string& value) {
  return ring.run(sim::put_value(via.shared_from_this(), key, value, 1000, std::chrono::milliseconds(1000)));
}

inline Result<std::string> get(sim::SimRing& ring, Node& via, const std::string& key) {
  return ring.run(sim::get_value(via.shared_from_this(), key, std::chrono::milliseconds(1000)));
}

// n bytes from rng: a value no other test writes.
inline std::string random_bytes(std::size_t n, std::mt19937_64& rng) {
  std::string v(n, '\0');
  for (auto& c : v) c = static_cast<char>(rng());
  return v;
}

// n nodes joined one after another and stabilized, fingers too.
inline void joined_ring(sim::SimRing& ring, int n, std::mt19937_64& rng) {
  for (int i = 0; i < n; ++i) REQUIRE(ring.join({ring.add()}, rng) == 0);
  REQUIRE(ring.stabilize(100, true));
}

inline Result<LookupReply> lookup(sim::SimRing& ring, Node& via, const Id& key_id) {
  return ring.run(via.find_successor(key_id));
}

inline std::string value_of(int i) { return std::string(static_cast<std::size_t>(i * 37 % 5000), static_cast<char>('a' + i % 26)) + std::to_string(i); }

}  // namespace chord::test
