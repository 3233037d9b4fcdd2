#pragma once
// Errc <-> grpc::Status, both ways, so that an error crosses the wire with its meaning intact.
#include <string_view>

#include <grpcpp/support/status.h>

#include "chord/result.hpp"

namespace chord::grpc_transport {

grpc::Status to_status(const Error& error);
// An error for a failed call, naming the peer and the method.
Error from_status(const grpc::Status& status, std::string_view peer, std::string_view method);

}  // namespace chord::grpc_transport
