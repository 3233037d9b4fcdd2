#pragma once
// For transports that carry one message per call (REST, AMQP). The ChordService client is
// written once over a Carrier that moves one request and its reply; the server side is one
// Dispatcher that turns a method name and a request message into the node's answer.
//
// Values travel one message per chunk. Store: each StoreChunk names its transfer (chosen by the
// client), its offset and whether it is the last; the first carries the header. The server feeds
// the chunks of a transfer to one node->store() and acknowledges each chunk once the node has
// taken it, so a slow receiver slows the sender down. Fetch: the client asks for chunk-sized
// ranges, several at once, each its own call; every reply repeats the header, so a value
// replaced mid-transfer is noticed.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>

#include "chord/service.hpp"

namespace google::protobuf {
class Message;
}

namespace chord::unary {

namespace gpb = ::google::protobuf;

// The client side of one peer over one transport.
class Carrier {
 public:
  virtual ~Carrier() = default;
  virtual const std::string& uri() const = 0;
  // Sends request to chord.v1.Chord/<method> and fills reply. A failure names the peer and the
  // method; a transport failure is unavailable or deadline_exceeded.
  virtual asio::awaitable<Result<void>> call(std::string_view method, const gpb::Message& request,
                                             gpb::Message& reply, Timeout timeout) = 0;
};

std::shared_ptr<ChordService> make_client(std::shared_ptr<Carrier> carrier, std::size_t chunk_bytes);

struct Limits {
  std::size_t chunk_bytes = 1 << 20;       // data per message
  std::size_t max_transfers = 256;         // Store transfers in flight at once, from everyone
  std::size_t max_transfers_per_peer = 64; // ... from one peer: past it, resource_exhausted
  std::function<void(const std::string& reason)> refused;  // told of each refusal over a limit
};

class Dispatcher {
 public:
  // Runs calls on node. Use it from the node's executor only (it keeps per-transfer state).
  Dispatcher(asio::any_io_executor executor, std::shared_ptr<ChordService> node, Limits limits);
  ~Dispatcher();

  // A fresh request message for method, or null when chord.v1.Chord has no such method.
  static std::unique_ptr<gpb::Message> new_request(std::string_view method);
  // Ends every transfer still open (their store() calls see the pipe close and give up), on the
  // executor, and waits a moment for that: a server shutting down calls it while the executor
  // still runs. Stuck transfers would otherwise keep the node alive through their coroutines.
  void close();

  // Answers one call. request must come from new_request(method). peer says who asked, as the
  // transport knows it (an IP address, a reply queue): the unit of per-peer limits. member: the
  // caller proved the cluster key (wire::prove_member); members-only calls are refused without.
  // client: it presented the client token (or none is required); see wire::admit. A Store
  // chunk's bytes are moved out of request.
  asio::awaitable<Result<std::unique_ptr<gpb::Message>>> dispatch(std::string_view method,
                                                                  gpb::Message& request, Timeout timeout,
                                                                  std::string peer, bool member = true,
                                                                  bool client = true);

  struct Transfers;  // the open Store transfers (dispatcher.cpp)

 private:
  std::shared_ptr<ChordService> node_;
  std::shared_ptr<Transfers> transfers_;
};

}  // namespace chord::unary
