// Every URI and address a node reads from outside: --listen, --join and --advertise values,
// node URIs inside messages (grpc://, http://, amqp://BROKER/QUEUE), and broker URLs.
#include <cstdint>
#include <string>

#include "link.hpp"
#include "uri.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto ep = chord::wire::parse_endpoint(text)) {
    // A URI that parses names a host and port that parse again.
    if (ep->port != 0 && !chord::wire::parse_host_port(ep->host_port())) __builtin_trap();
    (void)chord::wire::virtual_uri(text, 3);
  }
  (void)chord::wire::parse_host_port(text);
  (void)chord::wire::scheme_of(text);
  (void)chord::amqp::parse_broker_url(text);
  return 0;
}
