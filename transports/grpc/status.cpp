#include "status.hpp"

#include <fmt/format.h>

namespace chord::grpc_transport {

grpc::Status to_status(const Error& e) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (e.code) {
    case Errc::unavailable: code = grpc::StatusCode::UNAVAILABLE; break;
    case Errc::deadline_exceeded: code = grpc::StatusCode::DEADLINE_EXCEEDED; break;
    case Errc::not_found: code = grpc::StatusCode::NOT_FOUND; break;
    case Errc::invalid_argument: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case Errc::too_large:
    case Errc::resource_exhausted: code = grpc::StatusCode::RESOURCE_EXHAUSTED; break;
    case Errc::not_ready: code = grpc::StatusCode::FAILED_PRECONDITION; break;
    case Errc::conflict: code = grpc::StatusCode::ALREADY_EXISTS; break;
    // gRPC's own advice for a failed test-and-set: ABORTED (FAILED_PRECONDITION is not_ready's).
    case Errc::precondition_failed: code = grpc::StatusCode::ABORTED; break;
    case Errc::data_loss: code = grpc::StatusCode::DATA_LOSS; break;
    case Errc::cancelled: code = grpc::StatusCode::CANCELLED; break;
    case Errc::unauthenticated: code = grpc::StatusCode::UNAUTHENTICATED; break;
    case Errc::internal: code = grpc::StatusCode::INTERNAL; break;
  }
  // Codes that share a status (RESOURCE_EXHAUSTED, ABORTED): the details name which, for
  // chordnode peers and clients.
  return grpc::Status(code, e.message, std::string(to_string(e.code)));
}

Error from_status(const grpc::Status& s, std::string_view peer, std::string_view method) {
  Errc code = Errc::internal;
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: code = Errc::unavailable; break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: code = Errc::deadline_exceeded; break;
    case grpc::StatusCode::NOT_FOUND: code = Errc::not_found; break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE: code = Errc::invalid_argument; break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: code = Errc::too_large; break;
    case grpc::StatusCode::FAILED_PRECONDITION: code = Errc::not_ready; break;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED: code = Errc::conflict; break;
    // This side reports its own cancellations as deadlines; a CANCELLED from the wire means the
    // peer is shutting down (unless the details say otherwise, below).
    case grpc::StatusCode::CANCELLED: code = Errc::unavailable; break;
    case grpc::StatusCode::DATA_LOSS: code = Errc::data_loss; break;
    case grpc::StatusCode::UNIMPLEMENTED: code = Errc::not_found; break;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED: code = Errc::unauthenticated; break;
    default: code = Errc::internal; break;
  }
  // gRPC reports a TLS handshake that failed (a certificate of another CA, plain text at one
  // end) as UNAVAILABLE; it is not going away with retries, and a join should say so at once.
  if (code == Errc::unavailable && s.error_message().find("Ssl handshake failed") != std::string::npos)
    code = Errc::unauthenticated;
  if (code == Errc::too_large && s.error_details() == to_string(Errc::resource_exhausted)) code = Errc::resource_exhausted;
  if (code == Errc::conflict && s.error_details() == to_string(Errc::precondition_failed)) code = Errc::precondition_failed;
  // A chordnode peer's own cancelled (a write that reached it after its sender's deadline) names
  // itself in the details, as it travels on REST and AMQP; gRPC's CANCELLED carries none.
  if (code == Errc::unavailable && s.error_code() == grpc::StatusCode::CANCELLED &&
      s.error_details() == to_string(Errc::cancelled))
    code = Errc::cancelled;
  std::string detail = s.error_message().empty() ? std::string(to_string(code)) : s.error_message();
  return make_error(code, fmt::format("{} {}: {}", peer, method, detail));
}

}  // namespace chord::grpc_transport
