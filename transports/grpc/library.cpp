#include "library.hpp"

#include <atomic>
#include <mutex>

#include <absl/synchronization/mutex.h>
#include <grpc/grpc.h>

namespace chord::grpc_transport {

namespace {
std::once_flag once;
std::atomic<bool> held{false};
}  // namespace

void hold_library() {
  std::call_once(once, [] {
    // Debian builds abseil without NDEBUG, which leaves its mutexes' deadlock detection on: every
    // lock of gRPC's internal mutexes updates a global lock graph under a global lock (2-3 % of a
    // gRPC node's CPU under load, docs/BENCHMARKS.md). It only reports bugs of gRPC's own.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    grpc_init();
    held = true;
  });
}

void release_library() {
  if (held.exchange(false)) grpc_shutdown_blocking();
}

}  // namespace chord::grpc_transport
