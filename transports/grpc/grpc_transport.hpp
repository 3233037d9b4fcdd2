#pragma once
// The gRPC transport: a chord.v1.Chord server on the callback API for one node, and clients
// (one channel per peer, reused) that carry ChordService calls to peers at grpc://HOST:PORT, or
// grpcs://HOST:PORT with TLS.
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
#include "chord/tls.hpp"

namespace grpc {
class Server;
}

namespace chord::grpc_transport {

// A value's first chunk up to these sizes shares a message with the stream's header (a Store's
// first message, a Fetch's first reply), and a value or range of up to them is one unary call
// (StoreWhole, FetchRange): a small value is one message, not two. A Store's first message is
// under the cluster key's proof, which hashes it, sender and receiver, on top of the store's own
// SHA-256 (a streamed chunk is checked by the digest alone): hence 64 KiB. A Fetch's reply
// carries no proof, so a whole chunk rides with its header (1 MiB gets on gRPC 12-16 % faster).
constexpr std::size_t kInlineStoreBytes = 64 * 1024;
constexpr std::size_t kInlineFetchBytes = 1 << 20;

struct Limits {
  std::size_t chunk_bytes = 1 << 20;          // data per streamed message
  std::size_t max_message_bytes = 8 << 20;    // any one message, either direction
  std::size_t max_transfers_per_peer = 64;    // Store streams open at once from one IP address
  std::size_t max_streams = 256;              // concurrent calls on one connection (HTTP/2)
  std::size_t memory_bytes = 512 << 20;       // gRPC's resource quota for this server's buffers
  // Told of each call refused over a limit, with the reason: for /metrics. Any thread.
  std::function<void(const std::string& reason)> refused;
  // The ring's cluster key: the client signs every call with it, the server checks the proofs.
  std::shared_ptr<const ClusterKey> cluster_key;
  // The client token: the client presents it on every call (metadata "authorization": Bearer),
  // the server requires it of client writes when set (serve --client-token).
  std::string client_token;
  // With it the server takes only mutual TLS, and the client reaches grpcs:// URIs.
  std::shared_ptr<const TlsConfig> tls;
  // Calls per second of one caller that does not prove the cluster key (serve --peer-rate);
  // null: no limit. Shared by every server of a process.
  std::shared_ptr<PeerRate> peer_rate;
};

class CallTracker;

class Connector final : public chord::Connector {
 public:
  Connector(asio::any_io_executor executor, Limits limits = {});
  // Cancels the calls still in flight and waits for their completions, which are posted to the
  // executor: destroy the Connector before that executor's io_context.
  ~Connector() override;
  Result<std::shared_ptr<ChordService>> connect(const std::string& uri) override;
  void close() override;

 private:
  asio::any_io_executor executor_;
  Limits limits_;
  std::mutex mutex_;
  PeerCache<ChordService> clients_;
  std::shared_ptr<CallTracker> tracker_;
};

class Server {
 public:
  // Serves node on HOST:PORT (port 0 picks a free one). Calls are answered on executor.
  static Result<std::unique_ptr<Server>> start(const std::string& listen, asio::any_io_executor executor,
                                               std::shared_ptr<ChordService> node, Limits limits = {},
                                               Timeout default_timeout = std::chrono::seconds(5));
  ~Server();
  std::uint16_t port() const { return port_; }
  // Stops accepting calls; calls in flight get until the deadline to finish.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl, std::uint16_t port);
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_;
};

}  // namespace chord::grpc_transport
