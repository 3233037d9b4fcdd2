// RewindableSource: what a node keeps of a value it sends on, to send it again elsewhere.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "chord/chunks.hpp"

namespace asio = boost::asio;
using chord::ChunkSource;
using chord::Errc;
using chord::Result;
using chord::RewindableSource;

namespace {

// Hands out its chunks, then either the end or an error.
class ListSource final : public ChunkSource {
 public:
  ListSource(std::vector<std::string> chunks, bool fails) : chunks_(std::move(chunks)), fails_(fails) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override {
    ++pulls;
    if (at_ < chunks_.size()) co_return std::optional<std::string>(chunks_[at_++]);
    if (fails_) co_return chord::make_error(Errc::deadline_exceeded, "the sender stopped");
    co_return std::optional<std::string>{};
  }
  int pulls = 0;

 private:
  std::vector<std::string> chunks_;
  std::size_t at_ = 0;
  bool fails_;
};

// Takes up to `most` chunks from source (all of them if it is negative): the chunks, and "!" for
// an error in place of the end.
std::vector<std::string> take(ChunkSource& source, int most = -1) {
  asio::io_context io;
  auto run = [](ChunkSource& s, int most) -> asio::awaitable<std::vector<std::string>> {
    std::vector<std::string> out;
    for (int i = 0; most < 0 || i < most; ++i) {
      auto r = co_await s.next();
      if (!r) out.push_back("!");
      if (!r || !*r) break;
      out.push_back(**r);
    }
    co_return out;
  };
  auto f = asio::co_spawn(io, run(source, most), asio::use_future);
  io.run();
  return f.get();
}

}  // namespace

TEST_CASE("a value within the limit is sent again from its first chunk, as often as asked") {
  ListSource inner({"ab", "cd", "e"}, false);
  RewindableSource source(inner, 5);
  CHECK_FALSE(source.started());
  CHECK(take(source, 2) == std::vector<std::string>{"ab", "cd"});  // the first peer fails mid-stream
  CHECK(source.started());
  REQUIRE(source.rewind());
  CHECK_FALSE(source.started());
  CHECK(take(source) == std::vector<std::string>{"ab", "cd", "e"});
  REQUIRE(source.rewind());
  CHECK(take(source) == std::vector<std::string>{"ab", "cd", "e"});
  CHECK(inner.pulls == 4);  // each chunk, and the end, taken from the sender once
}

TEST_CASE("a value past the limit cannot be sent again once it began to move") {
  ListSource inner({"ab", "cd", "e"}, false);
  RewindableSource source(inner, 4);
  CHECK(take(source, 2) == std::vector<std::string>{"ab", "cd"});
  CHECK(source.rewind());  // 4 bytes kept: still whole
  CHECK(take(source) == std::vector<std::string>{"ab", "cd", "e"});
  CHECK_FALSE(source.rewind());  // the fifth byte is past the limit
  CHECK(take(source).empty());   // and the stream goes on to its end, not over again
}

TEST_CASE("a stream whose sender failed is not sent again") {
  ListSource inner({"ab"}, true);
  RewindableSource source(inner, 1024);
  CHECK(take(source) == std::vector<std::string>{"ab", "!"});
  CHECK_FALSE(source.rewind());
}
