#pragma once
// Latency samples of the timing commands (lookup --repeat, bench-client, bench-raw), summarized
// one way everywhere.
#include <algorithm>
#include <cmath>
#include <vector>

namespace chord::cli {

class Latencies {
 public:
  explicit Latencies(std::vector<double> ms) : ms_(std::move(ms)) { std::sort(ms_.begin(), ms_.end()); }
  // The p-th percentile in ms (nearest rank); the samples must not be empty.
  double percentile(double p) const {
    auto at = static_cast<std::size_t>(p / 100.0 * static_cast<double>(ms_.size()));
    return ms_[std::min(ms_.size() - 1, at)];
  }
  std::size_t size() const { return ms_.size(); }

 private:
  std::vector<double> ms_;
};

// Three decimals: what the JSON of the timing commands prints.
inline double round3(double v) { return std::round(v * 1000) / 1000; }

}  // namespace chord::cli
