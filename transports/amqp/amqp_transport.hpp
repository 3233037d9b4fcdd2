#pragma once
// The AMQP transport: RabbitMQ's RPC pattern. A request is published on the default exchange to
// the peer's queue with type=<Method>, content_type=application/x-protobuf, a correlation_id,
// reply_to=amq.rabbitmq.reply-to (direct reply-to), expiration = the call's deadline, and
// mandatory, so that a missing queue is an immediate error. The reply carries the method's reply
// message, or type=Status with a chord.v1.Status. Values go one chunk per message
// (transports/unary). A node's URI is amqp://BROKER_HOST:PORT/QUEUE, or amqps://... when the
// broker is reached over TLS.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "chord/cluster_key.hpp"
#include "chord/peer_cache.hpp"
#include "chord/peer_rate.hpp"
#include "chord/service.hpp"
#include "inflight.hpp"
#include "link.hpp"

namespace chord::amqp {

struct Limits {
  std::size_t chunk_bytes = 1 << 20;        // value bytes per message
  std::size_t max_message_bytes = 8 << 20;  // any one request or reply
  std::size_t max_transfers = 256;          // Store transfers in flight (transports/unary)
  std::size_t max_transfers_per_peer = 64;  // ... from one client connection (its reply queue)
  // Requests taken from the queue and not yet answered (basic.qos): the rest wait at the broker.
  std::uint16_t prefetch = 64;
  // Told of each request the server drops unanswered, with the reason ("no_reply_to",
  // "no_correlation_id"): for /metrics. Called on the server's executor.
  std::function<void(const std::string& reason)> refused;
  // The ring's cluster key: the client signs every call with it, the server checks the proofs.
  std::shared_ptr<const ClusterKey> cluster_key;
  // The client token: the client presents it on every call (header "authorization": Bearer), the
  // server requires it of client writes when set (serve --client-token).
  std::string client_token;
  // This end's certificate and the CA, for brokers reached by amqps:// (TLS, both ends checked).
  std::shared_ptr<const TlsConfig> tls;
  // Calls per second of one caller that does not prove the cluster key (serve --peer-rate);
  // null: no limit. Shared by every server of a process.
  std::shared_ptr<PeerRate> peer_rate;
};

class BrokerClient;

class Connector final : public chord::Connector {
 public:
  // credentials: user, password and vhost for every broker a URI names (its host and port are
  // ignored; each URI names its own broker).
  Connector(asio::any_io_executor executor, Broker credentials, Limits limits = {});
  ~Connector() override;
  Result<std::shared_ptr<ChordService>> connect(const std::string& uri) override;
  void close() override;

 private:
  asio::any_io_executor executor_;
  Broker credentials_;
  Limits limits_;
  std::shared_ptr<unary::Inflight> inflight_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<BrokerClient>> brokers_;  // by host:port
  PeerCache<ChordService> clients_;  // by URI
};

class Server {
 public:
  // Serves node on queue at broker; fails at once if the broker is unreachable or the queue is
  // held by another node.
  static Result<std::unique_ptr<Server>> start(const std::string& queue, const Broker& broker,
                                               asio::any_io_executor executor, std::shared_ptr<ChordService> node,
                                               Limits limits = {}, Timeout default_timeout = std::chrono::seconds(5));
  ~Server();
  // amqp://HOST:PORT/QUEUE
  const std::string& uri() const { return uri_; }
  void shutdown();

  struct Impl;

 private:
  Server(std::shared_ptr<Impl> impl, std::string uri) : impl_(std::move(impl)), uri_(std::move(uri)) {}
  std::shared_ptr<Impl> impl_;
  std::string uri_;
};

// amqp://HOST:PORT/QUEUE for a node on queue at broker.
std::string node_uri(const Broker& broker, const std::string& queue);

}  // namespace chord::amqp
