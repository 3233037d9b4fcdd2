#pragma once
// Node URIs: grpc://HOST:PORT, http://HOST:PORT, amqp://HOST:PORT/QUEUE, inproc://NAME; with
// TLS grpcs://, https://, amqps://.
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

// The URI of a host's virtual node `index` (the paper's virtual nodes: one process, several
// ids). Index 0 is uri itself; index i listens on PORT+i (grpc, http) or on the queue
// QUEUE-v<i> (amqp, amqps), so every virtual node is a plain node to its peers.
Result<std::string> virtual_uri(const std::string& uri, unsigned index);

}  // namespace chord::wire
