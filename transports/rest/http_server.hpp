#pragma once
// An asynchronous HTTP/1.1 server on Boost.Beast, shared by the REST transport and the user API:
// keep-alive connections, a timeout on every read and write, bodies read and responses written
// either whole or in pieces (values of hundreds of MiB never sit in memory twice).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>

#include "chord/service.hpp"
#include "http_counters.hpp"
#include "http_stream.hpp"

namespace chord::rest {

namespace beast = boost::beast;
namespace http = beast::http;

// Memory grows with use: a connection holds a few KiB until its client sends a body; a body's
// reads start at first_read_bytes and grow fourfold per full read up to read_buffer_bytes, and
// every buffer is returned between requests. docs/OPERATIONS.md lists these limits.
struct HttpOptions {
  std::size_t read_buffer_bytes = 1 << 20;  // the largest single read of a body
  std::size_t first_read_bytes = 4 << 10;   // what a body that has not yet arrived may cost
  std::size_t header_limit = 16 << 10;
  std::size_t max_connections = 512;  // past it, new connections wait in the OS's backlog
  Timeout header_timeout{10000};  // a request's header, from its first byte to its end
  Timeout io_timeout{30000};      // each read or write of a body or response
  Timeout idle_timeout{60000};    // a keep-alive connection waiting for its next request
  std::string name = "http";      // in log lines and metrics: which listener
  // With it, every connection starts with a TLS handshake (within header_timeout) that
  // verifies the client's certificate.
  std::shared_ptr<asio::ssl::context> tls;
  // Told of each connection refused: here, a failed TLS handshake ("tls"). Any thread.
  std::function<void(const std::string& reason)> refused;
};


// One request on a connection, as its handler sees it.
class Exchange {
 public:
  // remote: the client's IP address, read once per connection.
  Exchange(HttpStream& stream, beast::flat_buffer& buffer, http::request_parser<http::buffer_body>& parser,
           const HttpOptions& options, const std::string& remote);

  // The client's IP address: the unit of per-peer limits.
  const std::string& remote_address() const { return remote_; }

  const http::request_header<>& request() const { return parser_.get(); }
  std::optional<std::uint64_t> content_length() const;
  // The whole body; past limit: too_large, and nothing more is read.
  asio::awaitable<Result<std::string>> read_body(std::size_t limit);
  // At most max bytes of the body; nullopt at its end.
  asio::awaitable<Result<std::optional<std::string>>> read_some(std::size_t max);
  bool body_done() const { return parser_.is_done(); }

  using Headers = std::vector<std::pair<std::string, std::string>>;
  // A response that fails to go out has marked the exchange broken, and the session closes the
  // connection: a handler with nothing else to do may drop the Result ((void)co_await ...).
  // To a HEAD request, every response is its header alone, with the Content-Length the body
  // would have had (RFC 9110 9.3.2): handlers answer HEAD as they answer GET.
  asio::awaitable<Result<void>> respond(http::status status, std::string content_type, std::string body,
                                        Headers headers = {});
  asio::awaitable<Result<void>> respond_error(const Error& e);
  // 405 with the Allow header and the JSON error body.
  asio::awaitable<Result<void>> respond_not_allowed(std::string_view allow);
  // A response whose body follows in pieces: exactly length bytes through write().
  asio::awaitable<Result<void>> begin_response(http::status status, std::string content_type, std::uint64_t length,
                                               Headers headers = {});
  asio::awaitable<Result<void>> write(std::string_view piece);
  asio::awaitable<Result<void>> end_response();
  bool responded() const { return responded_; }
  bool head() const { return parser_.get().method() == http::verb::head; }
  // The connection cannot serve another request (a body left unread, a failed write).
  bool keep_alive() const;

 private:
  struct Streamed;
  // Reads at most max more bytes of the body onto the end of into. false: the body had ended.
  asio::awaitable<Result<bool>> read_onto(std::string& into, std::size_t max);
  asio::awaitable<void> drain_small_body();
  // The fields every response carries: server, type, no caching, extra headers, keep-alive.
  template <class Body>
  void fill_header(http::response<Body>& res, const std::string& content_type, const Headers& headers) const;
  asio::awaitable<Result<void>> write_head_only(http::status status, std::string content_type, std::uint64_t length,
                                                const Headers& headers);
  HttpStream& stream_;
  const std::string& remote_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::buffer_body>& parser_;
  const HttpOptions& options_;
  bool responded_ = false;
  bool broken_ = false;
  std::size_t next_read_ = 0;  // the next body read's size; 0: first_read_bytes
  std::shared_ptr<Streamed> streamed_;
};

using Handler = std::function<asio::awaitable<void>(Exchange&)>;

class HttpServer {
 public:
  // Listens on HOST:PORT (port 0: any free one) and runs handler for every request, on executor.
  static Result<std::unique_ptr<HttpServer>> start(const std::string& listen, asio::any_io_executor executor,
                                                   Handler handler, HttpOptions options = {});
  ~HttpServer();
  std::uint16_t port() const { return port_; }
  // The listener's connection counts, readable for as long as the caller keeps the function
  // (past the server's end).
  std::function<HttpCounters()> counter_source() const;
  // Stops accepting and closes every connection; returns once they are gone. Any thread.
  void shutdown();

  struct State;

 private:
  HttpServer(std::shared_ptr<State> state, std::uint16_t port) : state_(std::move(state)), port_(port) {}
  std::shared_ptr<State> state_;
  std::uint16_t port_;
};

}  // namespace chord::rest
