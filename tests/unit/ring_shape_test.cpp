#include <catch2/catch.hpp>

#include "views.hpp"

using namespace chord;

namespace {

NodeRef ref(std::uint64_t v) { return NodeRef{Id::from_uint(v), "inproc://n" + std::to_string(v)}; }

// A closed walk through ids in the order given: each node's successor is the next, and its
// predecessor the one before.
views::RingWalk walk_of(const std::vector<std::uint64_t>& order) {
  views::RingWalk w;
  for (std::size_t k = 0; k < order.size(); ++k) {
    NodeInfo n;
    n.self = ref(order[k]);
    n.predecessor = ref(order[(k + order.size() - 1) % order.size()]);
    n.successors = {ref(order[(k + 1) % order.size()])};
    w.nodes.push_back(n);
  }
  return w;
}

}  // namespace

TEST_CASE("a ring walk is settled only once round the circle in id order, each predecessor the node before") {
  auto settled = views::shape(walk_of({30, 50, 70, 10}));
  CHECK(settled.winds == 1);
  CHECK(settled.settled);

  // The paper's loopy state: every node on one cycle that winds round the circle twice.
  auto loopy = views::shape(walk_of({10, 30, 50, 20, 40, 60}));
  CHECK(loopy.winds == 2);
  CHECK_FALSE(loopy.settled);

  // Once round, but a predecessor pointer still names a node further back.
  auto lagging = walk_of({10, 20, 30, 40});
  lagging.nodes[2].predecessor = ref(10);
  CHECK(views::shape(lagging).winds == 1);
  CHECK_FALSE(views::shape(lagging).settled);

  // Not closed: the last node's successor is not the first (a walk cut by --limit, or one that
  // ran into a cycle without the start on it), or broken by a peer that did not answer.
  auto open = walk_of({10, 20, 30});
  open.nodes.back().successors = {ref(20)};
  CHECK(views::shape(open).winds == 0);
  CHECK_FALSE(views::shape(open).settled);
  auto broken = walk_of({10, 20, 30});
  broken.broken = make_error(Errc::unavailable, "no answer");
  CHECK_FALSE(views::shape(broken).settled);

  // A ring of one: no successor but itself.
  views::RingWalk one;
  NodeInfo n;
  n.self = ref(5);
  one.nodes.push_back(n);
  CHECK(views::shape(one).settled);
}
