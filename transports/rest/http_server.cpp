#include "http_server.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http_status.hpp"
#include "uri.hpp"
#include "chord/tuple_awaitable.hpp"

namespace chord::rest {

using tcp = asio::ip::tcp;
namespace {

Error io_error(const boost::system::error_code& ec, std::string_view what) {
  Errc code = ec == beast::error::timeout ? Errc::deadline_exceeded : Errc::unavailable;
  return make_error(code, fmt::format("{}: {}", what, ec.message()));
}
}  // namespace

// ---- Exchange -------------------------------------------------------------------------------

struct Exchange::Streamed {
  explicit Streamed(http::response<http::buffer_body> r) : response(std::move(r)), serializer(response) {}
  http::response<http::buffer_body> response;
  http::response_serializer<http::buffer_body> serializer;
  std::uint64_t left = 0;
};

Exchange::Exchange(HttpStream& stream, beast::flat_buffer& buffer,
                   http::request_parser<http::buffer_body>& parser, const HttpOptions& options, const std::string& remote)
    : stream_(stream), remote_(remote), buffer_(buffer), parser_(parser), options_(options) {}

std::optional<std::uint64_t> Exchange::content_length() const {
  auto n = parser_.content_length();
  if (!n) return std::nullopt;
  return *n;
}

bool Exchange::keep_alive() const {
  return !broken_ && parser_.is_done() && parser_.get().keep_alive() && (!streamed_ || streamed_->left == 0);
}

asio::awaitable<Result<bool>> Exchange::read_onto(std::string& into, std::size_t max) {
  if (parser_.is_done()) co_return false;
  // A client that asked before sending its body (curl does, past 1 KiB) waits for this.
  if (auto expect = parser_.get()[http::field::expect]; beast::iequals(expect, "100-continue")) {
    parser_.get().erase(http::field::expect);
    http::response<http::empty_body> go{http::status::continue_, parser_.get().version()};
    stream_.expires_after(options_.io_timeout);
    auto [ec, n] = co_await http::async_write(stream_, go, tuple_awaitable);
    if (ec) {
      broken_ = true;
      co_return io_error(ec, "writing 100 Continue");
    }
  }
  // A body that has not arrived costs first_read_bytes; the reads grow while it flows.
  if (next_read_ == 0) next_read_ = std::min(options_.first_read_bytes, options_.read_buffer_bytes);
  const std::size_t had = into.size();
  into.resize(had + std::min(max, next_read_));
  if (buffer_.capacity() < std::min<std::size_t>(next_read_, 64 << 10))
    buffer_.reserve(std::min<std::size_t>(next_read_, 64 << 10));  // Beast reads 512 bytes at a time into less
  auto& body = parser_.get().body();
  body.data = into.data() + had;
  body.size = into.size() - had;
  stream_.expires_after(options_.io_timeout);
  auto [ec, n] = co_await http::async_read(stream_, buffer_, parser_, tuple_awaitable);
  if (ec == http::error::need_buffer) ec = {};
  if (ec) {
    broken_ = true;
    into.resize(had);
    co_return io_error(ec, "reading the request body");
  }
  if (body.size == 0) next_read_ = std::min(next_read_ * 4, options_.read_buffer_bytes);
  into.resize(into.size() - body.size);
  co_return !(into.size() == had && parser_.is_done());
}

asio::awaitable<Result<std::optional<std::string>>> Exchange::read_some(std::size_t max) {
  std::string out;
  auto more = co_await read_onto(out, max);
  if (!more) co_return more.error();
  if (!*more) co_return std::optional<std::string>{};
  co_return std::optional<std::string>(std::move(out));
}

asio::awaitable<Result<std::string>> Exchange::read_body(std::size_t limit) {
  auto too_large = [&](std::uint64_t n) {
    broken_ = !parser_.is_done();
    return make_error(Errc::too_large, fmt::format("a body of {} bytes is over the {} byte limit", n, limit));
  };
  auto declared = content_length();
  if (declared && *declared > limit) co_return too_large(*declared);
  // Read straight onto the end of one string, which grows as bytes come: a declared length
  // alone reserves nothing. (Pieces read apart and appended were two more copies of a value's
  // chunk, and a zeroed buffer each.)
  std::string all;
  for (;;) {
    auto more = co_await read_onto(all, std::min<std::size_t>(options_.read_buffer_bytes, limit - all.size() + 1));
    if (!more) co_return more.error();
    if (!*more) co_return all;
    if (all.size() > limit) co_return too_large(all.size());
  }
}

asio::awaitable<void> Exchange::drain_small_body() {
  // A short body the handler did not want is read and dropped, so that the connection can carry
  // the next request; a long one ends the connection instead.
  constexpr std::uint64_t small = 64 << 10;
  if (parser_.is_done() || broken_ || !content_length() || *content_length() > small) co_return;
  while (!parser_.is_done() && !broken_)
    if (auto piece = co_await read_some(small); !piece || !*piece) break;
}

template <class Body>
void Exchange::fill_header(http::response<Body>& res, const std::string& content_type, const Headers& headers) const {
  res.set(http::field::server, "chordnode");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  for (auto& [name, value] : headers) res.set(name, value);
  res.keep_alive(parser_.get().keep_alive() && parser_.is_done() && !broken_);
}

asio::awaitable<Result<void>> Exchange::write_head_only(http::status status, std::string content_type,
                                                        std::uint64_t length, const Headers& headers) {
  http::response<http::empty_body> res{status, parser_.get().version()};
  fill_header(res, content_type, headers);
  res.content_length(length);
  responded_ = true;
  stream_.expires_after(options_.io_timeout);
  http::response_serializer<http::empty_body> sr{res};
  auto [ec, n] = co_await http::async_write_header(stream_, sr, tuple_awaitable);
  if (ec) {
    broken_ = true;
    co_return io_error(ec, "writing the response header");
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Exchange::respond(http::status status, std::string content_type, std::string body,
                                                Headers headers) {
  co_await drain_small_body();
  if (head()) co_return co_await write_head_only(status, std::move(content_type), body.size(), headers);
  http::response<http::string_body> res{status, parser_.get().version()};
  fill_header(res, content_type, headers);
  res.body() = std::move(body);
  res.prepare_payload();
  responded_ = true;
  stream_.expires_after(options_.io_timeout);
  auto [ec, n] = co_await http::async_write(stream_, res, tuple_awaitable);
  if (ec) {
    broken_ = true;
    co_return io_error(ec, "writing the response");
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Exchange::respond_error(const Error& e) {
  co_return co_await respond(status_of(e.code), "application/json", error_body(e));
}

asio::awaitable<Result<void>> Exchange::respond_not_allowed(std::string_view allow) {
  auto body = error_body(make_error(Errc::invalid_argument, fmt::format("{} is not allowed on {}; allowed: {}",
                                                                        request().method_string(), request().target(),
                                                                        allow)));
  Headers headers;  // named: g++ 12 mishandles braced temporaries in a coroutine
  headers.emplace_back("Allow", std::string(allow));
  co_return co_await respond(http::status::method_not_allowed, "application/json", std::move(body),
                             std::move(headers));
}

asio::awaitable<Result<void>> Exchange::begin_response(http::status status, std::string content_type,
                                                       std::uint64_t length, Headers headers) {
  co_await drain_small_body();
  if (head()) co_return co_await write_head_only(status, std::move(content_type), length, headers);  // streamed_ stays empty
  http::response<http::buffer_body> res{status, parser_.get().version()};
  fill_header(res, content_type, headers);
  res.content_length(length);
  res.body().data = nullptr;
  res.body().more = true;
  streamed_ = std::make_shared<Streamed>(std::move(res));
  streamed_->left = length;
  responded_ = true;
  stream_.expires_after(options_.io_timeout);
  auto [ec, n] = co_await http::async_write_header(stream_, streamed_->serializer, tuple_awaitable);
  if (ec) {
    broken_ = true;
    co_return io_error(ec, "writing the response header");
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Exchange::write(std::string_view piece) {
  if (!streamed_ || piece.size() > streamed_->left) {
    broken_ = true;
    co_return make_error(Errc::internal, "a response body longer than announced");
  }
  auto& body = streamed_->response.body();
  body.data = const_cast<char*>(piece.data());  // buffer_body only reads through it
  body.size = piece.size();
  body.more = true;
  stream_.expires_after(options_.io_timeout);
  auto [ec, n] = co_await http::async_write(stream_, streamed_->serializer, tuple_awaitable);
  if (ec == http::error::need_buffer) ec = {};
  if (ec) {
    broken_ = true;
    co_return io_error(ec, "writing the response body");
  }
  streamed_->left -= piece.size();
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Exchange::end_response() {
  if (!streamed_) co_return Result<void>{};
  if (streamed_->left != 0) {
    broken_ = true;  // the client sees a short body and a closed connection: never a silent truncation
    co_return make_error(Errc::internal, fmt::format("the response ended {} bytes short", streamed_->left));
  }
  auto& body = streamed_->response.body();
  body.data = nullptr;
  body.size = 0;
  body.more = false;
  stream_.expires_after(options_.io_timeout);
  auto [ec, n] = co_await http::async_write(stream_, streamed_->serializer, tuple_awaitable);
  if (ec) {
    broken_ = true;
    co_return io_error(ec, "ending the response");
  }
  co_return Result<void>{};
}

// ---- HttpServer -----------------------------------------------------------------------------

struct HttpServer::State {
  State(asio::any_io_executor ex, Handler h, HttpOptions o)
      : executor(ex), acceptor(ex), handler(std::move(h)), options(o) {}
  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  Handler handler;
  HttpOptions options;
  bool stopping = false;
  std::set<HttpStream*> connections;  // touched on the executor only
  asio::steady_timer slot_free{executor};    // cancelled when a connection ends
  std::atomic<std::size_t> open{0};
  std::atomic<std::uint64_t> accepted{0}, at_limit{0}, accept_errors{0};
  std::mutex mutex;                          // guards running, for shutdown's wait
  std::condition_variable idle;
  int running = 0;  // the accept loop and the sessions

  void enter() {
    std::lock_guard lock(mutex);
    ++running;
  }
  void leave() {
    std::lock_guard lock(mutex);
    if (--running == 0) idle.notify_all();
  }
  void close_all() {
    stopping = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    slot_free.cancel();
    for (auto* c : connections) c->socket().close(ignored);
  }
};

namespace {

asio::awaitable<void> session(std::shared_ptr<HttpServer::State> st, tcp::socket socket) {
  HttpStream stream(std::move(socket), st->options.tls);
  st->connections.insert(&stream);
  boost::system::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  // Read once: two system calls a request asked the kernel for what a connection cannot change.
  const auto peer = stream.socket().remote_endpoint(ignored);
  const std::string remote = ignored ? std::string("unknown") : peer.address().to_string();
  bool secured = true;
  if (stream.tls()) {
    stream.expires_after(st->options.header_timeout);
    if (auto ec = co_await stream.handshake_server()) {
      // A plain-text client, or one without a certificate of the ring's CA.
      secured = false;
      if (st->options.refused) st->options.refused("tls");
      spdlog::debug("{}: TLS handshake failed: {}", st->options.name, ec.message());
    }
  }
  // Bounded: a header, plus what one body read asks for.
  beast::flat_buffer buffer(st->options.header_limit + std::max<std::size_t>(st->options.read_buffer_bytes, 64 << 10));
  try {
    while (secured && !st->stopping) {
      http::request_parser<http::buffer_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(st->options.header_limit));
      parser.body_limit(boost::none);  // each handler bounds the bodies it reads
      if (buffer.size() == 0) {
        // Idle between requests: hold no buffer, and wait for the first byte of the next.
        buffer.shrink_to_fit();
        stream.expires_after(st->options.idle_timeout);
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(1024), tuple_awaitable);
        if (ec) break;
        buffer.commit(n);
      }
      // The rest of the header must follow within header_timeout, however slowly it trickles.
      stream.expires_after(st->options.header_timeout);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, tuple_awaitable);
      if (ec) {
        if (ec.category() == http::make_error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream &&
            ec != http::error::partial_message) {
          // Not HTTP: say so once, then hang up.
          http::response<http::string_body> res{http::status::bad_request, 11};
          res.set(http::field::content_type, "application/json");
          res.body() = error_body(make_error(Errc::invalid_argument, "malformed HTTP request: " + ec.message()));
          res.keep_alive(false);
          res.prepare_payload();
          stream.expires_after(st->options.io_timeout);
          co_await http::async_write(stream, res, tuple_awaitable);
        }
        break;
      }
      Exchange exchange(stream, buffer, parser, st->options, remote);
      co_await st->handler(exchange);
      if (!exchange.responded())
        (void)co_await exchange.respond_error(make_error(Errc::internal, "the handler gave no response"));
      if (!exchange.keep_alive()) break;
    }
  } catch (const std::exception& e) {
    spdlog::error("http: a request failed: {}", e.what());
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  // A client may still be sending a body we refused: read and drop it for a moment, since
  // closing with unread bytes resets the connection and can destroy our answer in flight.
  if (secured && !st->stopping) {
    stream.expires_after(std::chrono::seconds(2));
    std::vector<char> sink(4 << 10);
    for (std::size_t total = 0; total < (64u << 20);) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), tuple_awaitable);
      if (ec) break;
      total += n;
    }
  }
  st->connections.erase(&stream);
  --st->open;
  st->slot_free.cancel();
  st->leave();
}

// Out of descriptors (or memory), accepting again at once spins: wait, longer each time, and
// say so once per interval with how often it happened, instead of a line per attempt.
bool resource_shortage(const boost::system::error_code& ec) {
  namespace errc = boost::system::errc;
  return ec == errc::too_many_files_open || ec == errc::too_many_files_open_in_system ||
         ec == errc::no_buffer_space || ec == errc::not_enough_memory;
}

asio::awaitable<void> accept_loop(std::shared_ptr<HttpServer::State> st) {
  using namespace std::chrono;
  asio::steady_timer pause(st->executor);
  milliseconds backoff{0};
  std::uint64_t unlogged = 0;
  auto last_log = steady_clock::time_point{};
  while (!st->stopping) {
    if (st->open >= st->options.max_connections) {
      // Full: leave new connections in the kernel's backlog rather than serve them at the
      // expense of those we have.
      ++st->at_limit;
      st->slot_free.expires_after(std::chrono::milliseconds(100));  // a session's end wakes it sooner
      co_await st->slot_free.async_wait(tuple_awaitable);
      continue;
    }
    auto [ec, socket] = co_await st->acceptor.async_accept(tuple_awaitable);
    if (ec) {
      if (!st->acceptor.is_open() || st->stopping) break;
      ++st->accept_errors;
      ++unlogged;
      backoff = resource_shortage(ec) ? std::clamp(backoff * 2, milliseconds(10), milliseconds(1000)) : milliseconds(10);
      if (steady_clock::now() - last_log >= seconds(10)) {
        spdlog::warn("{}: accept failed {} time(s) in the last 10 s, last: {}; pausing {} ms between tries",
                     st->options.name, unlogged, ec.message(), backoff.count());
        unlogged = 0;
        last_log = steady_clock::now();
      }
      pause.expires_after(backoff);
      co_await pause.async_wait(tuple_awaitable);
      continue;
    }
    backoff = milliseconds(0);
    ++st->accepted;
    ++st->open;
    st->enter();
    asio::co_spawn(st->executor, session(st, std::move(socket)), asio::detached);
  }
  st->leave();
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& listen, asio::any_io_executor executor,
                                                      Handler handler, HttpOptions options) {
  auto ep = wire::parse_host_port(listen);
  if (!ep) return ep.error();
  boost::system::error_code ec;
  auto address = asio::ip::make_address(ep->host == "localhost" ? "127.0.0.1" : ep->host, ec);
  if (ec) return make_error(Errc::invalid_argument, fmt::format("'{}': listen on an IP address", listen));
  auto st = std::make_shared<State>(executor, std::move(handler), options);
  tcp::endpoint endpoint(address, ep->port);
  st->acceptor.open(endpoint.protocol(), ec);
  if (!ec) st->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) st->acceptor.bind(endpoint, ec);
  if (!ec) st->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::unavailable, fmt::format("cannot listen on {}: {}", listen, ec.message()));
  auto port = st->acceptor.local_endpoint().port();
  st->enter();
  asio::co_spawn(executor, accept_loop(st), asio::detached);
  return std::unique_ptr<HttpServer>(new HttpServer(st, port));
}

HttpServer::~HttpServer() { shutdown(); }

namespace {
HttpCounters read_counters(const HttpServer::State& st) {
  return HttpCounters{st.open.load(), st.accepted.load(), st.at_limit.load(), st.accept_errors.load()};
}
}  // namespace

std::function<HttpCounters()> HttpServer::counter_source() const {
  return [st = state_] { return st ? read_counters(*st) : HttpCounters{}; };
}

void HttpServer::shutdown() {
  if (!state_) return;
  auto st = std::exchange(state_, nullptr);
  if (st->executor.target<asio::io_context::executor_type>() &&
      st->executor.target<asio::io_context::executor_type>()->running_in_this_thread()) {
    st->close_all();  // the sessions end after this returns; they hold the state
    return;
  }
  asio::dispatch(st->executor, [st] { st->close_all(); });
  std::unique_lock lock(st->mutex);
  if (!st->idle.wait_for(lock, std::chrono::seconds(5), [&] { return st->running == 0; }))
    spdlog::warn("http: {} connections still open at shutdown", st->running);
}

}  // namespace chord::rest
