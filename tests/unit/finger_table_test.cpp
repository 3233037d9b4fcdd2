#include <catch2/catch.hpp>

#include <random>

#include "chord/finger_table.hpp"

using namespace chord;

namespace {
NodeRef node(std::uint64_t v) { return NodeRef{Id::from_uint(v), "inproc://" + std::to_string(v)}; }
}  // namespace

TEST_CASE("finger table keeps m entries and forgets failed nodes") {
  Ring ring(3);
  FingerTable f(ring, Id::from_uint(3));
  CHECK(f.size() == 3);
  CHECK_FALSE(f.known(1));
  f.set(1, node(6));
  f.set(2, node(6));
  f.set(3, node(0));
  auto d = f.distinct();
  REQUIRE(d.size() == 2);
  CHECK(d[0].index == 1);
  CHECK(d[0].start == Id::from_uint(4));
  CHECK(d[1].index == 3);
  CHECK(d[1].node == node(0));
  f.forget(Id::from_uint(6));
  CHECK_FALSE(f.known(1));
  CHECK_FALSE(f.known(2));
  CHECK(f.known(3));
}

TEST_CASE("finger table keeps one run per stretch of entries that name one node") {
  Ring ring(8);
  FingerTable f(ring, Id::from_uint(0));
  // Filled out of order, as fix_fingers and a build from the true ring do.
  for (unsigned i : {8u, 1u, 2u, 5u, 3u, 4u, 6u, 7u}) f.set(i, node(i <= 4 ? 16 : 200));
  REQUIRE(f.runs().size() == 2);
  CHECK(f.runs()[0].first == 1);
  CHECK(f.runs()[0].last == 4);
  CHECK(f.runs()[1].first == 5);
  CHECK(f.runs()[1].last == 8);
  // A new node in the middle of a run splits it; setting it back merges the three again.
  f.set(3, node(5));
  REQUIRE(f.runs().size() == 4);
  CHECK(f.node(2) == node(16));
  CHECK(f.node(3) == node(5));
  CHECK(f.node(4) == node(16));
  f.set(3, node(16));
  REQUIRE(f.runs().size() == 2);
  CHECK(f.runs()[0].last == 4);
  // Setting an entry to what it holds changes nothing; an empty node clears the entry.
  f.set(6, node(200));
  CHECK(f.runs().size() == 2);
  f.set(8, NodeRef{});
  CHECK_FALSE(f.known(8));
  CHECK(f.node(7) == node(200));
  f.set(1, NodeRef{});
  CHECK_FALSE(f.known(1));
  CHECK(f.node(2) == node(16));
  // The ends of runs: a run shrinks from either end and grows back.
  f.set(5, node(16));
  CHECK(f.runs()[0].first == 2);
  CHECK(f.runs()[0].last == 5);
  CHECK(f.runs()[1].first == 6);
  f.forget(Id::from_uint(16));
  REQUIRE(f.runs().size() == 1);
  for (unsigned i = 1; i <= 5; ++i) CHECK_FALSE(f.known(i));
  CHECK_THROWS_AS(f.node(0), std::out_of_range);
  CHECK_THROWS_AS(f.set(9, node(1)), std::out_of_range);
  auto d = f.distinct();
  REQUIRE(d.size() == 1);
  CHECK(d[0].index == 6);
}

TEST_CASE("successor list drops self and duplicates and keeps r entries") {
  SuccessorList s(node(1), 3);
  CHECK(s.first() == node(1));  // alone: its own successor
  s.assign(node(2), {node(3), node(1), node(3), node(4), node(5)});
  REQUIRE(s.nodes().size() == 3);
  CHECK(s.nodes()[0] == node(2));
  CHECK(s.nodes()[1] == node(3));
  CHECK(s.nodes()[2] == node(4));
  s.push_front(node(7));
  CHECK(s.first() == node(7));
  CHECK(s.nodes().size() == 3);
  CHECK_FALSE(s.contains(Id::from_uint(4)));
  CHECK(s.remove(Id::from_uint(7)));
  CHECK_FALSE(s.remove(Id::from_uint(7)));
  CHECK(s.first() == node(2));
}

TEST_CASE("a successor list reassigned takes the new list whole: the same one, a shorter one, a new URI, another order") {
  SuccessorList s(node(1), 3);
  s.assign(node(2), {node(3), node(4)});
  const std::vector<NodeRef> settled{node(2), node(3), node(4)};
  s.assign(node(2), {node(3), node(1), node(3), node(4), node(5)});  // the same, after take()'s rules
  CHECK(s.nodes() == settled);
  s.assign(node(2), {node(3)});  // shorter: the list shrinks
  CHECK(s.nodes() == std::vector<NodeRef>{node(2), node(3)});
  s.assign(node(2), {node(3), node(4)});
  NodeRef moved{Id::from_uint(3), std::string("inproc://moved")};
  s.assign(node(2), {moved, node(4)});  // one id at a new URI: the URI is taken
  REQUIRE(s.nodes().size() == 3);
  CHECK(s.nodes()[1].uri == "inproc://moved");
  s.assign(node(2), {node(3), node(4)});
  CHECK(s.nodes() == settled);
  s.assign(node(5), {node(2), node(3)});  // another order
  CHECK(s.nodes() == std::vector<NodeRef>{node(5), node(2), node(3)});
}

TEST_CASE("a stretch of fingers set at once reads as the same entries set one by one") {
  // A model check: random stretches on tables of 12 entries, against set() per entry, for the
  // runs that result and for whether any entry of the stretch named another node before.
  Ring ring(12);
  std::mt19937 rng(7);
  for (int table = 0; table < 200; ++table) {
    FingerTable ranged(ring, Id::from_uint(5)), single(ring, Id::from_uint(5));
    for (int step = 0; step < 30; ++step) {
      const unsigned first = 1 + rng() % 12;
      const unsigned last = first + rng() % (13 - first);
      const NodeRef n = node(rng() % 4);
      bool differed = false;
      for (unsigned j = first; j <= last; ++j) differed = differed || !single.known(j) || single.node(j).id != n.id;
      for (unsigned j = first; j <= last; ++j) single.set(j, n);
      CHECK(ranged.set_range(first, last, n) == differed);
      if (rng() % 5 == 0) {  // a failure between stretches, as fix_fingers meets them
        const Id gone = node(rng() % 4).id;
        ranged.forget(gone);
        single.forget(gone);
      }
      REQUIRE(ranged.runs().size() == single.runs().size());
      for (std::size_t k = 0; k < ranged.runs().size(); ++k) {
        CHECK(ranged.runs()[k].first == single.runs()[k].first);
        CHECK(ranged.runs()[k].last == single.runs()[k].last);
        CHECK(ranged.runs()[k].node == single.runs()[k].node);
      }
    }
  }
  FingerTable f(ring, Id::from_uint(5));
  CHECK_THROWS(f.set_range(0, 3, node(1)));
  CHECK_THROWS(f.set_range(3, 13, node(1)));
  CHECK_THROWS(f.set_range(3, 4, NodeRef{}));
}
