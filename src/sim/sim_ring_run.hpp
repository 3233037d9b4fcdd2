#pragma once
#include <exception>
#include <optional>
#include <type_traits>

#include <boost/asio/co_spawn.hpp>

namespace chord::sim {

template <class T>
T SimRing::run(boost::asio::awaitable<T> task) {
  std::exception_ptr error;
  if constexpr (std::is_void_v<T>) {
    boost::asio::co_spawn(io_, std::move(task), [&](std::exception_ptr e) { error = e; });
    drain();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<T> out;
    boost::asio::co_spawn(io_, std::move(task), [&](std::exception_ptr e, T v) {
      error = e;
      if (!e) out.emplace(std::move(v));
    });
    drain();
    if (error) std::rethrow_exception(error);
    return std::move(*out);
  }
}

template <class F>
Result<void> SimRing::leave_during(Node& n, F during) {
  std::optional<Result<void>> left;
  boost::asio::co_spawn(io_, n.leave(), [&left](std::exception_ptr e, Result<void> r) {
    if (e) left.emplace(make_error(Errc::internal, "the leave threw"));
    else left.emplace(std::move(r));
  });
  during();
  drain();
  network_.kill(n.self().uri);
  return std::move(*left);
}

}  // namespace chord::sim
