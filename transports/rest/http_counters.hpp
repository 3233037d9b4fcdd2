#pragma once
// An HTTP listener's connection counts, apart from the server so that /metrics needs no Beast.
#include <cstddef>
#include <cstdint>

namespace chord::rest {

// What a listener has seen, for /metrics.
struct HttpCounters {
  std::size_t open = 0;              // connections open now
  std::uint64_t accepted = 0;        // ever
  std::uint64_t at_limit = 0;        // times accepting paused at max_connections
  std::uint64_t accept_errors = 0;   // EMFILE and the like
};

}  // namespace chord::rest
