#pragma once
// Calls in flight across the peers of one connector, so that closing it can wait for them: a
// completion that arrived after the node's executor was gone would run on freed memory.
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace chord::unary {

class Inflight {
 public:
  bool enter() {  // false once closed: the call must not start
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    ++count_;
    return true;
  }
  void leave() {
    std::lock_guard lock(mutex_);
    if (--count_ == 0) drained_.notify_all();
  }
  void close() {  // later enter() calls fail
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  // Waits until no call is in flight, at most limit; false if some still are.
  bool wait(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return drained_.wait_for(lock, limit, [&] { return count_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable drained_;
  int count_ = 0;
  bool closed_ = false;
};

// Leaves on scope exit.
struct InflightGuard {
  Inflight& f;
  ~InflightGuard() { f.leave(); }
};

}  // namespace chord::unary
