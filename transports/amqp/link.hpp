#pragma once
// One rabbitmq-c connection, owned by one I/O thread: rabbitmq-c connections are not
// thread-safe. Other threads hand it messages to publish through a queue (and wake it through
// an eventfd); what arrives is handed out through callbacks on the link's thread. When the
// broker goes away the link says so, then reconnects with backoff and sets itself up again
// (its request queue, its reply consumer).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "chord/result.hpp"
#include "chord/tls.hpp"

namespace chord::amqp {

struct Broker {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  bool tls = false;                      // amqps: TLS to the broker, its certificate checked
  std::shared_ptr<const TlsConfig> tls_config;  // this end's certificate and the CA, for amqps
  std::string address() const;  // host:port
  std::string scheme() const { return tls ? "amqps" : "amqp"; }
};
// amqp://USER:PASS@HOST:PORT/VHOST (vhost "/" when the path is empty), or amqps://... (TLS; port
// 5671 unless given).
Result<Broker> parse_broker_url(const std::string& url);
// The broker of $CHORD_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/.
Result<Broker> default_broker();

struct Message {
  std::string routing_key;     // out: the queue; in: unused
  std::string type;            // the chord.v1 method, or "Status" for an error reply
  std::string correlation_id;
  std::string reply_to;
  std::string content_type = "application/x-protobuf";
  std::optional<std::chrono::milliseconds> expiration;
  std::string auth;           // the header "chord-auth": proof of the cluster key (ClusterKey)
  std::string authorization;  // the header "authorization": "Bearer <client token>"
  std::string body;
  // In: a body over the link's limit was drained unread, and this is its size (body is empty).
  std::optional<std::uint64_t> oversize;
  // In, on a link with a queue: what ack() needs once the request has been handled.
  std::uint64_t delivery_tag = 0;
  std::uint64_t generation = 0;  // the connection it came on
};

struct LinkLimits {
  std::size_t max_body = 8 << 20;  // larger deliveries are drained without being kept
  std::uint16_t prefetch = 64;     // requests handed out and not yet acknowledged (basic.qos)
};

class Link {
 public:
  struct Handlers {
    std::function<void(Message)> request;  // a message on our queue
    std::function<void(Message)> reply;    // a reply to one of our calls
    // A call published to a queue that does not exist: the broker returned it.
    std::function<void(const std::string& correlation_id, const std::string& why)> returned;
    // The connection went down (why) or came back (why empty).
    std::function<void(bool up, const std::string& why)> state;
  };

  // With connect_now, connects once before returning, so that a wrong address, wrong
  // credentials or a queue that another node holds are reported at start; otherwise the link's
  // thread connects (and up() says when). queue empty: a client-only link.
  static Result<std::unique_ptr<Link>> start(Broker broker, std::string queue, Handlers handlers,
                                             bool connect_now = true, LinkLimits limits = {});
  ~Link();

  // Any thread. false when the link is down: the message is not sent.
  bool publish(Message m);
  // Any thread: the request m is handled, and the broker may hand out another. A request from
  // an earlier connection needs none (the broker dropped it with that connection).
  void ack(const Message& m);
  bool up() const { return up_.load(); }
  void stop();

 private:
  struct Conn;
  Link(Broker broker, std::string queue, Handlers handlers, LinkLimits limits);
  // The header and body frames of a delivery, bounded by max_body.
  Result<Message> read_content(std::uint64_t delivery_tag);
  Result<void> connect();   // on the link thread (or in start(), before it runs)
  void run();               // the thread: serve, and reconnect when the connection drops
  Result<void> serve();     // until the connection fails or stop()
  void wake();

  Broker broker_;
  std::string queue_;
  Handlers handlers_;
  LinkLimits limits_;
  std::unique_ptr<Conn> conn_;
  std::atomic<std::uint64_t> generation_{0};
  std::deque<std::pair<std::uint64_t, std::uint64_t>> acks_;  // (generation, delivery tag), under mutex_
  int wake_fd_ = -1;
  std::mutex mutex_;
  std::deque<Message> outbox_;
  std::atomic<bool> up_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace chord::amqp
