#pragma once
// Runs a blocking call (a file write, an fsync, a read of --data-dir) on a thread pool and resumes
// the awaiting coroutine on its own executor with the result, so that the thread that answers
// pings and runs stabilize never waits on a disk. Without a pool (a memory store) the call runs
// inline: the simulator's thousands of nodes start no threads.
#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace chord {

namespace asio = boost::asio;

template <class F>
auto run_blocking(asio::thread_pool* pool, F call) -> asio::awaitable<std::invoke_result_t<F&>> {
  using R = std::invoke_result_t<F&>;
  if (!pool) co_return call();
  auto initiate = [pool](auto handler, F fn) {
    // Tracked: the caller's io_context does not run out of work while the call is away.
    auto home = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
    asio::post(*pool, [fn = std::move(fn), handler = std::move(handler), home]() mutable {
      R result = fn();
      asio::post(home, [handler = std::move(handler), result = std::move(result)]() mutable {
        std::move(handler)(std::move(result));
      });
    });
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(R)>(initiate, asio::use_awaitable,
                                                                                   std::move(call));
}

}  // namespace chord
