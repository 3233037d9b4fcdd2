#include "chord/clock.hpp"

namespace chord {

namespace {
class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};
}  // namespace

std::shared_ptr<const Clock> steady_clock() {
  static const auto clock = std::make_shared<const SteadyClock>();
  return clock;
}

}  // namespace chord
