#pragma once
// A deterministic fault checker for the data of the ring: from a seed, schedules of puts,
// overwrites, conditional writes, deletes and gets through random nodes of a simulated ring,
// while holders crash, restart from their data, pause, leave and come back, and live
// nodes suspect live successors after a failed call. Every read is
// checked against what was acknowledged: it must never return a version older than the last
// acknowledged write of its key, a value after its acknowledged delete, or bytes that are not the
// value of the version it names; no conditional write may be accepted against a version older
// than the last acknowledged one. The same seed gives the same run.
#include <cstdint>
#include <string>
#include <vector>

namespace chord::sim {

struct ConsistencyOptions {
  std::uint64_t schedules = 100;
  std::uint64_t first = 0;  // the index of the first schedule: a violation names its schedule
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
  std::uint64_t conditional = 0;  // conditional puts (a read, then a write if unchanged)
  std::uint64_t conflicts = 0;    // of those, refused as the key had changed since the read
  std::uint64_t leaves = 0;       // graceful leaves, each followed later by a rejoin
  std::uint64_t leave_writes = 0;   // writes through another node while a node left, of a key it owned
  std::uint64_t leave_refused = 0;  // ... of those, refused
  std::uint64_t join_writes = 0;    // writes through another node while a node joined, of a key it will own
  std::uint64_t join_refused = 0;   // ... of those, refused
  std::uint64_t suspicions = 0;   // live nodes made to suspect live successors (a failed call)
  std::uint64_t late_writes = 0;  // writes a paused node got when it resumed, after their senders gave up
  std::uint64_t range_reads = 0;    // reads in ranges, one per step, completed
  std::uint64_t range_changes = 0;  // ... ended as a later range came at another version
  std::vector<std::string> violations;  // the first few, each with its schedule's seed
  std::uint64_t violation_count = 0;
};

ConsistencyReport check_consistency(const ConsistencyOptions& options);

}  // namespace chord::sim
