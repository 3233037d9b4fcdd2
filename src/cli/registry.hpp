#pragma once
// Picks a transport's client by the URI's scheme, so that one process can call peers of every
// transport it links (mixed rings).
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "chord/cluster_key.hpp"
#include "chord/service.hpp"
#include "chord/tls.hpp"

namespace chord::cli {

class Registry final : public Connector {
 public:
  void add(const std::string& scheme, std::shared_ptr<Connector> connector);
  Result<std::shared_ptr<ChordService>> connect(const std::string& uri) override;
  void close() override;

 private:
  std::map<std::string, std::shared_ptr<Connector>> by_scheme_;
};

// What a process presents to the nodes it calls.
struct Credentials {
  std::shared_ptr<const ClusterKey> key;  // signs every call (serve --cluster-key); null: none
  std::string token;                      // the client token (--token-file, $CHORD_TOKEN)
  std::shared_ptr<const TlsConfig> tls;   // for grpcs://, https://, amqps:// peers (--tls-*)
};

// Puts the credentials into a transport's Limits (each has the same three fields).
template <class Limits>
Limits& present(const Credentials& credentials, Limits& limits) {
  limits.cluster_key = credentials.key;
  limits.client_token = credentials.token;
  limits.tls = credentials.tls;
  return limits;
}

// A registry with every network transport this binary links, under both the plain and the
// TLS scheme of each.
std::unique_ptr<Registry> make_registry(asio::any_io_executor executor, const Credentials& credentials = {});

}  // namespace chord::cli
