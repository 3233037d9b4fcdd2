#include "link.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <charconv>
#include <cstdlib>

namespace chord::amqp {

namespace {

constexpr amqp_channel_t channel = 1;
constexpr int heartbeat_seconds = 10;
const char* const reply_queue = "amq.rabbitmq.reply-to";  // RabbitMQ's direct reply-to

std::string text(amqp_bytes_t b) { return b.len ? std::string(static_cast<const char*>(b.bytes), b.len) : std::string(); }
amqp_bytes_t bytes(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

std::string describe(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "ok";
    case AMQP_RESPONSE_NONE: return "no reply from the broker";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return fmt::format("the broker closed the connection: {} {}", m->reply_code, text(m->reply_text));
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return fmt::format("the broker closed the channel: {} {}", m->reply_code, text(m->reply_text));
      }
      return fmt::format("broker error (method {:#x})", r.reply.id);
  }
  return "unknown reply";
}

Message message_of(const amqp_basic_properties_t& p, amqp_bytes_t body) {
  Message m;
  if (p._flags & AMQP_BASIC_TYPE_FLAG) m.type = text(p.type);
  if (p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) m.correlation_id = text(p.correlation_id);
  if (p._flags & AMQP_BASIC_REPLY_TO_FLAG) m.reply_to = text(p.reply_to);
  if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) m.content_type = text(p.content_type);
  if (p._flags & AMQP_BASIC_EXPIRATION_FLAG) {
    auto e = text(p.expiration);
    unsigned long ms = 0;
    if (std::from_chars(e.data(), e.data() + e.size(), ms).ec == std::errc()) m.expiration = std::chrono::milliseconds(ms);
  }
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const auto& e = p.headers.entries[i];
      if (e.value.kind != AMQP_FIELD_KIND_UTF8) continue;
      if (text(e.key) == "chord-auth") m.auth = text(e.value.value.bytes);
      if (text(e.key) == "authorization") m.authorization = text(e.value.value.bytes);
    }
  }
  m.body = text(body);
  return m;
}

}  // namespace

std::string Broker::address() const { return fmt::format("{}:{}", host, port); }

Result<Broker> parse_broker_url(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u || (u->scheme() != "amqp" && u->scheme() != "amqps") || u->host().empty())
    return make_error(Errc::invalid_argument,
                      fmt::format("'{}' is not an amqp:// or amqps://USER:PASS@HOST:PORT/VHOST URL", url));
  Broker b;
  b.host = u->host();
  b.tls = u->scheme() == "amqps";
  if (b.tls) b.port = 5671;
  if (u->has_port()) b.port = u->port_number();
  if (u->has_userinfo()) {
    b.user = u->user();
    b.password = u->password();
  }
  std::string path = u->path();
  b.vhost = path.size() > 1 ? path.substr(1) : "/";
  return b;
}

Result<Broker> default_broker() {
  const char* env = std::getenv("CHORD_AMQP_URL");
  return parse_broker_url(env && *env ? env : "amqp://guest:guest@127.0.0.1:5672/");
}

struct Link::Conn {
  amqp_connection_state_t state = amqp_new_connection();
  std::string request_tag;  // consumer tags, to tell requests from replies
  std::string reply_tag;
  bool healthy = false;     // worth a polite close
  ~Conn() {
    if (healthy) {
      amqp_channel_close(state, channel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(state, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(state);
  }
};

Link::Link(Broker broker, std::string queue, Handlers handlers, LinkLimits limits)
    : broker_(std::move(broker)), queue_(std::move(queue)), handlers_(std::move(handlers)), limits_(limits),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Link::~Link() {
  stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

Result<std::unique_ptr<Link>> Link::start(Broker broker, std::string queue, Handlers handlers, bool connect_now,
                                          LinkLimits limits) {
  std::unique_ptr<Link> link(new Link(std::move(broker), std::move(queue), std::move(handlers), limits));
  if (link->wake_fd_ < 0) return make_error(Errc::internal, "eventfd failed");
  if (connect_now)
    if (auto r = link->connect(); !r) return r.error();
  link->thread_ = std::thread([l = link.get()] { l->run(); });
  return link;
}

Result<void> Link::connect() {
  auto c = std::make_unique<Conn>();
  auto fail = [&](const std::string& what) {
    return make_error(Errc::unavailable, fmt::format("AMQP broker {}: {}", broker_.address(), what));
  };
  amqp_socket_t* socket = nullptr;
  if (broker_.tls) {
    if (!broker_.tls_config) return fail("amqps:// takes TLS: give --tls-cert, --tls-key and --tls-ca");
    socket = amqp_ssl_socket_new(c->state);
    if (!socket) return fail("cannot create a TLS socket");
    const auto& f = broker_.tls_config->files;
    if (amqp_ssl_socket_set_cacert(socket, f.ca.c_str()) != AMQP_STATUS_OK) return fail("cannot load the TLS CA " + f.ca);
    if (amqp_ssl_socket_set_key(socket, f.cert.c_str(), f.key.c_str()) != AMQP_STATUS_OK)
      return fail("cannot load the TLS certificate and key " + f.cert);
    amqp_ssl_socket_set_verify_peer(socket, 1);
    amqp_ssl_socket_set_verify_hostname(socket, 1);
    amqp_ssl_socket_set_ssl_versions(socket, AMQP_TLSv1_2, AMQP_TLSvLATEST);
  } else {
    socket = amqp_tcp_socket_new(c->state);
  }
  if (!socket) return fail("cannot create a socket");
  timeval limit{5, 0};
  amqp_set_handshake_timeout(c->state, &limit);
  amqp_set_rpc_timeout(c->state, &limit);
  timeval connect_limit{2, 0};
  if (int rc = amqp_socket_open_noblock(socket, broker_.host.c_str(), broker_.port, &connect_limit); rc != AMQP_STATUS_OK)
    return fail(fmt::format("cannot connect: {}", amqp_error_string2(rc)));
  // rabbitmq-c writes without a deadline: a broker that stops reading would hold this thread
  // in a publish for good. A send timeout turns that into an error, and the link reconnects.
  timeval send_limit{10, 0};
  setsockopt(amqp_get_sockfd(c->state), SOL_SOCKET, SO_SNDTIMEO, &send_limit, sizeof send_limit);
  auto login = amqp_login(c->state, broker_.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat_seconds,
                          AMQP_SASL_METHOD_PLAIN, broker_.user.c_str(), broker_.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) return fail("login refused: " + describe(login));
  amqp_channel_open(c->state, channel);
  if (auto r = amqp_get_rpc_reply(c->state); r.reply_type != AMQP_RESPONSE_NORMAL) return fail("channel: " + describe(r));
  if (!queue_.empty()) {
    // Exclusive and auto-delete: the queue lives exactly as long as this connection, so a dead
    // node's queue never swallows requests, and a second node cannot take a live node's name.
    amqp_queue_declare(c->state, channel, bytes(queue_), 0, 0, 1, 1, amqp_empty_table);
    if (auto r = amqp_get_rpc_reply(c->state); r.reply_type != AMQP_RESPONSE_NORMAL)
      return fail(fmt::format("cannot declare queue '{}' (held by another node?): {}", queue_, describe(r)));
    // Requests are acknowledged once handled, and at most prefetch of them are out at once: a
    // flood waits at the broker instead of in this process's memory.
    amqp_basic_qos(c->state, channel, 0, limits_.prefetch, 0);
    if (auto r = amqp_get_rpc_reply(c->state); r.reply_type != AMQP_RESPONSE_NORMAL) return fail("basic.qos: " + describe(r));
    auto* ok = amqp_basic_consume(c->state, channel, bytes(queue_), amqp_empty_bytes, 0, 0, 1, amqp_empty_table);
    if (auto r = amqp_get_rpc_reply(c->state); !ok || r.reply_type != AMQP_RESPONSE_NORMAL)
      return fail(fmt::format("cannot consume queue '{}': {}", queue_, describe(r)));
    c->request_tag = text(ok->consumer_tag);
  }
  // Direct reply-to: consume the pseudo-queue (no-ack) before publishing with reply_to set.
  auto* ok = amqp_basic_consume(c->state, channel, amqp_cstring_bytes(reply_queue), amqp_empty_bytes, 0, 1, 0,
                                amqp_empty_table);
  if (auto r = amqp_get_rpc_reply(c->state); !ok || r.reply_type != AMQP_RESPONSE_NORMAL)
    return fail("cannot consume direct replies: " + describe(r));
  c->reply_tag = text(ok->consumer_tag);
  c->healthy = true;
  conn_ = std::move(c);
  ++generation_;
  {
    std::lock_guard lock(mutex_);
    acks_.clear();  // for deliveries of the last connection, which the broker forgot with it
  }
  up_ = true;
  return {};
}

void Link::ack(const Message& m) {
  if (m.delivery_tag == 0) return;
  {
    std::lock_guard lock(mutex_);
    acks_.emplace_back(m.generation, m.delivery_tag);
  }
  wake();
}

Result<Message> Link::read_content(std::uint64_t delivery_tag) {
  auto state = conn_->state;
  auto fail = [&](const std::string& what) { return make_error(Errc::unavailable, what); };
  // The rest of a delivery follows its method frame at once; a broker that stalls mid-message
  // is a broken connection.
  timeval limit{10, 0};
  amqp_frame_t frame;
  if (int rc = amqp_simple_wait_frame_noblock(state, &frame, &limit); rc != AMQP_STATUS_OK)
    return fail(fmt::format("reading a delivery's header: {}", amqp_error_string2(rc)));
  if (frame.frame_type != AMQP_FRAME_HEADER) return fail("a delivery without its content header");
  const std::uint64_t size = frame.payload.properties.body_size;
  Message m = message_of(*static_cast<amqp_basic_properties_t*>(frame.payload.properties.decoded), amqp_empty_bytes);
  m.delivery_tag = delivery_tag;
  m.generation = generation_;
  // The size is known before a byte of the body is read: past the limit, the body is read
  // and dropped frame by frame, never held.
  if (size > limits_.max_body) m.oversize = size;
  else m.body.reserve(static_cast<std::size_t>(size));
  for (std::uint64_t got = 0; got < size;) {
    amqp_maybe_release_buffers(state);
    if (int rc = amqp_simple_wait_frame_noblock(state, &frame, &limit); rc != AMQP_STATUS_OK)
      return fail(fmt::format("reading a delivery's body: {}", amqp_error_string2(rc)));
    if (frame.frame_type != AMQP_FRAME_BODY) return fail("a delivery's body ended early");
    const auto& piece = frame.payload.body_fragment;
    got += piece.len;
    if (got > size) return fail("a delivery's body is longer than its header said");
    if (!m.oversize) m.body.append(static_cast<const char*>(piece.bytes), piece.len);
  }
  return m;
}

bool Link::publish(Message m) {
  if (!up_) return false;
  {
    std::lock_guard lock(mutex_);
    outbox_.push_back(std::move(m));
  }
  wake();
  return true;
}

void Link::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
}

void Link::stop() {
  if (stopping_.exchange(true)) return;
  wake();
  if (thread_.joinable()) thread_.join();
  conn_.reset();
  up_ = false;
}

void Link::run() {
  auto backoff = std::chrono::milliseconds(100);
  bool announced_down = false;
  while (!stopping_) {
    if (!conn_) {
      auto r = connect();
      if (!r) {
        if (!announced_down) spdlog::warn("amqp: {}; retrying", r.error().message);
        announced_down = true;
        pollfd wait{wake_fd_, POLLIN, 0};
        poll(&wait, 1, static_cast<int>(backoff.count()));
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        continue;
      }
      if (announced_down) spdlog::info("amqp: connected to {} again", broker_.address());
      announced_down = false;
      backoff = std::chrono::milliseconds(100);
      if (handlers_.state) handlers_.state(true, "");
    }
    auto r = serve();
    up_ = false;
    if (stopping_) break;
    conn_->healthy = false;
    conn_.reset();
    {
      std::lock_guard lock(mutex_);
      outbox_.clear();  // their callers hear of the failure through state()
    }
    spdlog::warn("amqp: lost the broker {}: {}", broker_.address(), r ? "closed" : r.error().message);
    if (handlers_.state) handlers_.state(false, r ? "connection closed" : r.error().message);
  }
}

Result<void> Link::serve() {
  auto state = conn_->state;
  auto fail = [&](const std::string& what) { return make_error(Errc::unavailable, what); };
  pollfd fds[2] = {{amqp_get_sockfd(state), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  while (!stopping_) {
    std::deque<Message> batch;
    std::deque<std::pair<std::uint64_t, std::uint64_t>> acks;
    {
      std::lock_guard lock(mutex_);
      batch.swap(outbox_);
      acks.swap(acks_);
    }
    for (auto [generation, tag] : acks)
      if (generation == generation_ && amqp_basic_ack(state, channel, tag, 0) != AMQP_STATUS_OK)
        return fail("basic.ack failed");
    for (auto& m : batch) {
      amqp_basic_properties_t p{};
      p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG;
      p.content_type = bytes(m.content_type);
      p.type = bytes(m.type);
      p.correlation_id = bytes(m.correlation_id);
      if (!m.reply_to.empty()) {
        p._flags |= AMQP_BASIC_REPLY_TO_FLAG;
        p.reply_to = bytes(m.reply_to);
      }
      amqp_table_entry_t headers[2];
      int n_headers = 0;
      for (auto [name, value] : {std::pair<const char*, const std::string*>{"chord-auth", &m.auth},
                                 {"authorization", &m.authorization}}) {
        if (value->empty()) continue;
        headers[n_headers].key = amqp_cstring_bytes(name);
        headers[n_headers].value.kind = AMQP_FIELD_KIND_UTF8;
        headers[n_headers].value.value.bytes = bytes(*value);
        ++n_headers;
      }
      if (n_headers > 0) {
        p._flags |= AMQP_BASIC_HEADERS_FLAG;
        p.headers.num_entries = n_headers;
        p.headers.entries = headers;
      }
      std::string expiration;
      if (m.expiration) {
        expiration = std::to_string(std::max<long long>(1, m.expiration->count()));
        p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        p.expiration = bytes(expiration);
      }
      // mandatory: a queue that does not exist returns the message at once instead of
      // dropping it, so the caller learns that the node is gone without waiting out a deadline.
      int rc = amqp_basic_publish(state, channel, amqp_empty_bytes, bytes(m.routing_key), 1, 0, &p, bytes(m.body));
      spdlog::trace("amqp: published {} {} to {} ({} bytes): {}", m.type, m.correlation_id, m.routing_key, m.body.size(), rc);
      if (rc != AMQP_STATUS_OK) return fail(fmt::format("publish: {}", amqp_error_string2(rc)));
    }
    if (!amqp_data_in_buffer(state) && !amqp_frames_enqueued(state)) {
      // Wake for the broker, for a message to publish, or once a second for heartbeats.
      fds[0].revents = fds[1].revents = 0;
      if (poll(fds, 2, 1000) < 0 && errno != EINTR) return fail(fmt::format("poll: {}", std::strerror(errno)));
      if (fds[1].revents & POLLIN) {
        std::uint64_t n;
        [[maybe_unused]] auto got = read(wake_fd_, &n, sizeof n);
      }
    }
    amqp_maybe_release_buffers(state);
    {
      timeval zero{0, 0};
      amqp_frame_t frame;
      if (int rc = amqp_simple_wait_frame_noblock(state, &frame, &zero); rc != AMQP_STATUS_OK) {
        if (rc == AMQP_STATUS_TIMEOUT) continue;
        return fail(fmt::format("reading a frame: {}", amqp_error_string2(rc)));
      }
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      switch (frame.payload.method.id) {
        case AMQP_BASIC_DELIVER_METHOD: {
          auto* d = static_cast<amqp_basic_deliver_t*>(frame.payload.method.decoded);
          const bool is_request = !conn_->request_tag.empty() && text(d->consumer_tag) == conn_->request_tag;
          auto m = read_content(is_request ? d->delivery_tag : 0);
          if (!m) return m.error();
          spdlog::trace("amqp: received {} {} ({}, {} bytes)", m->type, m->correlation_id, is_request ? "request" : "reply",
                        m->oversize ? *m->oversize : m->body.size());
          if (is_request) {
            if (handlers_.request) handlers_.request(std::move(*m));
            else ack(*m);
          } else if (handlers_.reply) {
            handlers_.reply(std::move(*m));
          }
          break;
        }
        case AMQP_BASIC_RETURN_METHOD: {
          auto* ret = static_cast<amqp_basic_return_t*>(frame.payload.method.decoded);
          std::string why = fmt::format("no queue '{}' at the broker ({} {})", text(ret->routing_key), ret->reply_code,
                                        text(ret->reply_text));
          amqp_message_t returned;
          auto rr = amqp_read_message(state, frame.channel, &returned, 0);
          if (rr.reply_type != AMQP_RESPONSE_NORMAL) return fail("reading a returned message: " + describe(rr));
          auto m = message_of(returned.properties, returned.body);
          amqp_destroy_message(&returned);
          if (handlers_.returned) handlers_.returned(m.correlation_id, why);
          break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
          auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
          return fail(fmt::format("the broker closed the channel: {} {}", m->reply_code, text(m->reply_text)));
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
          auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
          return fail(fmt::format("the broker closed the connection: {} {}", m->reply_code, text(m->reply_text)));
        }
        default: break;
      }
    }
  }
  return {};
}

}  // namespace chord::amqp
