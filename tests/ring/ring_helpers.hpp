#pragma once
// Client operations on a simulated ring, as a user would do them through any node.
#include <string>

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

inline Result<LookupReply> lookup(sim::SimRing& ring, Node& via, const Id& key_id) {
  return ring.run(via.find_successor(key_id));
}

inline std::string value_of(int i) { return std::string(static_cast<std::size_t>(i * 37 % 5000), static_cast<char>('a' + i % 26)) + std::to_string(i); }

}  // namespace chord::test
