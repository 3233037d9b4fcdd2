#pragma once
// A connector's clients of its peers, by URI, dropped once nobody has asked for them for a while
// and nobody else holds them: a node that met thousands of peers over its life (churn, clients'
// access points) keeps channels and connections only for those it still calls. Not locked: the
// connector's mutex guards it.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace chord {

template <class Client>
class PeerCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit PeerCache(Clock::duration idle = std::chrono::minutes(5), std::function<void(const std::string& uri)> on_evict = {})
      : idle_(idle), on_evict_(std::move(on_evict)) {}

  // The client of uri, if one is cached; counts as a use.
  std::shared_ptr<Client> find(const std::string& uri) {
    sweep();
    auto it = entries_.find(uri);
    if (it == entries_.end()) return nullptr;
    it->second.used = Clock::now();
    return it->second.client;
  }
  void add(const std::string& uri, std::shared_ptr<Client> client) {
    entries_[uri] = Entry{std::move(client), Clock::now()};
  }
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [uri, e] : entries_) f(*e.client);
  }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::shared_ptr<Client> client;
    Clock::time_point used;
  };
  void sweep() {
    auto now = Clock::now();
    if (now < next_sweep_) return;
    next_sweep_ = now + idle_ / 4;
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (now - it->second.used >= idle_ && it->second.client.use_count() == 1) {
        if (on_evict_) on_evict_(it->first);
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  Clock::duration idle_;
  std::function<void(const std::string& uri)> on_evict_;
  std::map<std::string, Entry> entries_;
  Clock::time_point next_sweep_{};
};

}  // namespace chord
