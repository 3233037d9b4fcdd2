#pragma once
// Which holder an access node read a value's version from, for the read's later ranges. A client
// of a one-message-per-call transport (REST, AMQP) reads a big value as ranges of a chunk, each
// its own call; without this every range was a lookup and a round of R holders again (on AMQP
// each a broker round trip: docs/BENCHMARKS.md, the fourth run of 2026-12-07). A range that
// names the version its first range returned (FetchRequest::version) is read from the holder
// remembered here, checked to be that version. A pin is a hint, never an answer: one that is
// missing, expired or wrong only costs the full read it replaces.
#include <chrono>
#include <cstddef>
#include <optional>
#include <unordered_map>

#include "chord/clock.hpp"
#include "chord/id.hpp"
#include "chord/messages.hpp"

namespace chord {

class ReadPins {
 public:
  // By the node's clock (chord/clock.hpp): in the simulator, rounds.
  using time_point = Clock::time_point;
  struct Pin {
    Version version;
    NodeRef holder;
    Role role = Role::replica;  // how the holder was asked
    time_point used;
  };

  // A pin lasts this long after its last use: a range of a chunk takes milliseconds, and a
  // reader slower than this reads its next range as a new read.
  static constexpr std::chrono::seconds kIdle{10};
  // Reads remembered at once; past it the pins unused longest go first.
  static constexpr std::size_t kMaxPins = 256;

  void remember(const Id& key_id, Pin pin) {
    if (!pins_.contains(key_id) && pins_.size() >= kMaxPins) evict(pin.used);
    pins_[key_id] = std::move(pin);
  }

  // The holder of exactly this version of the key, if one is remembered and fresh.
  std::optional<Pin> find(const Id& key_id, const Version& version, time_point now) {
    auto it = pins_.find(key_id);
    if (it == pins_.end()) return std::nullopt;
    if (it->second.version != version || now - it->second.used > kIdle) return std::nullopt;
    it->second.used = now;
    return it->second;
  }

  void forget(const Id& key_id) { pins_.erase(key_id); }
  std::size_t size() const { return pins_.size(); }

 private:
  void evict(time_point now) {
    std::erase_if(pins_, [&](const auto& p) { return now - p.second.used > kIdle; });
    if (pins_.size() < kMaxPins) return;
    auto oldest = pins_.begin();
    for (auto it = pins_.begin(); it != pins_.end(); ++it)
      if (it->second.used < oldest->second.used) oldest = it;
    pins_.erase(oldest);
  }

  std::unordered_map<Id, Pin, IdHash> pins_;
};

}  // namespace chord
