#pragma once
// What every store checks of a value on its way in: never more bytes than announced, and on
// commit exactly the announced size and SHA-256.
#include <fmt/format.h>

#include "chord/messages.hpp"
#include "chord/result.hpp"
#include "chord/sha256.hpp"

namespace chord {

// A store keeps only the newest version of a key: a write that is not newer than what is held
// (a replay, a late replica push, a returning node's old copy) is refused and changes nothing.
inline Result<void> check_newer(const ValueMeta& incoming, const ValueMeta* held) {
  if (!held || held->version < incoming.version) return {};
  return make_error(Errc::conflict,
                    fmt::format("'{}' is held at version {}; version {} is not newer", incoming.key,
                                held->version.hlc, incoming.version.hlc));
}

// A chunk that would take a value past the size its header announced.
inline Error longer_than_announced(const ValueMeta& meta) {
  return make_error(Errc::invalid_argument,
                    fmt::format("value '{}' is longer than the {} bytes announced", meta.key, meta.size));
}

class ValueCheck {
 public:
  explicit ValueCheck(const ValueMeta& meta) : meta_(meta) {}

  // Counts and hashes chunk, or refuses it if it would pass the announced size.
  Result<void> admit(std::string_view chunk) {
    if (seen_ + chunk.size() > meta_.size) return longer_than_announced(meta_);
    hash_.update(chunk);
    seen_ += chunk.size();
    return {};
  }

  Result<void> verify() {
    if (seen_ != meta_.size)
      return make_error(Errc::invalid_argument,
                        fmt::format("value '{}' ended after {} of {} bytes", meta_.key, seen_, meta_.size));
    if (hash_.finish() != meta_.sha256)
      return make_error(Errc::data_loss, fmt::format("value '{}' does not match its SHA-256", meta_.key));
    return {};
  }

  const ValueMeta& meta() const { return meta_; }

 private:
  ValueMeta meta_;
  Sha256 hash_;
  std::uint64_t seen_ = 0;
};

}  // namespace chord
