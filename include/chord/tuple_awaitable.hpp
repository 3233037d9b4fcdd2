#pragma once
// The completion token of every awaited operation whose error is an outcome to handle (a peer that
// hung up, a deadline that fired), not an exception to unwind the coroutine with.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace chord {

inline constexpr auto tuple_awaitable = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace chord
