#pragma once
#include <exception>
#include <optional>
#include <type_traits>

#include <boost/asio/co_spawn.hpp>

namespace chord::sim {

template <class T>
T SimRing::run(boost::asio::awaitable<T> task) {
  if constexpr (std::is_void_v<T>) {
    std::exception_ptr error;
    boost::asio::co_spawn(io_, std::move(task), [&](std::exception_ptr e) { error = e; });
    drain();
    if (error) std::rethrow_exception(error);
  } else {
    return run_during(std::move(task), [] {});
  }
}

template <class T, class F>
T SimRing::run_during(boost::asio::awaitable<T> task, F during) {
  std::exception_ptr error;
  std::optional<T> out;
  boost::asio::co_spawn(io_, std::move(task), [&](std::exception_ptr e, T v) {
    error = e;
    if (!e) out.emplace(std::move(v));
  });
  during();
  drain();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

template <class F>
Result<void> SimRing::leave_during(Node& n, F during) {
  auto r = run_during(n.leave(), std::move(during));
  network_.kill(n.self().uri);
  return r;
}

}  // namespace chord::sim
