#include "http_client.hpp"

#include <cerrno>
#include <set>

#include <sys/socket.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include "chord/cluster_key.hpp"
#include "chord/tuple_awaitable.hpp"

namespace chord::rest {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Connection {
  Connection(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> tls) : stream(ex, std::move(tls)) {
    buffer.reserve(64 << 10);
  }
  HttpStream stream;
  beast::flat_buffer buffer;
};

// A kept-alive connection the server has closed (or that holds bytes nobody asked for) is not
// used again. Peeking costs one system call and saves sending a request into a closed socket.
bool unusable(Connection& c) {
  if (c.buffer.size() != 0) return true;
  char byte;
  ssize_t n = ::recv(c.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

// The server closed a kept-alive connection before it read our request: safe to send again.
bool stale(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}
}  // namespace

struct HttpPeer::Impl {
  asio::any_io_executor executor;
  std::string host;
  std::uint16_t port;
  std::shared_ptr<unary::Inflight> inflight;
  HttpClientOptions options;
  std::vector<std::unique_ptr<Connection>> idle;
  std::set<Connection*> busy;
  bool closed = false;
};

HttpPeer::HttpPeer(asio::any_io_executor executor, std::string host, std::uint16_t port, std::string name,
                   std::shared_ptr<unary::Inflight> inflight, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(Impl{std::move(executor), std::move(host), port, std::move(inflight), options, {}, {}, false})),
      name_(std::move(name)) {}

HttpPeer::~HttpPeer() = default;

void HttpPeer::close() {
  impl_->closed = true;
  boost::system::error_code ignored;
  for (auto& c : impl_->idle) c->stream.socket().close(ignored);
  impl_->idle.clear();
  for (auto* c : impl_->busy) c->stream.socket().close(ignored);
}

asio::awaitable<Result<HttpResponse>> HttpPeer::request(std::string method, std::string target,
                                                        std::string content_type, std::string body, Timeout timeout,
                                                        std::string what, bool idempotent, std::string auth,
                                                        std::string authorization) {
  auto impl = impl_;  // the peer may be dropped while this request runs
  auto fail = [&](Errc code, const std::string& why) {
    return make_error(code, fmt::format("{} {}: {}", name_, what, why));
  };
  auto failed_io = [&](const boost::system::error_code& ec, std::string_view step) {
    if (ec == beast::error::timeout) return fail(Errc::deadline_exceeded, fmt::format("no answer within {} ms", timeout.count()));
    if (impl->closed) return fail(Errc::cancelled, "the client is closing");
    // OpenSSL's verdicts (a certificate of another CA, none at all, plain text at the other end)
    // do not change with retries.
    if (ec.category() == asio::error::get_ssl_category())
      return fail(Errc::unauthenticated, fmt::format("{}: TLS: {}", step, ec.message()));
    return fail(Errc::unavailable, fmt::format("{}: {}", step, ec.message()));
  };
  if (impl->closed || !impl->inflight->enter()) co_return fail(Errc::cancelled, "the client is closing");
  unary::InflightGuard leave_guard{*impl->inflight};

  auto verb = http::string_to_verb(method);
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, fmt::format("{}:{}", impl->host, impl->port));
  req.set(http::field::user_agent, "chordnode");
  req.set("Chord-Timeout-Ms", std::to_string(timeout.count()));  // the server bounds its work by it
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  if (!auth.empty()) req.set(ClusterKey::kHeader, auth);  // proof of the cluster key
  if (!authorization.empty()) req.set(http::field::authorization, authorization);  // the client token
  req.body() = std::move(body);
  req.keep_alive(true);
  req.prepare_payload();

  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> c;
    bool reused = false;
    while (!impl->idle.empty() && !c) {
      c = std::move(impl->idle.back());
      impl->idle.pop_back();
      if (unusable(*c)) c.reset();
    }
    if (c) {
      reused = true;
    } else {
      c = std::make_unique<Connection>(impl->executor, impl->options.tls);
    }
    impl->busy.insert(c.get());
    struct Unbusy {
      Impl& i;
      Connection* c;
      ~Unbusy() { i.busy.erase(c); }
    } unbusy{*impl, c.get()};
    c->stream.expires_at(deadline);
    if (!reused) {
      boost::system::error_code ec;
      auto address = asio::ip::make_address(impl->host, ec);
      tcp::endpoint endpoint;
      if (!ec) {
        endpoint = tcp::endpoint(address, impl->port);
      } else {
        using namespace asio::experimental::awaitable_operators;
        tcp::resolver resolver(impl->executor);
        asio::steady_timer timer(impl->executor, deadline);
        auto r = co_await (resolver.async_resolve(impl->host, std::to_string(impl->port), tuple_awaitable) ||
                           timer.async_wait(tuple_awaitable));
        if (r.index() == 1) co_return fail(Errc::deadline_exceeded, "resolving the host took too long");
        auto [rec, results] = std::get<0>(std::move(r));
        if (rec || results.empty()) co_return fail(Errc::unavailable, "cannot resolve " + impl->host);
        endpoint = *results.begin();
      }
      auto [cec] = co_await c->stream.tcp_stream().async_connect(endpoint, tuple_awaitable);
      if (cec) co_return failed_io(cec, "connect");
      boost::system::error_code ignored;
      c->stream.socket().set_option(tcp::no_delay(true), ignored);
      if (auto hec = co_await c->stream.handshake_client(impl->host)) co_return failed_io(hec, "TLS handshake");
    }
    auto [wec, wn] = co_await http::async_write(c->stream, req, tuple_awaitable);
    if (wec) {
      if (reused && attempt == 0 && stale(wec) && idempotent) continue;
      co_return failed_io(wec, "sending the request");
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(impl->options.max_response_bytes);
    auto [rec, rn] = co_await http::async_read(c->stream, c->buffer, parser, tuple_awaitable);
    if (rec) {
      if (reused && attempt == 0 && stale(rec) && rn == 0 && idempotent) continue;
      if (rec == http::error::body_limit)
        co_return fail(Errc::too_large, fmt::format("a response over the {} byte limit", impl->options.max_response_bytes));
      co_return failed_io(rec, "reading the response");
    }
    auto res = parser.release();
    HttpResponse out{res.result_int(), std::string(res[http::field::content_type]), std::move(res.body())};
    if (res.keep_alive() && !impl->closed && impl->idle.size() < impl->options.max_idle) {
      c->stream.expires_never();
      impl->idle.push_back(std::move(c));
    }
    co_return out;
  }
}

}  // namespace chord::rest
