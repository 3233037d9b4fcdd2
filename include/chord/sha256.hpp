#pragma once
// Incremental SHA-256 (OpenSSL EVP): values are hashed chunk by chunk as they stream.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "chord/messages.hpp"

namespace chord {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(std::string_view data);
  Digest finish();

  static Digest of(std::string_view data);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Lower-case hex of any bytes: digests, ids, nonces, MACs.
std::string hex_of_bytes(std::span<const std::uint8_t> bytes);
std::string to_hex(const Digest& d);
std::optional<Digest> digest_from_bytes(std::string_view bytes);
// 64 hex digits, either case.
std::optional<Digest> digest_from_hex(std::string_view hex);

}  // namespace chord
