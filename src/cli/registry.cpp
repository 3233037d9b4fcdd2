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

std::unique_ptr<Registry> make_registry(asio::any_io_executor executor, std::shared_ptr<const ClusterKey> key,
                                        const std::string& token) {
  auto r = std::make_unique<Registry>();
  grpc_transport::Limits grpc_limits;
  grpc_limits.cluster_key = key;
  grpc_limits.client_token = token;
  r->add("grpc", std::make_unique<grpc_transport::Connector>(executor, grpc_limits));
  rest::Limits rest_limits;
  rest_limits.cluster_key = key;
  rest_limits.client_token = token;
  r->add("http", std::make_unique<rest::Connector>(executor, rest_limits));
  // Credentials for every broker: $CHORD_AMQP_URL (serve's --amqp-url sets it), else guest.
  auto broker = amqp::default_broker();
  amqp::Limits amqp_limits;
  amqp_limits.cluster_key = key;
  amqp_limits.client_token = token;
  r->add("amqp", std::make_unique<amqp::Connector>(executor, broker ? *broker : amqp::Broker{}, amqp_limits));
  return r;
}

}  // namespace chord::cli
