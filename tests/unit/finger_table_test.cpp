#include <catch2/catch.hpp>

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
