#pragma once
// The user-facing HTTP API of any node (--http HOST:PORT), whatever its transport:
//   PUT/GET/DELETE /v1/keys/{key}, GET /v1/keys, GET /v1/lookup/{key}, GET /v1/ring,
//   GET /v1/ring/walk, GET /v1/search?q=WORDS and GET /v1/files/{name} (shared folders),
//   GET /metrics, and GET / (a page that draws the ring).
#include <cstdint>
#include <memory>
#include <string>

#include "chord/node.hpp"
#include "http_server.hpp"
#include "metrics.hpp"

namespace chord::http_api {

struct ApiOptions {
  // A PUT without X-Content-SHA256 is held in memory to be hashed before it is stored: this
  // bounds it. With the header and a Content-Length, the body streams through instead.
  std::uint64_t max_buffered_body = 1ull << 30;
  Timeout timeout{10000};         // each call into the ring
  std::size_t ring_walk_limit = 1024;  // nodes listed by /v1/ring/walk
  std::size_t max_connections = 512;   // open at once; past it, new ones wait in the backlog
  // PUT and DELETE need "Authorization: Bearer <client_token>" when it is set (serve --client-token).
  std::string client_token;
};

class UserApi {
 public:
  // node runs on executor; connector reaches its peers (for the ring walk).
  static Result<std::unique_ptr<UserApi>> start(const std::string& listen, asio::any_io_executor executor,
                                                std::shared_ptr<Node> node, Connector& connector,
                                                std::shared_ptr<Metrics> metrics, ApiOptions options = {});
  ~UserApi();
  std::uint16_t port() const { return http_->port(); }
  void shutdown();

  struct Impl;

 private:
  UserApi(std::unique_ptr<rest::HttpServer> http, std::shared_ptr<Impl> impl)
      : http_(std::move(http)), impl_(std::move(impl)) {}
  std::unique_ptr<rest::HttpServer> http_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace chord::http_api
