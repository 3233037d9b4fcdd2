#pragma once
// The cluster key: a secret every member of a ring holds. A node proves it on each call to a
// peer with an HMAC-SHA256 over the method, a digest of the request's bytes, a timestamp and a
// nonce; the peer checks the proof before it decodes the request, and refuses one it has seen
// (a replay) or one outside a short window of its own clock.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

#include "chord/result.hpp"

namespace chord {

class ClusterKey {
 public:
  static constexpr std::size_t kMinBytes = 32;
  // How far a proof's timestamp may be from this node's clock, either way.
  static constexpr std::chrono::seconds kWindow{30};
  // The header (HTTP), metadata (gRPC) or message header (AMQP) that carries the proof.
  static constexpr std::string_view kHeader = "chord-auth";

  // Reads the key from a file: at least kMinBytes bytes (a trailing newline is not part of it),
  // not readable by others. The errors say which rule the file breaks.
  static Result<std::shared_ptr<const ClusterKey>> load(const std::string& path);
  explicit ClusterKey(std::string secret, std::size_t remembered = 1 << 18);

  // The proof for one call: "v1.<unix ms>.<nonce>.<mac>".
  std::string sign(std::string_view method, std::string_view body) const;
  // unauthenticated unless proof is a fresh, unseen proof of this key for method and body.
  Result<void> verify(std::string_view method, std::string_view body, std::string_view proof) const;

 private:
  std::string mac(std::string_view method, std::int64_t ms, std::string_view nonce, std::string_view body) const;

  std::string secret_;
  std::size_t remembered_;
  // Nonces seen within the window, oldest first. When there are too many to remember, proofs no
  // newer than the last one forgotten are refused: replay protection stays exact.
  mutable std::mutex mu_;
  mutable std::unordered_set<std::string> seen_;
  mutable std::deque<std::pair<std::int64_t, std::string>> by_age_;
  mutable std::int64_t forgotten_until_ms_ = 0;
};

}  // namespace chord
