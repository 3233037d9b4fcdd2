// The two HTTP servers a node runs, fed raw bytes over a real socket: the user API (--http:
// keys, lookups, the ring walk, /metrics, the page) and the REST transport's ring API. One node
// (a ring of one, on the in-process transport) answers both; the first byte picks the server.
// Whatever arrives, the node answers or hangs up, and neither crashes nor leaks.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include "chord/node.hpp"
#include "chord/store.hpp"
#include "inproc.hpp"
#include "metrics.hpp"
#include "rest_transport.hpp"
#include "user_api.hpp"

namespace {

using namespace chord;

struct Fixture {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread runner{[this] { io.run(); }};
  inproc::Network net{io.get_executor(), inproc::Options{}};
  std::shared_ptr<Node> node;
  std::unique_ptr<http_api::UserApi> api;
  std::unique_ptr<rest::Server> rest;

  Fixture() {
    spdlog::set_level(spdlog::level::off);
    google::protobuf::SetLogHandler(nullptr);
    Ring ring(160);
    const std::string uri = "inproc://fuzz";
    NodeConfig config;
    config.rpc_timeout = std::chrono::milliseconds(500);
    node = std::make_shared<Node>(io.get_executor(), ring, NodeRef{ring.hash(uri), uri}, config, net,
                                  make_memory_store(), "inproc");
    net.attach(uri, node);
    auto joined = asio::co_spawn(io, node->join(std::nullopt), asio::use_future).get();
    if (!joined) std::abort();
    asio::post(io, [n = node] { n->start(); });
    auto metrics = std::make_shared<http_api::Metrics>();
    http_api::ApiOptions options;
    options.max_buffered_body = 1 << 20;
    options.timeout = std::chrono::milliseconds(500);
    auto a = http_api::UserApi::start("127.0.0.1:0", io.get_executor(), node, net, metrics, options);
    auto r = rest::Server::start("127.0.0.1:0", io.get_executor(), node, rest::Limits{}, std::chrono::milliseconds(500));
    if (!a || !r) std::abort();
    api = std::move(*a);
    rest = std::move(*r);
  }

  // Before the statics the I/O thread uses are destroyed: the servers and the node stop, and
  // the thread ends. (The fixture itself stays reachable, never destroyed.)
  void stop() {
    api->shutdown();
    rest->shutdown();
    asio::co_spawn(io, [](std::shared_ptr<Node> n) -> asio::awaitable<void> {
      n->stop();
      co_return;
    }(node), asio::use_future).get();
    net.close();
    work.reset();
    io.stop();
    runner.join();
  }
};

Fixture* the_fixture = nullptr;

Fixture& fixture() {
  if (!the_fixture) {
    the_fixture = new Fixture();
    std::atexit([] { the_fixture->stop(); });
  }
  return *the_fixture;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  auto& f = fixture();
  const std::uint16_t port = (data[0] & 1) ? f.rest->port() : f.api->port();
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval limit{2, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
    for (std::size_t sent = 1; sent < size;) {
      auto n = ::send(s, data + sent, size - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    ::shutdown(s, SHUT_WR);
    char sink[4096];
    while (::recv(s, sink, sizeof sink, 0) > 0) {
    }
  }
  ::close(s);
  return 0;
}
