#pragma once
// The REST transport: every RPC of chord.v1.Chord is POST /chord.v1.Chord/<Method> with the
// proto3 JSON form of the request (https:// with TLS); 200 carries the JSON reply, any other status an error
// {"code","message"}. Values go one chunk per request (transports/unary). The caller's timeout
// travels as the header Chord-Timeout-Ms.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "chord/cluster_key.hpp"
#include "chord/peer_cache.hpp"
#include "chord/peer_rate.hpp"
#include "chord/service.hpp"
#include "chord/tls.hpp"
#include "http_client.hpp"
#include "http_server.hpp"

namespace chord::rest {

struct Limits {
  std::size_t chunk_bytes = 1 << 20;        // value bytes per request
  std::size_t max_message_bytes = 8 << 20;  // any one request or response body
  // The client sends every call as binary protobuf (application/x-protobuf) rather than proto3
  // JSON: protobuf parses a base64 MiB of JSON in ~11 ms, the binary form in ~0.1 ms, and its JSON
  // converter on every LookupStep and Notify took a REST lookup from 0.15-0.20 to 0.36 ms. false:
  // JSON on every call, as curl speaks it. The server takes either form on every method and
  // answers in the form it was asked in.
  bool binary = true;
  std::size_t max_connections = 512;          // open at once; past it, new ones wait in the backlog
  std::size_t max_transfers = 256;            // Store transfers in flight (transports/unary)
  std::size_t max_transfers_per_peer = 64;    // ... from one IP address
  // Told of each request refused over a limit, with the reason: for /metrics.
  std::function<void(const std::string& reason)> refused;
  // The ring's cluster key: the client signs every call with it, the server checks the proofs.
  std::shared_ptr<const ClusterKey> cluster_key;
  // The client token: the client presents it on every call (Authorization: Bearer), the server
  // requires it of client writes when set (serve --client-token).
  std::string client_token;
  // With it the server takes only mutual TLS, and the client reaches https:// URIs.
  std::shared_ptr<const TlsConfig> tls;
  // Calls per second of one caller that does not prove the cluster key (serve --peer-rate);
  // null: no limit. Shared by every server of a process.
  std::shared_ptr<PeerRate> peer_rate;
};

class Connector final : public chord::Connector {
 public:
  Connector(asio::any_io_executor executor, Limits limits = {});
  ~Connector() override;
  Result<std::shared_ptr<ChordService>> connect(const std::string& uri) override;
  void close() override;

 private:
  asio::any_io_executor executor_;
  Limits limits_;
  std::shared_ptr<asio::ssl::context> tls_;  // for https:// peers, when limits_.tls is set
  std::shared_ptr<unary::Inflight> inflight_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<HttpPeer>> http_;  // by URI: their sockets, for close()
  PeerCache<ChordService> peers_;                          // by URI: the clients over them
};

class Server {
 public:
  // Serves node on HOST:PORT (port 0 picks a free one), answering on executor.
  static Result<std::unique_ptr<Server>> start(const std::string& listen, asio::any_io_executor executor,
                                               std::shared_ptr<ChordService> node, Limits limits = {},
                                               Timeout default_timeout = std::chrono::seconds(5));
  ~Server();
  std::uint16_t port() const { return http_->port(); }
  std::function<HttpCounters()> counter_source() const { return http_->counter_source(); }
  void shutdown();

 private:
  struct Impl;
  Server(std::unique_ptr<HttpServer> http, std::shared_ptr<Impl> impl) : http_(std::move(http)), impl_(std::move(impl)) {}
  std::unique_ptr<HttpServer> http_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace chord::rest
