#pragma once
// A per-peer rate limit of calls (issue 14): a token bucket for each caller (an IP address; on
// AMQP a connection's reply queue), so that one noisy peer is refused while the others are
// served. Members of a keyed ring (callers that prove the cluster key) are never limited: ring
// maintenance must not starve; the limit is for everyone else.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chord {

class PeerRate {
 public:
  using Clock = std::chrono::steady_clock;
  // per_second calls sustained per peer, burst at once; max_peers buckets kept (past it, the
  // buckets of peers quiet for a while are dropped, and a peer beyond that is let through: the
  // transports' connection limits bound a crowd of distinct peers).
  PeerRate(double per_second, double burst, std::size_t max_peers = 1 << 16);
  // Takes one call's token; false when the peer is over its rate. Any thread.
  bool allow(std::string_view peer, Clock::time_point now = Clock::now());
  double per_second() const { return per_second_; }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  double per_second_;
  double burst_;
  std::size_t max_peers_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace chord
