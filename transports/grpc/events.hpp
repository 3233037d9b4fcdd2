#pragma once
// Carries gRPC reactor callbacks (on gRPC's threads) to a coroutine on the node's executor.
// Each reactor has one operation in flight at a time, so a small buffered channel suffices.
#include <functional>
#include <optional>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "chord/service.hpp"

namespace chord::grpc_transport {

class Events {
 public:
  explicit Events(asio::any_io_executor executor) : executor_(executor), channel_(executor, 8) {}

  // From any thread: an operation finished (ok as gRPC reported it).
  void post(bool ok) { channel_.try_send(boost::system::error_code{}, ok); }

  struct Outcome {
    bool ok = false;
    bool timed_out = false;
  };
  // Waits for the next completion. Past the timeout it calls cancel (which must make gRPC finish
  // the operation, e.g. TryCancel) and still waits for the completion, so that no operation is
  // left running on a buffer the caller is about to free.
  asio::awaitable<Outcome> wait(Timeout timeout, const std::function<void()>& cancel) {
    co_return co_await wait_for(timeout, cancel, std::nullopt);
  }

  // As wait, but after cancel it waits at most as long again for the completion, then gives
  // up: with a SIGSTOPped peer the completion of a cancelled client call never came and the
  // caller hung for good. Only for client calls, whose buffers live in the call object that the
  // client's call tracker keeps until gRPC reports the call done.
  asio::awaitable<Outcome> wait_or_abandon(Timeout timeout, const std::function<void()>& cancel) {
    co_return co_await wait_for(timeout, cancel, timeout);
  }

 private:
  // grace: how long to wait for the completion after cancel (nullopt: as long as it takes).
  asio::awaitable<Outcome> wait_for(Timeout timeout, const std::function<void()>& cancel, std::optional<Timeout> grace) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(executor_, timeout);
    auto first = co_await (channel_.async_receive(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    if (first.index() == 0) co_return Outcome{std::get<0>(first), false};
    cancel();
    if (!grace) {
      const bool ok = co_await channel_.async_receive(asio::use_awaitable);
      co_return Outcome{ok, true};
    }
    timer.expires_after(*grace);
    auto second = co_await (channel_.async_receive(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    co_return Outcome{second.index() == 0 && std::get<0>(second), true};
  }

  asio::any_io_executor executor_;
  asio::experimental::concurrent_channel<void(boost::system::error_code, bool)> channel_;
};

}  // namespace chord::grpc_transport
