// AMQP server: requests from the node's queue, answered by the node through the shared
// Dispatcher, replies published to each request's reply_to.
#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <google/protobuf/message.h>
#include <spdlog/spdlog.h>

#include "admission.hpp"
#include "chord/secret_file.hpp"
#include "amqp_transport.hpp"
#include "chord/v1/chord.pb.h"
#include "unary.hpp"

namespace chord::amqp {

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor ex, std::shared_ptr<ChordService> node, Limits l, Timeout t)
      : executor(ex), dispatcher(ex, std::move(node), unary::Limits{l.chunk_bytes, l.max_transfers, l.max_transfers_per_peer, l.refused}), limits(l), timeout(t) {}
  asio::any_io_executor executor;
  unary::Dispatcher dispatcher;
  Limits limits;
  Timeout timeout;
  std::unique_ptr<Link> link;
  // Requests that cannot be answered (no reply_to or no correlation_id): counted, and logged
  // at most once a minute so that a flood of them cannot flood the log.
  std::uint64_t unanswerable = 0, unanswerable_logged = 0;
  std::chrono::steady_clock::time_point next_report{};

  void note_unanswerable(const Message& m) {
    ++unanswerable;
    if (limits.refused) limits.refused(m.reply_to.empty() ? "no_reply_to" : "no_correlation_id");
    auto now = std::chrono::steady_clock::now();
    if (now < next_report) return;
    next_report = now + std::chrono::minutes(1);
    spdlog::warn("amqp: a '{}' request without {} cannot be answered and was dropped ({} such so far, {} since the "
                 "last report)",
                 m.type.empty() ? "untyped" : m.type, m.reply_to.empty() ? "reply_to" : "correlation_id", unanswerable,
                 unanswerable - unanswerable_logged);
    unanswerable_logged = unanswerable;
  }

  asio::awaitable<void> handle(Message m) {
    co_await answer(m);
    if (link) link->ack(m);  // handled: the broker may hand out the next request
  }

  asio::awaitable<void> answer(const Message& m) {
    if (m.reply_to.empty() || m.correlation_id.empty()) {
      note_unanswerable(m);  // nobody to answer
      co_return;
    }
    Message out;
    out.routing_key = m.reply_to;
    out.correlation_id = m.correlation_id;
    auto reply = co_await run(m);
    if (reply) {
      out.type = m.type;
      (*reply)->SerializeToString(&out.body);
    } else {
      v1::Status status;
      status.set_code(std::string(to_string(reply.error().code)));
      status.set_message(reply.error().message);
      out.type = "Status";
      status.SerializeToString(&out.body);
    }
    if (link) link->publish(std::move(out));  // down: the caller's deadline tells it
  }

  asio::awaitable<Result<std::unique_ptr<unary::gpb::Message>>> run(const Message& m) {
    auto request = unary::Dispatcher::new_request(m.type);
    if (!request) co_return make_error(Errc::not_found, fmt::format("chord.v1.Chord has no method '{}'", m.type));
    if (m.oversize) {
      if (limits.refused) limits.refused("too_large");
      co_return make_error(Errc::too_large, fmt::format("{}: a message of {} bytes is over the {} byte limit (not read)",
                                                        m.type, *m.oversize, limits.max_message_bytes));
    }
    if (m.content_type != "application/x-protobuf")
      co_return make_error(Errc::invalid_argument, fmt::format("{}: content type '{}', expected application/x-protobuf", m.type, m.content_type));
    if (m.body.size() > limits.max_message_bytes)
      co_return make_error(Errc::too_large, fmt::format("{}: a message of {} bytes is over the {} byte limit", m.type,
                                                        m.body.size(), limits.max_message_bytes));
    // Proof of the cluster key is checked on the bytes as they came, before they are decoded.
    auto member = wire::prove_member(limits.cluster_key.get(), m.type, m.body, m.auth);
    if (!member) {
      wire::note_refusal("amqp", m.reply_to, member.error(), limits.refused);
      co_return member.error();
    }
    if (auto rated = wire::within_rate(limits.peer_rate.get(), *member, m.reply_to); !rated) {
      wire::note_refusal("amqp", m.reply_to, rated.error(), limits.refused);
      co_return rated.error();
    }
    if (!request->ParseFromString(m.body))
      co_return make_error(Errc::invalid_argument, fmt::format("{}: malformed protobuf request", m.type));
    Timeout t = m.expiration ? std::min(*m.expiration, timeout) : timeout;
    auto reply = co_await dispatcher.dispatch(m.type, *request, t, m.reply_to, *member,
                                              bearer_matches(limits.client_token, m.authorization));
    if (!reply && reply.error().code == Errc::unauthenticated)
      wire::note_refusal("amqp", m.reply_to, reply.error(), limits.refused);
    co_return reply;
  }
};

namespace {
// The request's coroutine owns the server's state: the server may go while it runs.
asio::awaitable<void> serve_one(std::shared_ptr<Server::Impl> self, Message m) { co_await self->handle(std::move(m)); }
}  // namespace

Result<std::unique_ptr<Server>> Server::start(const std::string& queue, const Broker& broker,
                                              asio::any_io_executor executor, std::shared_ptr<ChordService> node,
                                              Limits limits, Timeout default_timeout) {
  if (queue.empty() || queue.size() > 255 || queue.starts_with("amq.") || queue.find('/') != std::string::npos)
    return make_error(Errc::invalid_argument,
                      fmt::format("'{}': a queue name has 1 to 255 characters, no '/', and does not begin with 'amq.'", queue));
  auto impl = std::make_shared<Impl>(executor, std::move(node), limits, default_timeout);
  std::weak_ptr<Impl> weak = impl;
  Link::Handlers h;
  // On the link's thread: hand each request to the node's executor.
  h.request = [weak, executor](Message m) {
    asio::post(executor, [weak, m = std::move(m)]() mutable {
      if (auto self = weak.lock()) asio::co_spawn(self->executor, serve_one(self, std::move(m)), asio::detached);
    });
  };
  h.state = [queue](bool up, const std::string& why) {
    if (up) spdlog::info("amqp: serving queue '{}' again", queue);
    else spdlog::warn("amqp: queue '{}' is unreachable until the broker returns: {}", queue, why);
  };
  LinkLimits link_limits;
  link_limits.max_body = limits.max_message_bytes;
  link_limits.prefetch = limits.prefetch;
  Broker with_tls = broker;
  with_tls.tls_config = limits.tls;
  auto link = Link::start(with_tls, queue, std::move(h), true, link_limits);
  if (!link) return link.error();
  impl->link = std::move(*link);
  return std::unique_ptr<Server>(new Server(std::move(impl), node_uri(broker, queue)));
}

Server::~Server() { shutdown(); }

void Server::shutdown() {
  // The link's thread ends here; replies still being computed find no link and are dropped.
  if (impl_ && impl_->link) impl_->link->stop();
  if (impl_) impl_->dispatcher.close();
}

}  // namespace chord::amqp
