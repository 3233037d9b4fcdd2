#pragma once
// A deterministic fault checker for the data of the ring: from a seed, schedules of puts,
// overwrites, deletes and gets through random nodes of a simulated ring, while holders crash,
// restart from their data, pause and come back. Every read is checked against what was
// acknowledged: it must never return a version older than the last acknowledged write of its
// key, a value after its acknowledged delete, or bytes that are not the value of the version it
// names. The same seed gives the same run.
#include <cstdint>
#include <string>
#include <vector>

namespace chord::sim {

struct ConsistencyOptions {
  std::uint64_t schedules = 100;
  std::uint64_t seed = 1;
  unsigned nodes = 8;
  unsigned keys = 4;         // per schedule: few keys, so that operations collide
  unsigned steps = 40;       // operations and faults per schedule
  unsigned replicas = 3;     // k
  unsigned write_quorum = 0; // 0: a majority
  unsigned read_quorum = 0;
};

struct ConsistencyReport {
  std::uint64_t schedules = 0, puts = 0, deletes = 0, gets = 0, refused = 0, faults = 0;
  std::vector<std::string> violations;  // the first few, each with its schedule's seed
  std::uint64_t violation_count = 0;
};

ConsistencyReport check_consistency(const ConsistencyOptions& options);

}  // namespace chord::sim
