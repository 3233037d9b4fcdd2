// The CLI's put route (src/cli/owner_put.cpp) on a simulated ring of real nodes: a big value goes
// to its owner, and when that fails as a peer fails, mid-way, the whole value goes again through
// the access node from its first byte; any other failure is the put's answer.
#include <catch2/catch.hpp>

#include <random>

#include "chord/sha256.hpp"
#include "owner_put.hpp"
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
    for (int i = 0; i < 5; ++i) REQUIRE(ring.join({ring.add()}, rng) == 0);
    REQUIRE(ring.stabilize(100, true));
    value.resize(cli::kOwnerPutBytes + 3 * kPiece + 11);
    for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(rng());
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
    const cli::PutRoute route{via(), via().self(), ring.network()};
    const std::function<void()> restart = [&] { source.rewind(); };
    return ring.run(cli::put_value(route, req, source, restart, std::chrono::milliseconds(1000)));
  }
};

}  // namespace

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
