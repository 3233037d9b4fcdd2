#include "library.hpp"

#include <atomic>
#include <mutex>

#include <grpc/grpc.h>

namespace chord::grpc_transport {

namespace {
std::once_flag once;
std::atomic<bool> held{false};
}  // namespace

void hold_library() {
  std::call_once(once, [] {
    grpc_init();
    held = true;
  });
}

void release_library() {
  if (held.exchange(false)) grpc_shutdown_blocking();
}

}  // namespace chord::grpc_transport
