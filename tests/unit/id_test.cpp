#include <catch2/catch.hpp>

#include "chord/id.hpp"
#include "chord/utf8.hpp"

using chord::Id;
using chord::in_half_open;
using chord::in_open;
using chord::Ring;

namespace {
Id id(std::uint64_t v) { return Id::from_uint(v); }
}  // namespace

TEST_CASE("open interval without wrap") {
  CHECK(in_open(id(2), id(1), id(3)));
  CHECK_FALSE(in_open(id(1), id(1), id(3)));
  CHECK_FALSE(in_open(id(3), id(1), id(3)));
  CHECK_FALSE(in_open(id(4), id(1), id(3)));
}

TEST_CASE("intervals that wrap past zero, m = 3") {
  // (6, 1) on a 3-bit ring is {7, 0}
  CHECK(in_open(id(7), id(6), id(1)));
  CHECK(in_open(id(0), id(6), id(1)));
  CHECK_FALSE(in_open(id(1), id(6), id(1)));
  CHECK_FALSE(in_open(id(6), id(6), id(1)));
  CHECK_FALSE(in_open(id(3), id(6), id(1)));
  // (6, 1] adds 1
  CHECK(in_half_open(id(1), id(6), id(1)));
  CHECK(in_half_open(id(0), id(6), id(1)));
  CHECK_FALSE(in_half_open(id(6), id(6), id(1)));
  CHECK_FALSE(in_half_open(id(2), id(6), id(1)));
}

TEST_CASE("degenerate intervals where both ends are one node") {
  // A node alone: (n, n] is the whole ring, (n, n) all but n.
  for (std::uint64_t x = 0; x < 8; ++x) {
    CHECK(in_half_open(id(x), id(5), id(5)));
    CHECK(in_open(id(x), id(5), id(5)) == (x != 5));
  }
}

TEST_CASE("finger starts are n + 2^(i-1) mod 2^m") {
  Ring ring(3);
  // The paper's node 3: fingers start at 4, 5, 7.
  CHECK(ring.finger_start(id(3), 1) == id(4));
  CHECK(ring.finger_start(id(3), 2) == id(5));
  CHECK(ring.finger_start(id(3), 3) == id(7));
  // Node 6 wraps: 7, 0, 2.
  CHECK(ring.finger_start(id(6), 1) == id(7));
  CHECK(ring.finger_start(id(6), 2) == id(0));
  CHECK(ring.finger_start(id(6), 3) == id(2));
  CHECK_THROWS(ring.finger_start(id(6), 4));
}

TEST_CASE("finger starts carry across bytes on a 160-bit ring") {
  Ring ring(160);
  auto max = ring.parse_hex(std::string(40, 'f'));
  REQUIRE(max);
  CHECK(ring.add_pow2(*max, 0) == id(0));  // wraps to zero
  auto a = ring.parse_hex("00000000000000000000000000000000000000ff");
  REQUIRE(a);
  CHECK(ring.hex(ring.add_pow2(*a, 0)) == "0000000000000000000000000000000000000100");
  CHECK(ring.hex(ring.add_pow2(id(0), 159)) == "8000000000000000000000000000000000000000");
}

TEST_CASE("ids are SHA-1 reduced mod 2^m") {
  Ring full(160);
  CHECK(full.hex(full.hash("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  Ring small(8);
  CHECK(small.hash("abc") == id(0x9d));  // the low 8 bits
  CHECK(small.hex(small.hash("abc")) == "9d");
  Ring odd(10);
  CHECK(odd.hash("abc") == id(0x09d));  // 0xd89d & 0x3ff
}

TEST_CASE("hex round trip and refusal of ids outside the ring") {
  Ring ring(12);
  CHECK(ring.hex(id(0xabc)) == "abc");
  CHECK(ring.parse_hex("abc") == id(0xabc));
  CHECK_FALSE(ring.parse_hex("1abc"));   // 13 bits
  CHECK_FALSE(ring.parse_hex("xyz"));
  CHECK_FALSE(ring.parse_hex(""));
  CHECK_THROWS(Ring(0));
  CHECK_THROWS(Ring(161));
}

TEST_CASE("byte form round trip") {
  Ring ring(160);
  auto a = ring.hash("node");
  auto b = Id::from_bytes(a.to_bytes());
  REQUIRE(b);
  CHECK(*b == a);
  CHECK_FALSE(Id::from_bytes("short"));
}

TEST_CASE("keys must be well-formed UTF-8") {
  CHECK(chord::is_utf8(""));
  CHECK(chord::is_utf8("plain ascii"));
  CHECK(chord::is_utf8("Schl\xc3\xbcssel \xe2\x82\xac \xf0\x9f\x94\x91"));  // ü, €, a key emoji
  CHECK_FALSE(chord::is_utf8("\xff"));
  CHECK_FALSE(chord::is_utf8("\xc3"));              // truncated
  CHECK_FALSE(chord::is_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(chord::is_utf8("\xed\xa0\x80"));      // a UTF-16 surrogate
  CHECK_FALSE(chord::is_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  CHECK_FALSE(chord::is_utf8("a\x80" "b"));            // a lone continuation byte
}
