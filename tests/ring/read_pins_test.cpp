// A read's later ranges (FetchRequest::version, include/chord/read_pins.hpp) on a simulated ring
// of real nodes: the access node reads them from the holder the first range came from, in one
// call each, where the first range took a lookup and a quorum round; a holder that is gone or
// holds another version by then is passed by for a full read, and what comes is always the bytes
// of the version its header names.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <utility>

#include "chord/sha256.hpp"
#include "ring_helpers.hpp"

using namespace chord;

namespace {

constexpr std::uint64_t kPinRange = 1 << 20;

struct PinCase {
  sim::SimRing ring{sim::RingOptions{}};
  std::mt19937_64 rng{11};
  std::string key;
  PinCase() {
    test::joined_ring(ring, 5, rng);
    // A key that the access node does not hold, so that every range is read from elsewhere.
    for (int i = 0;; ++i) {
      key = "pinned-" + std::to_string(i);
      bool held = false;
      for (auto& h : holders())
        if (h->self().id == via().self().id) held = true;
      if (!held) break;
    }
  }
  Node& via() { return *ring.nodes().front(); }
  // The key's owner and its two successors.
  std::vector<Node*> holders() {
    std::vector<Node*> out;
    auto id = ring.true_owner(ring.ring().hash(key)).id;
    auto& all = ring.nodes();
    std::vector<Node*> sorted;
    for (auto& n : all) sorted.push_back(n.get());
    std::sort(sorted.begin(), sorted.end(), [](Node* a, Node* b) { return a->self().id < b->self().id; });
    auto at = std::find_if(sorted.begin(), sorted.end(), [&](Node* n) { return n->self().id == id; });
    for (std::size_t i = 0; i < 3; ++i) out.push_back(sorted[(static_cast<std::size_t>(at - sorted.begin()) + i) % sorted.size()]);
    return out;
  }
  void put(const std::string& value) { REQUIRE(test::put(ring, via(), key, value)); }
  // One range through the access node, as a REST or AMQP client asks for it; the calls it took.
  struct Range {
    Result<FetchReply> reply;
    std::string data;
    std::uint64_t calls;
  };
  Range range(std::uint64_t offset, std::optional<Version> version) {
    FetchRequest req{key, std::nullopt, Role::client, offset, kPinRange};
    req.version = version;
    StringSink sink(kPinRange);
    const auto before = ring.network().calls();
    auto r = ring.run(via().fetch(req, sink, std::chrono::milliseconds(1000)));
    return Range{std::move(r), sink.data(), ring.network().calls() - before};
  }
  // A value of `bytes` stored, and its first range read: the read the later ranges continue.
  std::pair<std::string, Range> stored_and_begun(std::size_t bytes) {
    auto value = test::random_bytes(bytes, rng);
    put(value);
    auto first = range(0, std::nullopt);
    REQUIRE(first.reply);
    CHECK(first.data == value.substr(0, kPinRange));
    return {std::move(value), std::move(first)};
  }
};

}  // namespace

TEST_CASE("a read's later ranges come from the first range's holder, one call each") {
  PinCase c;
  auto [value, first] = c.stored_and_begun(3 * kPinRange + 777);
  CHECK(first.calls >= 3);  // a lookup, R holders asked, the range fetched
  for (std::uint64_t offset = kPinRange; offset < value.size(); offset += kPinRange) {
    auto later = c.range(offset, first.reply->meta.version);
    REQUIRE(later.reply);
    CHECK(later.reply->holder.id == first.reply->holder.id);
    CHECK(later.reply->meta.version == first.reply->meta.version);
    CHECK(later.data == value.substr(offset, kPinRange));
    CHECK(later.calls == 1);
  }
  // Without the version, a later range is a full read again.
  auto unpinned = c.range(kPinRange, std::nullopt);
  REQUIRE(unpinned.reply);
  CHECK(unpinned.calls >= 3);
}

TEST_CASE("a later range whose holder is gone is read from another holder") {
  PinCase c;
  auto [value, first] = c.stored_and_begun(2 * kPinRange + 5);
  for (auto& n : c.ring.nodes())
    if (n->self().id == first.reply->holder.id) c.ring.kill(*n);
  auto later = c.range(kPinRange, first.reply->meta.version);
  INFO((later.reply ? std::string() : later.reply.error().message));
  REQUIRE(later.reply);
  CHECK(later.reply->holder.id != first.reply->holder.id);
  CHECK(later.reply->meta.version == first.reply->meta.version);
  CHECK(later.data == value.substr(kPinRange, kPinRange));
}

TEST_CASE("a later range of a version since replaced comes as the new version, its header says so") {
  PinCase c;
  auto [old_value, first] = c.stored_and_begun(3 * kPinRange);
  const auto new_value = test::random_bytes(2 * kPinRange + 99, c.rng);
  c.put(new_value);
  REQUIRE(c.ring.stabilize(20, true));  // the third copy too, past the write quorum
  auto later = c.range(kPinRange, first.reply->meta.version);
  REQUIRE(later.reply);
  // Every holder took the new write: the pinned one has it too, so the range is a full read,
  // which answers with the newest version; a client sees the change in the header.
  CHECK(later.reply->meta.version != first.reply->meta.version);
  CHECK(later.reply->meta.size == new_value.size());
  CHECK(later.reply->meta.sha256 == Sha256::of(new_value));
  CHECK(later.data == new_value.substr(kPinRange, kPinRange));
  CHECK(later.calls >= 3);
}
