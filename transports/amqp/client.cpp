// AMQP client: calls published to the peer's queue, replies through direct reply-to, one link
// (connection) per broker shared by every peer behind it.
#include <atomic>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <google/protobuf/message.h>
#include <spdlog/spdlog.h>

#include "chord/secret_file.hpp"
#include "amqp_transport.hpp"
#include "chord/v1/chord.pb.h"
#include "unary.hpp"
#include "uri.hpp"
#include "chord/tuple_awaitable.hpp"

namespace chord::amqp {

namespace {
using Outcome = Result<Message>;
}  // namespace

// The calls in flight through one broker, and the link that carries them.
class BrokerClient {
 public:
  struct Pending {
    explicit Pending(asio::any_io_executor ex) : done(ex, 1) {}
    asio::experimental::concurrent_channel<void(boost::system::error_code, Outcome)> done;
  };

  explicit BrokerClient(Broker broker) : broker_(std::move(broker)) {}

  // Starts the link on first use, without blocking: it connects on its own thread.
  Result<void> ensure_link() {
    std::lock_guard lock(mutex_);
    if (link_ || closed_) return {};
    Link::Handlers h;
    h.reply = [this](Message m) {
      const std::string id = m.correlation_id;  // not m's: m is moved into the outcome
      if (m.oversize) {
        finish(id, make_error(Errc::too_large, fmt::format("a reply of {} bytes is over the {} byte limit", *m.oversize,
                                                           LinkLimits{}.max_body)));
        return;
      }
      finish(id, std::move(m));
    };
    h.returned = [this](const std::string& id, const std::string& why) {
      finish(id, make_error(Errc::unavailable, why));
    };
    h.state = [this](bool up, const std::string& why) {
      if (!up) fail_all(make_error(Errc::unavailable, "lost the AMQP broker " + broker_.address() + ": " + why));
    };
    auto link = Link::start(broker_, "", std::move(h), false);
    if (!link) return link.error();
    link_ = std::move(*link);
    return {};
  }

  bool up() {
    std::lock_guard lock(mutex_);
    return link_ && link_->up();
  }

  std::string add(std::shared_ptr<Pending> p) {
    std::lock_guard lock(mutex_);
    auto id = fmt::format("{}-{}", prefix_, ++counter_);
    pending_.emplace(id, std::move(p));
    return id;
  }
  void forget(const std::string& id) {
    std::lock_guard lock(mutex_);
    pending_.erase(id);
  }
  bool publish(Message m) {
    std::lock_guard lock(mutex_);
    return link_ && link_->publish(std::move(m));
  }

  void fail_all(const Error& e) {
    std::map<std::string, std::shared_ptr<Pending>> all;
    {
      std::lock_guard lock(mutex_);
      all.swap(pending_);
    }
    for (auto& [id, p] : all) p->done.try_send(boost::system::error_code{}, Outcome(e));
  }

  void close() {
    std::unique_ptr<Link> link;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      link = std::move(link_);
    }
    if (link) link->stop();  // no callback runs after this
    fail_all(make_error(Errc::cancelled, "the client is closing"));
  }

 private:
  void finish(const std::string& id, Outcome outcome) {
    std::shared_ptr<Pending> p;
    {
      std::lock_guard lock(mutex_);
      auto it = pending_.find(id);
      if (it == pending_.end()) return;  // late: its caller gave up
      p = std::move(it->second);
      pending_.erase(it);
    }
    p->done.try_send(boost::system::error_code{}, std::move(outcome));
  }

  Broker broker_;
  std::mutex mutex_;
  std::unique_ptr<Link> link_;
  bool closed_ = false;
  std::map<std::string, std::shared_ptr<Pending>> pending_;
  std::uint64_t counter_ = 0;
  // Correlation ids only need to be unique on this link; the prefix makes logs readable.
  std::string prefix_ = fmt::format("c{:x}", reinterpret_cast<std::uintptr_t>(this) & 0xffffff);
};

namespace {

class AmqpCarrier final : public unary::Carrier {
 public:
  AmqpCarrier(asio::any_io_executor ex, std::shared_ptr<BrokerClient> broker, std::shared_ptr<unary::Inflight> inflight,
              std::string uri, std::string queue, std::size_t max_message, std::shared_ptr<const ClusterKey> key,
              const std::string& token)
      : executor_(std::move(ex)), broker_(std::move(broker)), inflight_(std::move(inflight)), uri_(std::move(uri)),
        queue_(std::move(queue)), max_message_(max_message), key_(std::move(key)),
        authorization_(token.empty() ? std::string() : bearer(token)) {}
  const std::string& uri() const override { return uri_; }

  asio::awaitable<Result<void>> call(std::string_view method, const unary::gpb::Message& request,
                                     unary::gpb::Message& reply, Timeout timeout) override {
    using namespace asio::experimental::awaitable_operators;
    auto fail = [&](Errc code, const std::string& why) { return make_error(code, fmt::format("{} {}: {}", uri_, method, why)); };
    if (!inflight_->enter()) co_return fail(Errc::cancelled, "the client is closing");
    unary::InflightGuard guard{*inflight_};
    auto deadline = std::chrono::steady_clock::now() + timeout;
    if (auto r = broker_->ensure_link(); !r) co_return fail(Errc::unavailable, r.error().message);
    // A link that is (re)connecting gets the call's deadline to come up.
    while (!broker_->up()) {
      if (std::chrono::steady_clock::now() + std::chrono::milliseconds(20) >= deadline)
        co_return fail(Errc::unavailable, "no connection to the AMQP broker");
      asio::steady_timer pause(executor_, std::chrono::milliseconds(20));
      co_await pause.async_wait(tuple_awaitable);
    }
    Message m;
    m.routing_key = queue_;
    m.type = std::string(method);
    m.reply_to = "amq.rabbitmq.reply-to";
    if (!request.SerializeToString(&m.body)) co_return fail(Errc::internal, "cannot serialize the request");
    if (m.body.size() > max_message_)
      co_return fail(Errc::too_large, fmt::format("a request of {} bytes is over the {} byte limit", m.body.size(), max_message_));
    if (key_) m.auth = key_->sign(method, m.body);
    m.authorization = authorization_;
    auto left = std::chrono::duration_cast<Timeout>(deadline - std::chrono::steady_clock::now());
    m.expiration = std::max(left, Timeout(1));  // the broker drops a request nobody will wait for
    auto pending = std::make_shared<BrokerClient::Pending>(executor_);
    m.correlation_id = broker_->add(pending);
    const std::string id = m.correlation_id;
    if (!broker_->publish(std::move(m))) {
      broker_->forget(id);
      co_return fail(Errc::unavailable, "no connection to the AMQP broker");
    }
    asio::steady_timer timer(executor_, deadline);
    auto r = co_await (pending->done.async_receive(tuple_awaitable) || timer.async_wait(tuple_awaitable));
    if (r.index() == 1) {
      broker_->forget(id);
      co_return fail(Errc::deadline_exceeded, fmt::format("no answer within {} ms", timeout.count()));
    }
    auto [ec, outcome] = std::get<0>(std::move(r));
    if (ec) co_return fail(Errc::cancelled, "the call was abandoned");
    if (!outcome) co_return fail(outcome.error().code, outcome.error().message);
    const Message& answer = *outcome;
    if (answer.type == "Status") {
      v1::Status status;
      if (!status.ParseFromString(answer.body)) co_return fail(Errc::invalid_argument, "malformed error reply");
      co_return fail(errc_from_string(status.code()).value_or(Errc::internal), status.message());
    }
    if (answer.type != method) co_return fail(Errc::invalid_argument, fmt::format("a reply of type '{}'", answer.type));
    if (!reply.ParseFromString(answer.body)) co_return fail(Errc::invalid_argument, "malformed reply");
    co_return Result<void>{};
  }

 private:
  asio::any_io_executor executor_;
  std::shared_ptr<BrokerClient> broker_;
  std::shared_ptr<unary::Inflight> inflight_;
  std::string uri_;
  std::string queue_;
  std::size_t max_message_;
  std::shared_ptr<const ClusterKey> key_;  // signs every call when the ring has one
  std::string authorization_;              // "Bearer <client token>", or empty
};

}  // namespace

std::string node_uri(const Broker& broker, const std::string& queue) {
  return fmt::format("{}://{}:{}/{}", broker.scheme(), broker.host, broker.port, queue);
}

Connector::Connector(asio::any_io_executor executor, Broker credentials, Limits limits)
    : executor_(std::move(executor)), credentials_(std::move(credentials)), limits_(limits),
      inflight_(std::make_shared<unary::Inflight>()) {}

Connector::~Connector() { close(); }

Result<std::shared_ptr<ChordService>> Connector::connect(const std::string& uri) {
  std::lock_guard lock(mutex_);
  if (auto cached = clients_.find(uri)) return cached;
  auto ep = wire::parse_endpoint(uri);
  if (!ep) return ep.error();
  if ((ep->scheme != "amqp" && ep->scheme != "amqps") || ep->path.empty() || ep->path.find('/') != std::string::npos)
    return make_error(Errc::invalid_argument,
                      fmt::format("'{}' is not an AMQP node URI (amqp://HOST:PORT/QUEUE or amqps://...)", uri));
  Broker broker = credentials_;
  broker.host = ep->host;
  broker.port = ep->port;
  broker.tls = ep->scheme == "amqps";
  if (broker.tls && !limits_.tls)
    return make_error(Errc::invalid_argument, fmt::format("'{}' takes TLS: give --tls-cert, --tls-key and --tls-ca", uri));
  broker.tls_config = limits_.tls;
  auto& b = brokers_[broker.scheme() + "://" + broker.address()];
  if (!b) b = std::make_shared<BrokerClient>(broker);
  auto client = unary::make_client(
      std::make_shared<AmqpCarrier>(executor_, b, inflight_, uri, ep->path, limits_.max_message_bytes,
                                    limits_.cluster_key, limits_.client_token), limits_.chunk_bytes);
  clients_.add(uri, client);
  return client;
}

void Connector::close() {
  inflight_->close();
  std::map<std::string, std::shared_ptr<BrokerClient>> brokers;
  {
    std::lock_guard lock(mutex_);
    brokers = brokers_;
  }
  for (auto& [address, b] : brokers) b->close();  // fails every pending call
  auto* io = executor_.target<asio::io_context::executor_type>();
  if (io && io->running_in_this_thread()) return;
  if (!inflight_->wait(std::chrono::seconds(5))) spdlog::warn("amqp: calls still in flight after close");
}

}  // namespace chord::amqp
