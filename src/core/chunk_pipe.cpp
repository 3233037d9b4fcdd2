#include "chord/chunk_pipe.hpp"

#include <algorithm>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include "chord/tuple_awaitable.hpp"

namespace chord {

ChunkPipe::ChunkPipe(asio::any_io_executor executor, std::size_t buffered, Timeout timeout, std::string name)
    : channel_(executor, buffered), timeout_(timeout), name_(std::move(name)) {}

asio::awaitable<bool> ChunkPipe::push(std::optional<std::string> chunk, Timeout timeout) {
  return push_until(std::move(chunk), std::chrono::steady_clock::now() + timeout);
}

asio::awaitable<bool> ChunkPipe::push_until(std::optional<std::string> chunk,
                                            std::chrono::steady_clock::time_point deadline) {
  using namespace asio::experimental::awaitable_operators;
  if (!channel_.is_open()) co_return false;
  // A chunk with room, or with the consumer already waiting, is handed over without a timer and
  // a race between two operations: most chunks of a small value, and each costs allocations,
  // posts and a timerfd update.
  if (channel_.try_send(boost::system::error_code{}, std::move(chunk))) co_return true;
  // At least a millisecond: a send with room completes at once and so wins over the timer.
  deadline = std::max(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(1));
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  auto r = co_await (channel_.async_send(boost::system::error_code{}, std::move(chunk), tuple_awaitable) ||
                     timer.async_wait(tuple_awaitable));
  co_return r.index() == 0 && !std::get<0>(std::get<0>(r));
}

Error ChunkPipe::abandoned() const { return make_error(Errc::cancelled, fmt::format("{} was abandoned", name_)); }

asio::awaitable<Result<std::optional<std::string>>> ChunkPipe::next() {
  using namespace asio::experimental::awaitable_operators;
  // Likewise a chunk that waits in the pipe, or whose producer waits, is taken at once.
  std::optional<Result<std::optional<std::string>>> ready;
  channel_.try_receive([&](boost::system::error_code ec, std::optional<std::string> chunk) {
    if (ec) ready.emplace(abandoned());
    else ready.emplace(std::move(chunk));
  });
  if (ready) co_return std::move(*ready);
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout_);
  auto r = co_await (channel_.async_receive(tuple_awaitable) || timer.async_wait(tuple_awaitable));
  if (r.index() == 1)
    co_return make_error(Errc::deadline_exceeded, fmt::format("{}: no chunk within {} ms", name_, timeout_.count()));
  auto [ec, chunk] = std::get<0>(std::move(r));
  if (ec) co_return abandoned();
  co_return std::move(chunk);
}

}  // namespace chord
