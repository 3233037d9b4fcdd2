#include "chord/peer_rate.hpp"

#include <algorithm>

namespace chord {

PeerRate::PeerRate(double per_second, double burst, std::size_t max_peers)
    : per_second_(per_second), burst_(std::max(1.0, burst)), max_peers_(max_peers) {}

bool PeerRate::allow(std::string_view peer, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(std::string(peer));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_peers_) {
      // A bucket refilled to the brim holds nothing worth keeping.
      std::erase_if(buckets_, [&](const auto& kv) {
        return kv.second.tokens + std::chrono::duration<double>(now - kv.second.last).count() * per_second_ >= burst_;
      });
      if (buckets_.size() >= max_peers_) return true;
    }
    it = buckets_.emplace(std::string(peer), Bucket{burst_, now}).first;
  }
  auto& b = it->second;
  b.tokens = std::min(burst_, b.tokens + std::chrono::duration<double>(now - b.last).count() * per_second_);
  b.last = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

}  // namespace chord
