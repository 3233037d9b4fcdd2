#pragma once
// The time a node reads for suspicion, liveness samples and lost-successor retries. Processes use
// the steady clock; the simulator gives its nodes a clock that advances one stabilize interval
// per round, so that how long a peer stays suspected is counted in rounds, whatever the speed of
// the machine (under a sanitizer a round of 600 nodes takes seconds of real time).
#include <chrono>
#include <cstdint>
#include <memory>

namespace chord {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
  // Milliseconds since the Unix epoch: the physical part of the versions a node gives.
  virtual std::uint64_t wall_ms() const = 0;
};

// The process's steady clock.
std::shared_ptr<const Clock> steady_clock();

// A write's not_after_ms (see StoreRequest) for a sender that waits `wait` from now by `clock`.
inline std::uint64_t not_after(std::chrono::milliseconds wait, const Clock& clock = *steady_clock()) {
  return clock.wall_ms() + static_cast<std::uint64_t>(wait.count());
}

// Time that moves only when told to.
class ManualClock final : public Clock {
 public:
  time_point now() const override { return now_; }
  std::uint64_t wall_ms() const override {
    return kEpochMs + static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now_ - start_).count());
  }
  void advance(std::chrono::steady_clock::duration d) { now_ += d; }

 private:
  static constexpr std::uint64_t kEpochMs = 1'700'000'000'000;  // a fixed start: runs repeat exactly
  time_point start_ = std::chrono::steady_clock::now();
  time_point now_ = start_;
};

}  // namespace chord
