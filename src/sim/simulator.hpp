#pragma once
// `chordnode simulate`: builds a ring of N real nodes over the in-process transport, runs
// lookups of random keys from random nodes, and checks every answer against the true owner.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "chord/node.hpp"

namespace chord::sim {

enum class Build { join, ideal, at_once };
// Whom each node names as its seed when every node starts at once (Build::at_once): the node
// started before it, the first node, a random node started before it, or one list of the first
// three nodes shared by all.
enum class Seeds { chain, star, random, shared };

struct SimOptions {
  std::uint64_t nodes = 1000;  // hosts; each runs `vnodes` Chord nodes
  unsigned vnodes = 1;
  std::uint64_t lookups = 10000;
  std::uint64_t keys = 0;  // values stored through the protocol: load per host, and losses under --fail
  unsigned bits = 160;
  unsigned successors = 16;
  unsigned replicas = 3;
  unsigned read_quorum = 0;  // R of k (0: a majority); 1 measures whether any copy survives
  double fail = 0.0;
  std::uint64_t seed = 1;
  Build build = Build::join;
  Seeds seeds = Seeds::random;
  unsigned max_rounds = 400;  // per convergence phase
};

struct LookupStats {
  std::uint64_t lookups = 0;
  double hops_mean = 0;
  std::uint64_t hops_p1 = 0, hops_p50 = 0, hops_p99 = 0;
  std::uint64_t wrong = 0;   // answered, with an owner that is not the true one
  std::uint64_t failed = 0;  // no answer
};

// Keys per host, counted from what each live node stores as owner (its range (predecessor, self]).
struct LoadStats {
  std::uint64_t stored = 0;  // puts acknowledged
  std::uint64_t refused = 0;
  double mean = 0;
  std::uint64_t p1 = 0, p50 = 0, p99 = 0, max = 0;
};

// Fetches of every stored key through random live nodes.
struct FetchStats {
  std::uint64_t fetched = 0;
  std::uint64_t lost = 0;  // not found, or no holder answered
};

struct SimReport {
  SimOptions options;
  std::optional<unsigned> build_rounds;  // nullopt: did not converge within max_rounds
  // Build::at_once: rounds until every node was in, and join attempts refused because no seed
  // of that node was in a ring yet.
  unsigned join_rounds = 0;
  std::uint64_t join_retries = 0;
  double fingers_correct = 0;
  LookupStats lookups;
  std::optional<LoadStats> load;
  // With --fail: what lookups saw right after the failures and after re-stabilization.
  std::uint64_t killed = 0;
  std::optional<LookupStats> after_failure;
  std::optional<LookupStats> after_repair;
  std::optional<unsigned> repair_rounds;
  std::optional<FetchStats> fetch_after_failure, fetch_after_repair;
  std::uint64_t messages = 0;
  double seconds = 0;
  std::uint64_t peak_rss_bytes = 0;
  // Of the memory mapped at the end, how much is in transparent huge pages (0 where the kernel
  // gives none): see cli/huge_pages.hpp.
  std::uint64_t huge_page_bytes = 0;
};

using Progress = std::function<void(const std::string&)>;

SimReport simulate(const SimOptions& options, const Progress& progress);

std::string build_name(Build build);
std::string seeds_name(Seeds seeds);
std::string to_json(const SimReport& report);
std::string to_table(const SimReport& report);

}  // namespace chord::sim
