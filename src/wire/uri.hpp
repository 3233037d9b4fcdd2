#pragma once
// Node URIs: grpc://HOST:PORT, http://HOST:PORT, amqp://HOST:PORT/QUEUE, inproc://NAME.
#include <cstdint>
#include <string>

#include "chord/result.hpp"

namespace chord::wire {

struct Endpoint {
  std::string scheme;
  std::string host;
  std::uint16_t port = 0;
  std::string path;  // without the leading '/'
  std::string host_port() const;
};

// Parses uri; the port is required for every scheme but inproc.
Result<Endpoint> parse_endpoint(const std::string& uri);
// "HOST:PORT" as given to --listen.
Result<Endpoint> parse_host_port(const std::string& text);
std::string scheme_of(const std::string& uri);

}  // namespace chord::wire
