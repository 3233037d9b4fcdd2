#pragma once
// Every client call in flight, so that a Connector going away can cancel them and wait for
// their completions: a completion that arrived after the node's executor was gone would post
// into freed memory.
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include <grpcpp/client_context.h>

namespace chord::grpc_transport {

class CallTracker {
 public:
  // Registers a call; false once the connector is closing (the call must not start).
  bool add(const void* key, grpc::ClientContext* ctx, std::shared_ptr<void> owner) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    calls_[key] = Entry{ctx, std::move(owner)};
    return true;
  }
  // The call's last callback is done with everything the tracker knows of it. The call object
  // is destroyed here, before the entry goes: whoever waits in close_and_wait() may destroy the
  // executor the call's channels point to as soon as it sees no entry left.
  void remove(const void* key) {
    std::shared_ptr<void> last;
    {
      std::lock_guard lock(mutex_);
      auto it = calls_.find(key);
      if (it == calls_.end()) return;
      last = std::move(it->second.owner);
      it->second.ctx = nullptr;  // going: not to be cancelled any more
    }
    last.reset();
    std::lock_guard lock(mutex_);
    // A new call may have been made at the same address meanwhile: leave its entry alone.
    if (auto it = calls_.find(key); it != calls_.end() && !it->second.owner) calls_.erase(it);
    if (calls_.empty()) drained_.notify_all();
  }
  void close_and_wait() {
    std::unique_lock lock(mutex_);
    if (closed_ && calls_.empty()) return;
    closed_ = true;
    std::map<const void*, Entry> snapshot = calls_;  // owners keep every context alive
    lock.unlock();
    for (auto& [key, e] : snapshot)
      if (e.ctx) e.ctx->TryCancel();
    snapshot.clear();
    lock.lock();
    drained_.wait(lock, [&] { return calls_.empty(); });
  }

 private:
  struct Entry {
    grpc::ClientContext* ctx;
    std::shared_ptr<void> owner;
  };
  std::mutex mutex_;
  std::condition_variable drained_;
  std::map<const void*, Entry> calls_;
  bool closed_ = false;
};

}  // namespace chord::grpc_transport
