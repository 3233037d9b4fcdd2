#pragma once
// The one error type of the engine and its transports: a code every backend can map onto its
// own status (gRPC status, HTTP status, CLI exit code) and a message that names what failed.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace chord {

enum class Errc {
  unavailable,        // the peer refused or dropped the connection, or is known dead
  deadline_exceeded,  // the peer did not answer in time
  not_found,          // no such key (or node, or method)
  invalid_argument,   // malformed request, wrong id, bad size
  too_large,          // over a size bound
  resource_exhausted, // over a limit of concurrent work (transfers, connections): try again later
  not_ready,          // the node is not (yet) part of a ring
  conflict,           // two nodes with one id, a value replaced while it was read
  precondition_failed,  // a conditional write: the key is not at the version it named
  data_loss,          // bytes that do not match their SHA-256 (or their announced size)
  cancelled,          // the node is leaving or the call was abandoned
  unauthenticated,    // a call that needs the cluster key came without a valid proof of it
  internal,
};

std::string_view to_string(Errc code);
std::optional<Errc> errc_from_string(std::string_view name);
// True for the failures that say "this peer is gone", as opposed to "this peer said no".
inline bool is_peer_failure(Errc c) { return c == Errc::unavailable || c == Errc::deadline_exceeded; }

struct Error {
  Errc code = Errc::internal;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  // Empty results exist only because co_spawn's completion wants a default value.
  Result() : v_(Error{Errc::internal, "no result"}) {}
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace chord
