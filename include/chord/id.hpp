#pragma once
// Ring identifiers. An Id is an unsigned integer below 2^m (m <= 160) kept as 20 big-endian
// bytes, so that byte order is numeric order and every interval test is a comparison.
#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace chord {

class Id {
 public:
  static constexpr std::size_t kBytes = 20;
  static constexpr unsigned kMaxBits = 160;

  constexpr Id() = default;
  explicit Id(const std::array<std::uint8_t, kBytes>& bytes) : bytes_(bytes) {}
  static Id from_uint(std::uint64_t v);
  // 20 big-endian bytes; nullopt for any other length.
  static std::optional<Id> from_bytes(std::string_view bytes);

  const std::array<std::uint8_t, kBytes>& bytes() const { return bytes_; }
  std::string to_bytes() const { return {reinterpret_cast<const char*>(bytes_.data()), kBytes}; }
  // Value of the low 64 bits; ids of teaching rings fit in it.
  std::uint64_t low64() const;
  // The number of bits the id needs as an unsigned number (0 for zero): 2^(k-1) <= id < 2^k.
  unsigned bit_width() const;

  // By words, most significant first: every interval test and every routing step compares ids,
  // and the byte-wise default went through a call to memcmp each time (a fifth of a simulation's
  // time).
  friend std::strong_ordering operator<=>(const Id& a, const Id& b) noexcept {
    if (auto c = a.word64(0) <=> b.word64(0); c != 0) return c;
    if (auto c = a.word64(8) <=> b.word64(8); c != 0) return c;
    return a.word32(16) <=> b.word32(16);
  }
  // Spelled out rather than rewritten from <=>: routing's interval tests compare ids millions of
  // times a second in a simulation, and g++ called the three-way form out of line each time.
  friend bool operator<(const Id& a, const Id& b) noexcept {
    if (const auto x = a.word64(0), y = b.word64(0); x != y) return x < y;
    if (const auto x = a.word64(8), y = b.word64(8); x != y) return x < y;
    return a.word32(16) < b.word32(16);
  }
  friend bool operator>(const Id& a, const Id& b) noexcept { return b < a; }
  friend bool operator<=(const Id& a, const Id& b) noexcept { return !(b < a); }
  friend bool operator>=(const Id& a, const Id& b) noexcept { return !(a < b); }
  friend bool operator==(const Id& a, const Id& b) noexcept {
    return a.word64(0) == b.word64(0) && a.word64(8) == b.word64(8) && a.word32(16) == b.word32(16);
  }

 private:
  // The big-endian number in bytes [at, at + 8) or [at, at + 4).
  std::uint64_t word64(std::size_t at) const noexcept {
    std::uint64_t v;
    std::memcpy(&v, bytes_.data() + at, sizeof v);
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
    return v;
  }
  std::uint32_t word32(std::size_t at) const noexcept {
    std::uint32_t v;
    std::memcpy(&v, bytes_.data() + at, sizeof v);
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
    return v;
  }

  std::array<std::uint8_t, kBytes> bytes_{};
};

struct IdHash {
  std::size_t operator()(const Id& id) const noexcept {
    // Ids are SHA-1 outputs: any 8 bytes are already uniformly spread.
    std::size_t h = 0;
    for (std::size_t i = Id::kBytes - sizeof(h); i < Id::kBytes; ++i) h = (h << 8) | id.bytes()[i];
    return h;
  }
};

// The arc (a, b) on the ring, whether it wraps past zero decided once: a lookup step tests every
// candidate against one arc (deciding it per test was 2.5 % of a simulation's instructions).
// When a == b it is the whole ring but a.
class OpenArc {
 public:
  OpenArc(const Id& a, const Id& b) : a_(a), b_(b), wraps_(!(a < b)) {}
  bool contains(const Id& x) const { return wraps_ ? (a_ < x || x < b_) : (a_ < x && x < b_); }

 private:
  Id a_, b_;
  bool wraps_;
};
// Inline: routing asks these several times per candidate on every hop, and the call was a
// tenth of a simulation's instructions.
// x in (a, b) on the ring; when a == b this is the whole ring but a.
inline bool in_open(const Id& x, const Id& a, const Id& b) { return OpenArc(a, b).contains(x); }
// x in (a, b] on the ring; when a == b this is the whole ring.
inline bool in_half_open(const Id& x, const Id& a, const Id& b) {
  if (a < b) return a < x && x <= b;
  return x > a || x <= b;
}

// The identifier space of one ring: 2^bits ids.
class Ring {
 public:
  explicit Ring(unsigned bits = Id::kMaxBits);
  unsigned bits() const { return bits_; }

  // SHA-1 of text, reduced mod 2^bits: a node's id from its URI, a key's id from the key.
  Id hash(std::string_view text) const;
  // Reduces an arbitrary 160-bit value mod 2^bits.
  Id reduce(Id id) const;
  bool contains(const Id& id) const { return reduce(id) == id; }
  // (a + 2^k) mod 2^bits, k < bits.
  Id add_pow2(const Id& a, unsigned k) const;
  // Start of finger i (1-based, as in the paper): (n + 2^(i-1)) mod 2^bits.
  Id finger_start(const Id& n, unsigned i) const { return add_pow2(n, i - 1); }
  // (b - a) mod 2^bits: how far b lies clockwise from a.
  Id distance(const Id& a, const Id& b) const;
  // The last finger i (1-based) whose start lies in (n, s]: every finger from 1 to it names s
  // once s is n's successor. m when s is n itself, where (n, n] is the whole ring.
  unsigned last_finger_within(const Id& n, const Id& s) const;

  // Hex with ceil(bits/4) digits; short_hex keeps the leading 8 of them.
  std::string hex(const Id& id) const;
  std::string short_hex(const Id& id) const;
  // Parses what hex() prints (any width up to the ring's); nullopt if not an id of this ring.
  std::optional<Id> parse_hex(std::string_view text) const;

 private:
  unsigned bits_;
};

}  // namespace chord
