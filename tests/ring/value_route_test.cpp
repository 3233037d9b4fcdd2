// The CLI's routes for values (src/cli/value_route.cpp) on a simulated ring of real nodes: a big
// value goes to its owner, and when that fails as a peer fails, mid-way, the whole value goes again
// through the access node from its first byte; any other failure is the put's answer. A big get
// whose holder is gone after the first part goes on through the access node from the byte reached.
#include <catch2/catch.hpp>

#include <functional>
#include <random>
#include <utility>

#include "chord/sha256.hpp"
#include "value_route.hpp"
#include "ring_helpers.hpp"

using namespace chord;

namespace {

constexpr std::size_t kPiece = 256 << 10;

// A value in pieces whose first pass breaks (as a connection does) after break_after pieces.
class BreaksOnce final : public ChunkSource {
 public:
  BreaksOnce(std::string value, std::size_t break_after) : value_(std::move(value)), break_after_(break_after) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override {
    if (!broken_ && pos_ / kPiece == break_after_) {
      broken_ = true;
      co_return make_error(Errc::unavailable, "connection reset by peer");
    }
    if (pos_ >= value_.size()) co_return std::optional<std::string>{};
    auto piece = value_.substr(pos_, kPiece);
    pos_ += piece.size();
    co_return std::optional<std::string>(std::move(piece));
  }
  void rewind() {
    pos_ = 0;
    ++rewinds;
  }
  int rewinds = 0;

 private:
  std::string value_;
  std::size_t break_after_;
  std::size_t pos_ = 0;
  bool broken_ = false;
};

struct Case {
  sim::SimRing ring{sim::RingOptions{}};
  std::mt19937_64 rng{7};
  std::string value;
  Case() {
    test::joined_ring(ring, 5, rng);
    value = test::random_bytes(cli::kHolderBytes + 3 * kPiece + 11, rng);
  }
  // A key that the first node does not own, and the first node as the access node.
  Node& via() { return *ring.nodes().front(); }
  std::string foreign_key() {
    for (int i = 0;; ++i) {
      auto key = "big-" + std::to_string(i);
      if (ring.true_owner(ring.ring().hash(key)).id != via().self().id) return key;
    }
  }
  Result<StoreReply> put(const std::string& key, BreaksOnce& source, const Digest& digest) {
    const StoreRequest req{ValueMeta{key, ring.ring().hash(key), value.size(), digest, {}, false}, Role::client};
    const cli::Route route{via(), via().self(), ring.network()};
    const std::function<void()> restart = [&] { source.rewind(); };
    return ring.run(cli::put_value(route, req, source, restart, std::chrono::milliseconds(1000)));
  }
};

// Collects a value; once it holds `at` bytes, runs `then` (once).
class WatchingSink final : public ChunkSink {
 public:
  WatchingSink(std::uint64_t at, std::function<void()> then) : at_(at), then_(std::move(then)) {}
  asio::awaitable<Result<void>> begin(const FetchReply& h) override { co_return co_await inner.begin(h); }
  asio::awaitable<Result<void>> write(std::string chunk) override {
    auto r = co_await inner.write(std::move(chunk));
    if (then_ && inner.data().size() >= at_) std::exchange(then_, nullptr)();
    co_return r;
  }
  StringSink inner;

 private:
  std::uint64_t at_;
  std::function<void()> then_;
};

}  // namespace

TEST_CASE("a big get whose holder is gone after the first part has the rest from the access node") {
  Case c;
  const auto key = c.foreign_key();
  BreaksOnce source(c.value, SIZE_MAX);
  REQUIRE(c.put(key, source, Sha256::of(c.value)));
  const auto owner = c.ring.true_owner(c.ring.ring().hash(key));
  Node* holder = nullptr;
  for (auto& n : c.ring.nodes())
    if (n->self().id == owner.id) holder = n.get();
  REQUIRE(holder);
  // The owner sends the first part through the access node, then crashes.
  WatchingSink sink(cli::kHolderBytes, [&] { c.ring.kill(*holder); });
  const cli::Route route{c.via(), c.via().self(), c.ring.network()};
  auto r = c.ring.run(cli::get_value(route, key, sink, std::chrono::milliseconds(1000)));
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);
  CHECK(r->holder.id != owner.id);  // the rest came from another holder, through the access node
  CHECK(sink.inner.data().size() == c.value.size());
  CHECK(sink.inner.data() == c.value);
}

TEST_CASE("a big put whose owner fails mid-way goes through the access node from its first byte") {
  Case c;
  const auto key = c.foreign_key();
  BreaksOnce source(c.value, 2);
  auto r = c.put(key, source, Sha256::of(c.value));
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);
  CHECK(source.rewinds == 1);
  CHECK(r->owner.id == c.ring.true_owner(c.ring.ring().hash(key)).id);
  CHECK(r->copies == 3);
  for (auto& n : c.ring.nodes()) {
    auto got = test::get(c.ring, *n, key);
    REQUIRE(got);
    CHECK(*got == c.value);
  }
}

TEST_CASE("a big put that the owner refuses is refused, not sent again") {
  Case c;
  const auto key = c.foreign_key();
  BreaksOnce source(c.value, SIZE_MAX);
  auto r = c.put(key, source, Sha256::of("another value"));  // the digest does not match
  REQUIRE_FALSE(r);
  CHECK_FALSE(is_peer_failure(r.error().code));
  CHECK(source.rewinds == 0);
  CHECK_FALSE(test::get(c.ring, c.via(), key));
}
