#include <catch2/catch.hpp>

#include <algorithm>
#include <compare>
#include <random>

#include <fmt/format.h>

#include "chord/id.hpp"
#include "chord/messages.hpp"
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

TEST_CASE("the last finger whose start lies before a node is the one a per-entry scan stops at") {
  // Against the scan fix_fingers made before: every pair of ids of a 7-bit ring, and random
  // pairs of a 160-bit one, where the distance borrows across bytes.
  auto scan = [](const Ring& ring, const Id& n, const Id& s) {
    unsigned last = 0;
    for (unsigned i = 1; i <= ring.bits() && in_half_open(ring.finger_start(n, i), n, s); ++i) last = i;
    return last;
  };
  Ring small(7);
  for (std::uint64_t n = 0; n < 128; ++n)
    for (std::uint64_t s = 0; s < 128; ++s) REQUIRE(small.last_finger_within(id(n), id(s)) == scan(small, id(n), id(s)));
  Ring full(160);
  for (int k = 0; k < 500; ++k) {
    const Id n = full.hash("n" + std::to_string(k)), s = full.hash("s" + std::to_string(k));
    REQUIRE(full.last_finger_within(n, s) == scan(full, n, s));
    CHECK(full.add_pow2(n, 0) != n);
  }
  CHECK(full.distance(id(5), id(3)) == *full.parse_hex(std::string(39, 'f') + "e"));  // -2 mod 2^160
  CHECK(full.distance(id(3), id(5)) == id(2));
  CHECK(id(0).bit_width() == 0);
  CHECK(id(1).bit_width() == 1);
  CHECK(full.add_pow2(id(0), 159).bit_width() == 160);
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

TEST_CASE("ids order as their 20 big-endian bytes, whichever byte differs") {
  std::mt19937_64 rng(7);
  auto random_id = [&] {
    std::array<std::uint8_t, Id::kBytes> b{};
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return Id(b);
  };
  for (int n = 0; n < 2000; ++n) {
    Id a = random_id();
    auto bytes = a.bytes();
    // A second id that differs from the first in one byte only, at every position in turn (the
    // word compare must get the boundaries of its 8-, 8- and 4-byte words right).
    const auto at = static_cast<std::size_t>(n % Id::kBytes);
    bytes[at] = static_cast<std::uint8_t>(rng());
    Id b(bytes);
    const auto want = std::lexicographical_compare_three_way(a.bytes().begin(), a.bytes().end(), b.bytes().begin(),
                                                             b.bytes().end());
    CHECK((a <=> b) == want);
    CHECK((a == b) == (a.bytes() == b.bytes()));
    Id c = random_id();
    CHECK((a <=> c) == std::lexicographical_compare_three_way(a.bytes().begin(), a.bytes().end(), c.bytes().begin(),
                                                              c.bytes().end()));
  }
}

TEST_CASE("a NodeRef's URI is shared by its copies and reads as the string it was made from") {
  chord::NodeRef a{id(1), std::string("inproc://a-node-with-a-long-name")};
  chord::NodeRef b = a;
  CHECK(&a.uri.str() == &b.uri.str());  // one string, not a copy
  CHECK(b.uri == "inproc://a-node-with-a-long-name");
  CHECK(b.uri == std::string("inproc://a-node-with-a-long-name"));
  CHECK(b.uri == chord::NodeUri("inproc://a-node-with-a-long-name"));  // equal text, made apart
  CHECK_FALSE(b.uri == "inproc://another");
  CHECK(fmt::format("<{}>", b.uri) == "<inproc://a-node-with-a-long-name>");
  chord::NodeRef empty;
  CHECK(empty.uri.empty());
  CHECK(empty.uri.str().empty());
  CHECK(chord::NodeUri(std::string()).empty());
  CHECK_FALSE(empty == a);
  b.uri = "inproc://b";
  CHECK(a.uri == "inproc://a-node-with-a-long-name");  // assigning one copy leaves the others
}

TEST_CASE("a pinned URI is one string per text for the process, and reads as a counted one does") {
  const std::string text = "inproc://a-pinned-node-with-a-long-name";
  auto a = chord::NodeUri::pinned(text);
  {
    auto b = chord::NodeUri::pinned(std::string(text));  // made apart: the same string
    CHECK(&a.str() == &b.str());
    chord::NodeUri c = b;
    c = a;
    CHECK(&c.str() == &a.str());
  }
  CHECK(a == text);  // every copy gone, the string stays
  CHECK(a == chord::NodeUri(text));
  CHECK_FALSE(a == chord::NodeUri::pinned("inproc://another-pinned-node"));
  CHECK(chord::NodeUri::pinned("").empty());
  chord::NodeUri counted = text;
  counted = a;  // a counted URI replaced by a pinned one, and back
  CHECK(counted == text);
  counted = chord::NodeUri("inproc://counted-again");
  CHECK(counted == "inproc://counted-again");
  chord::NodeUri moved = std::move(counted);
  CHECK(moved == "inproc://counted-again");
  CHECK(counted.empty());  // NOLINT: a moved-from URI is empty
  CHECK(a.route() != nullptr);
}
