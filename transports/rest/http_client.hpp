#pragma once
// HTTP/1.1 client of one peer: a pool of keep-alive connections (TCP_NODELAY), a deadline on
// every request covering connect, write and read, and a bound on the response body.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "chord/service.hpp"
#include "http_stream.hpp"
#include "inflight.hpp"

namespace chord::rest {

struct HttpResponse {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

struct HttpClientOptions {
  std::size_t max_idle = 8;                   // connections kept open per peer
  std::size_t max_response_bytes = 8 << 20;  // any one response body
  std::shared_ptr<asio::ssl::context> tls;    // https: TLS to the peer, its certificate checked
};

class HttpPeer {
 public:
  // host:port of the peer; name is how errors call it (its URI).
  HttpPeer(asio::any_io_executor executor, std::string host, std::uint16_t port, std::string name,
           std::shared_ptr<unary::Inflight> inflight, HttpClientOptions options = {});
  ~HttpPeer();
  const std::string& name() const { return name_; }
  // One request within timeout. Transport failures are unavailable / deadline_exceeded and name
  // the peer and what (e.g. the RPC's method); any HTTP status is a response. A request that is
  // not idempotent is never sent twice: a kept-alive connection the peer has closed is noticed
  // before it is used, and a failure after sending is the caller's to handle.
  asio::awaitable<Result<HttpResponse>> request(std::string method, std::string target, std::string content_type,
                                                std::string body, Timeout timeout, std::string what,
                                                bool idempotent = true, std::string auth = {},
                                                std::string authorization = {});
  // Closes idle connections and cancels requests in flight; later requests fail at once.
  // On the executor.
  void close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::string name_;
};

}  // namespace chord::rest
