#include "registry.hpp"

#include <set>

#include <fmt/format.h>

#include "amqp_transport.hpp"
#include "grpc_transport.hpp"
#include "rest_transport.hpp"
#include "uri.hpp"

namespace chord::cli {

void Registry::add(const std::string& scheme, std::shared_ptr<Connector> connector) {
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
  std::set<Connector*> closed;  // one connector serves a transport's plain and TLS scheme
  for (auto& [scheme, c] : by_scheme_)
    if (closed.insert(c.get()).second) c->close();
}

std::unique_ptr<Registry> make_registry(asio::any_io_executor executor, const Credentials& credentials) {
  auto r = std::make_unique<Registry>();
  grpc_transport::Limits grpc_limits;
  present(credentials, grpc_limits);
  auto grpc = std::make_shared<grpc_transport::Connector>(executor, grpc_limits);
  r->add("grpc", grpc);
  r->add("grpcs", grpc);
  rest::Limits rest_limits;
  present(credentials, rest_limits);
  auto rest = std::make_shared<rest::Connector>(executor, rest_limits);
  r->add("http", rest);
  r->add("https", rest);
  // Credentials for every broker: $CHORD_AMQP_URL (serve's --amqp-url sets it), else guest.
  auto broker = amqp::default_broker();
  amqp::Limits amqp_limits;
  present(credentials, amqp_limits);
  auto amqp = std::make_shared<amqp::Connector>(executor, broker ? *broker : amqp::Broker{}, amqp_limits);
  r->add("amqp", amqp);
  r->add("amqps", amqp);
  return r;
}

}  // namespace chord::cli
