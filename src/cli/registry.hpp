#pragma once
// Picks a transport's client by the URI's scheme, so that one process can call peers of every
// transport it links (mixed rings).
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "chord/cluster_key.hpp"
#include "chord/service.hpp"

namespace chord::cli {

class Registry final : public Connector {
 public:
  void add(const std::string& scheme, std::unique_ptr<Connector> connector);
  Result<std::shared_ptr<ChordService>> connect(const std::string& uri) override;
  void close() override;

 private:
  std::map<std::string, std::unique_ptr<Connector>> by_scheme_;
};

// A registry with every network transport this binary links.
// key: the ring's cluster key, which signs every call (serve --cluster-key); null for none.
// token: the client token every call presents (the CLI's --token-file or $CHORD_TOKEN).
std::unique_ptr<Registry> make_registry(asio::any_io_executor executor, std::shared_ptr<const ClusterKey> key = nullptr,
                                        const std::string& token = {});

}  // namespace chord::cli
