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

// What the JSON of the timing commands prints: three decimals, and at least three significant
// digits below 1 (an in-process call takes microseconds).
inline double round3(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  const double decimals = std::max(3.0, 2.0 - std::floor(std::log10(std::fabs(v))));
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

}  // namespace chord::cli
