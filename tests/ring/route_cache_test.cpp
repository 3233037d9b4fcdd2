// The owners an access node found lately (include/chord/route_cache.hpp), on a simulated ring of
// real nodes: a put or get of a key on an arc a lookup named needs no lookup of its own while the
// entry lives (one stabilize interval: a round of the simulated clock); a write sent on an entry
// whose owner has died since goes to the key's next holder, and reads back from every node;
// `lookup` itself always routes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <vector>

#include "ring_helpers.hpp"

using namespace chord;

namespace {

struct CacheCase {
  sim::SimRing ring{sim::RingOptions{}};
  std::mt19937_64 rng{23};
  CacheCase() {
    test::joined_ring(ring, 8, rng);
  }
  Node& via() { return *ring.nodes().front(); }
  // Two keys whose owner is the same node, neither the access node nor the node just before it
  // (so that the lookup from the access node takes hops).
  std::pair<std::string, std::string> same_arc() {
    std::map<std::string, std::vector<std::string>> by_owner;  // owner uri -> keys
    for (int i = 0; i < 400; ++i) {
      auto key = "arc-" + std::to_string(i);
      auto owner = ring.true_owner(ring.ring().hash(key));
      if (owner.id == via().self().id) continue;
      auto& keys = by_owner[owner.uri];
      keys.push_back(key);
      if (keys.size() == 2 && !test::lookup(ring, via(), ring.ring().hash(key))->path.empty() &&
          test::lookup(ring, via(), ring.ring().hash(key))->hops > 0)
        return {keys[0], keys[1]};
    }
    FAIL("no two keys of one owner a hop away");
    return {};
  }
  // What key reads as through node n ("" when it does not read).
  std::string read(Node& n, const std::string& key) {
    auto r = test::get(ring, n, key);
    return r ? *r : std::string();
  }
  std::uint64_t calls_of(const std::function<void()>& op) {
    const auto before = ring.network().calls();
    op();
    return ring.network().calls() - before;
  }
};

}  // namespace

TEST_CASE("a put on an arc a lookup named lately takes no lookup, and lookup itself still routes") {
  CacheCase c;
  const auto keys = c.same_arc();  // named, not a structured binding: clang 14's lambdas cannot capture one
  const std::string& a = keys.first;
  const std::string& b = keys.second;
  const auto first = c.calls_of([&] { REQUIRE(test::put(c.ring, c.via(), a, "one")); });
  const auto second = c.calls_of([&] { REQUIRE(test::put(c.ring, c.via(), b, "two")); });
  INFO("first put " << first << " calls, second " << second);
  CHECK(second < first);
  const auto looked = test::lookup(c.ring, c.via(), c.ring.ring().hash(b));
  REQUIRE(looked);
  CHECK(looked->hops > 0);  // the Lookup RPC and the simulator's figures are Chord's own
  // Both are where any node reads them.
  for (auto& n : c.ring.nodes()) {
    CHECK(c.read(*n, a) == "one");
    CHECK(c.read(*n, b) == "two");
  }
  // The entry lives one stabilize interval: after a round of the clock, the next put routes.
  c.ring.round();
  const auto later = c.calls_of([&] { REQUIRE(test::put(c.ring, c.via(), b, "three")); });
  CHECK(later == first);
}

TEST_CASE("a put on the arc of an owner that died since takes the key's next holder") {
  CacheCase c;
  auto [a, b] = c.same_arc();
  REQUIRE(test::put(c.ring, c.via(), a, "cached"));
  const NodeRef old_owner = c.ring.true_owner(c.ring.ring().hash(b));
  for (auto& n : c.ring.nodes())
    if (n->self().id == old_owner.id) c.ring.kill(*n);
  // No round between: the entry still names the dead owner.
  auto r = test::put(c.ring, c.via(), b, "after the crash");
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);
  CHECK(r->owner.id != old_owner.id);
  REQUIRE(c.ring.stabilize(100, true));
  for (auto& n : c.ring.nodes())
    if (n->self().id != old_owner.id) CHECK(c.read(*n, b) == "after the crash");
}

TEST_CASE("an owner that answers it is leaving is forgotten: the next put routes again") {
  CacheCase c;
  const auto keys = c.same_arc();
  REQUIRE(test::put(c.ring, c.via(), keys.first, "cached"));
  const NodeRef owner = c.ring.true_owner(c.ring.ring().hash(keys.second));
  for (auto& n : c.ring.nodes())
    if (n->self().id == owner.id) n->begin_leave();
  // Its neighbours have not heard of the leave yet (no Leave was sent): a lookup names it too,
  // and the write is refused either way. What the cache changes is the number of calls.
  Result<StoreReply> r = make_error(Errc::internal, "unset");
  const auto on_entry = c.calls_of([&] { r = test::put(c.ring, c.via(), keys.second, "refused"); });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::not_ready);
  const auto routed = c.calls_of([&] { r = test::put(c.ring, c.via(), keys.second, "refused again"); });
  REQUIRE_FALSE(r);
  CHECK(routed > on_entry);  // a lookup first: the leaving owner's arc was forgotten
}

TEST_CASE("a put on an arc whose holders all left together since goes to the node that holds it now") {
  CacheCase c;
  const auto keys = c.same_arc();
  REQUIRE(test::put(c.ring, c.via(), keys.first, "cached"));
  // The owner and its two successors, the key's k = 3 holders, leave at the same moment (a
  // process's virtual nodes, or neighbours sent SIGTERM together) and are gone: the entry still
  // names all three.
  const auto sorted = c.ring.sorted_live();
  const NodeRef owner = c.ring.true_owner(c.ring.ring().hash(keys.second));
  const auto at = static_cast<std::size_t>(
      std::find_if(sorted.begin(), sorted.end(), [&](const NodeRef& n) { return n.id == owner.id; }) - sorted.begin());
  std::vector<NodeRef> holders;
  for (std::size_t i = 0; i < 3; ++i) holders.push_back(sorted[(at + i) % sorted.size()]);
  const NodeRef next = sorted[(at + 3) % sorted.size()];
  std::vector<Node*> leaving;
  for (auto& n : c.ring.nodes())
    for (const auto& h : holders)
      if (n->self().id == h.id && n.get() != &c.via()) leaving.push_back(n.get());
  REQUIRE(leaving.size() == 3);  // the ring is the same every run: its access node is no holder
  REQUIRE(c.ring.leave_together(leaving) == 0);
  auto r = test::put(c.ring, c.via(), keys.second, "after they left");
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);  // a fresh lookup, where the remembered holders all failed
  CHECK(r->owner.id == next.id);
  REQUIRE(c.ring.stabilize(100, true));
  for (auto& n : c.ring.live()) CHECK(c.read(*n, keys.second) == "after they left");
}
