#include "chord/id.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "chord/sha256.hpp"
#include "digests.hpp"

namespace chord {

Id Id::from_uint(std::uint64_t v) {
  std::array<std::uint8_t, kBytes> b{};
  for (std::size_t i = 0; i < 8; ++i) b[kBytes - 1 - i] = static_cast<std::uint8_t>(v >> (8 * i));
  return Id(b);
}

std::optional<Id> Id::from_bytes(std::string_view bytes) {
  if (bytes.size() != kBytes) return std::nullopt;
  std::array<std::uint8_t, kBytes> b{};
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(b.data()));
  return Id(b);
}

std::uint64_t Id::low64() const {
  std::uint64_t v = 0;
  for (std::size_t i = kBytes - 8; i < kBytes; ++i) v = (v << 8) | bytes_[i];
  return v;
}

unsigned Id::bit_width() const {
  for (std::size_t i = 0; i < kBytes; ++i)
    if (bytes_[i] != 0) return static_cast<unsigned>(8 * (kBytes - i - 1)) + static_cast<unsigned>(std::bit_width(bytes_[i]));
  return 0;
}

Ring::Ring(unsigned bits) : bits_(bits) {
  if (bits < 1 || bits > Id::kMaxBits)
    throw std::invalid_argument(fmt::format("ring bits must be in 1..{}, got {}", Id::kMaxBits, bits));
}

Id Ring::hash(std::string_view text) const {
  std::array<std::uint8_t, Id::kBytes> digest{};
  unsigned len = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &len, digests::sha1(), nullptr) != 1 ||
      len != Id::kBytes)
    throw std::runtime_error("SHA-1 digest failed");
  return reduce(Id(digest));
}

Id Ring::reduce(Id id) const {
  if (bits_ == Id::kMaxBits) return id;  // every lookup step checks its key this way
  auto b = id.bytes();
  const unsigned clear = Id::kMaxBits - bits_;  // high bits to clear
  for (unsigned i = 0; i < clear / 8; ++i) b[i] = 0;
  if (clear % 8) b[clear / 8] &= static_cast<std::uint8_t>(0xFFu >> (clear % 8));
  return Id(b);
}

Id Ring::add_pow2(const Id& a, unsigned k) const {
  if (k >= bits_) throw std::out_of_range(fmt::format("2^{} is outside a {}-bit ring", k, bits_));
  auto b = a.bytes();
  int byte = static_cast<int>(Id::kBytes) - 1 - static_cast<int>(k / 8);
  unsigned carry = 1u << (k % 8);
  for (; byte >= 0 && carry; --byte) {
    unsigned sum = b[byte] + carry;
    b[byte] = static_cast<std::uint8_t>(sum);
    carry = sum >> 8;
  }
  return reduce(Id(b));  // drops the carry out of bit m-1: arithmetic mod 2^m
}

Id Ring::distance(const Id& a, const Id& b) const {
  std::array<std::uint8_t, Id::kBytes> out{};
  unsigned borrow = 0;
  for (int i = static_cast<int>(Id::kBytes) - 1; i >= 0; --i) {
    const int d = int{b.bytes()[i]} - int{a.bytes()[i]} - static_cast<int>(borrow);
    borrow = d < 0 ? 1 : 0;
    out[i] = static_cast<std::uint8_t>(d + (d < 0 ? 256 : 0));
  }
  return reduce(Id(out));  // a borrow out of the top is the wrap past zero: mod 2^m
}

unsigned Ring::last_finger_within(const Id& n, const Id& s) const {
  // The start of finger i is n + 2^(i-1), in (n, s] exactly when 2^(i-1) <= s - n.
  const unsigned width = distance(n, s).bit_width();
  return width == 0 ? bits_ : width;
}

std::string Ring::hex(const Id& id) const {
  const std::string all = hex_of_bytes(id.bytes());
  return all.substr(all.size() - (bits_ + 3) / 4);
}

std::string Ring::short_hex(const Id& id) const { return hex(id).substr(0, 8); }

std::optional<Id> Ring::parse_hex(std::string_view text) const {
  if (text.empty() || text.size() > 2 * Id::kBytes) return std::nullopt;
  std::array<std::uint8_t, Id::kBytes> b{};
  std::size_t nibble = 0;  // counted from the least significant end
  for (auto it = text.rbegin(); it != text.rend(); ++it, ++nibble) {
    char c = *it;
    unsigned v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return std::nullopt;
    b[Id::kBytes - 1 - nibble / 2] |= static_cast<std::uint8_t>(nibble % 2 ? v << 4 : v);
  }
  Id id(b);
  if (!contains(id)) return std::nullopt;
  return id;
}

}  // namespace chord
