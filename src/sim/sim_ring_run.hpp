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

}  // namespace chord::sim
