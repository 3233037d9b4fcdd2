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
