#include "registry.hpp"

#include <fmt/format.h>

#include "amqp_transport.hpp"
#include "grpc_transport.hpp"
#include "rest_transport.hpp"
#include "uri.hpp"

namespace chord::cli {

void Registry::add(const std::string& scheme, std::unique_ptr<Connector> connector) {
  by_scheme_[scheme] = std::move(connector);
}

Result<std::shared_ptr<ChordService>> Registry::connect(const std::string& uri) {
  auto scheme = wire::scheme_of(uri);
  auto it = by_scheme_.find(scheme);
  if (it == by_scheme_.end()) {
    std::string known;
    for (const auto& [s, c] : by_scheme_) known += (known.empty() ? "" : ", ") + s + "://";
    return make_error(Errc::invalid_argument, fmt::format("'{}': unknown transport; this binary speaks {}", uri, known));
  }
  return it->second->connect(uri);
}

void Registry::close() {
  for (auto& [scheme, c] : by_scheme_) c->close();
}

std::unique_ptr<Registry> make_registry(asio::any_io_executor executor) {
  auto r = std::make_unique<Registry>();
  r->add("grpc", std::make_unique<grpc_transport::Connector>(executor));
  r->add("http", std::make_unique<rest::Connector>(executor));
  // Credentials for every broker: $CHORD_AMQP_URL (serve's --amqp-url sets it), else guest.
  auto broker = amqp::default_broker();
  r->add("amqp", std::make_unique<amqp::Connector>(executor, broker ? *broker : amqp::Broker{}));
  return r;
}

}  // namespace chord::cli
