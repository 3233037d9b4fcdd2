#pragma once
// The time a node reads for suspicion, liveness samples and lost-successor retries. Processes use
// the steady clock; the simulator gives its nodes a clock that advances one stabilize interval
// per round, so that how long a peer stays suspected is counted in rounds, whatever the speed of
// the machine (under a sanitizer a round of 600 nodes takes seconds of real time).
#include <chrono>
#include <memory>

namespace chord {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

// The process's steady clock.
std::shared_ptr<const Clock> steady_clock();

// Time that moves only when told to.
class ManualClock final : public Clock {
 public:
  time_point now() const override { return now_; }
  void advance(std::chrono::steady_clock::duration d) { now_ += d; }

 private:
  time_point now_ = std::chrono::steady_clock::now();
};

}  // namespace chord
