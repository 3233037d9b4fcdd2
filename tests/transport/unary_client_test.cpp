// The client of the one-message-per-call transports (REST, AMQP) over a carrier that answers
// Fetch ranges late and out of order: a value comes back whole and in order, with several ranges
// asked for at once, and a range that fails or has the wrong length, or a value that changes
// mid-way, fails the fetch.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include "chord/chunks.hpp"
#include "chord/sha256.hpp"
#include "convert.hpp"
#include "unary.hpp"

using namespace chord;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kChunk = 1000;

// Answers Fetch ranges of value, each after a delay that is longest for the first of every four
// ranges: replies come back in another order than they were asked for.
class LateRanges final : public unary::Carrier {
 public:
  explicit LateRanges(std::string value) : value_(std::move(value)) {}
  const std::string& uri() const override { return uri_; }

  asio::awaitable<Result<void>> call(std::string_view method, const unary::gpb::Message& request,
                                     unary::gpb::Message& reply, Timeout) override {
    REQUIRE(method == "Fetch");
    auto req = wire::from_proto(static_cast<const wire::pb::FetchRequest&>(request));
    REQUIRE(req);
    const std::size_t index = req->offset / kChunk;
    ++in_flight;
    max_in_flight = std::max(max_in_flight, in_flight);
    asks.push_back(req->offset);
    asio::steady_timer late(co_await asio::this_coro::executor, std::chrono::milliseconds(4 - index % 4));
    co_await late.async_wait(asio::use_awaitable);
    --in_flight;
    if (index == fail_at) co_return make_error(Errc::unavailable, "the peer went away");
    FetchReply header;
    header.meta.key = req->key;
    header.meta.size = value_.size();
    header.meta.sha256 = Sha256::of(index == change_at ? std::string("another value") : value_);
    header.holder = NodeRef{Id{}, "http://127.0.0.1:1"};
    auto& chunk = static_cast<wire::pb::FetchChunk&>(reply);
    wire::to_proto(header, chunk.mutable_header());
    const auto from = std::min<std::uint64_t>(req->offset, value_.size());
    chunk.set_data(value_.substr(from, std::min<std::uint64_t>(req->length.value_or(kChunk), value_.size() - from)));
    if (index == short_at) chunk.mutable_data()->pop_back();
    if (index == long_at) chunk.mutable_data()->push_back('x');
    co_return Result<void>{};
  }

  std::size_t in_flight = 0, max_in_flight = 0;
  std::vector<std::uint64_t> asks;
  std::size_t fail_at = SIZE_MAX;    // this range's call fails
  std::size_t change_at = SIZE_MAX;  // this range names another value
  std::size_t short_at = SIZE_MAX;   // this range comes a byte short
  std::size_t long_at = SIZE_MAX;    // this range comes a byte long

 private:
  std::string value_;
  std::string uri_ = "http://127.0.0.1:1";
};

struct Fetched {
  Result<FetchReply> reply;
  std::string data;
};

Fetched fetch(const std::shared_ptr<LateRanges>& carrier, std::uint64_t offset = 0,
              std::optional<std::uint64_t> length = std::nullopt) {
  asio::io_context io;
  auto client = unary::make_client(carrier, kChunk);
  StringSink sink;
  FetchRequest req{"k", std::nullopt, Role::client, offset, length};
  auto done = asio::co_spawn(io, client->fetch(req, sink, 1000ms), asio::use_future);
  io.run();
  auto reply = done.get();
  return {std::move(reply), sink.data()};
}

std::string value_of(std::size_t size) {
  std::string v(size, '\0');
  for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<char>(i * 31 % 251);
  return v;
}

}  // namespace

TEST_CASE("a fetch of many ranges keeps several in flight and writes them in order") {
  const std::string value = value_of(20 * kChunk + 123);
  auto carrier = std::make_shared<LateRanges>(value);
  auto got = fetch(carrier);
  INFO((got.reply ? std::string() : got.reply.error().message));
  REQUIRE(got.reply);
  CHECK(got.data == value);
  CHECK(carrier->asks.size() == 21);  // every range once, none past the end
  CHECK(carrier->max_in_flight > 1);  // not one round trip after another
  CHECK(carrier->max_in_flight <= 4);  // a bounded window: at most 4 chunks held per fetch

  SECTION("a range of the value comes back whole too") {
    auto part = fetch(carrier, 3 * kChunk + 7, 9 * kChunk);
    REQUIRE(part.reply);
    CHECK(part.data == value.substr(3 * kChunk + 7, 9 * kChunk));
  }
  SECTION("an empty value and a value under a chunk take one call") {
    for (std::size_t size : {std::size_t{0}, kChunk - 1, kChunk}) {
      auto small = std::make_shared<LateRanges>(value_of(size));
      auto one = fetch(small);
      REQUIRE(one.reply);
      CHECK(one.data == value_of(size));
      CHECK(small->asks.size() == 1);
    }
  }
}

TEST_CASE("a range that fails, has the wrong length or names another value fails the whole fetch") {
  const std::string value = value_of(12 * kChunk);
  auto carrier = std::make_shared<LateRanges>(value);
  SECTION("a failed call") {
    carrier->fail_at = 6;
    auto got = fetch(carrier);
    REQUIRE_FALSE(got.reply);
    CHECK(got.reply.error().code == Errc::unavailable);
    CHECK(got.data == value.substr(0, 6 * kChunk));  // what came before it, and nothing after
  }
  SECTION("a range a byte short or a byte long") {
    for (bool shorter : {true, false}) {
      auto wrong = std::make_shared<LateRanges>(value);
      (shorter ? wrong->short_at : wrong->long_at) = 4;
      auto got = fetch(wrong);
      REQUIRE_FALSE(got.reply);
      CHECK(got.reply.error().code == Errc::invalid_argument);
      CHECK(got.data == value.substr(0, 4 * kChunk));  // nothing spliced in at the wrong offset
    }
  }
  SECTION("a value replaced mid-way") {
    carrier->change_at = 5;
    auto got = fetch(carrier);
    REQUIRE_FALSE(got.reply);
    CHECK(got.reply.error().code == Errc::conflict);
    CHECK(got.data == value.substr(0, 5 * kChunk));
  }
}
