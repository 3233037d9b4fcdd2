#include "harness.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "amqp_transport.hpp"
#include "grpc_transport.hpp"
#include "inproc.hpp"
#include "rest_transport.hpp"

namespace chord::test {

Harness::Harness() : work_(asio::make_work_guard(io_)), runner_([this] { io_.run(); }) {
  spdlog::set_level(spdlog::level::warn);
  config_.stabilize_interval = std::chrono::milliseconds(20);
  config_.fix_fingers_interval = std::chrono::milliseconds(10);
  config_.check_predecessor_interval = std::chrono::milliseconds(40);
  config_.replicate_interval = std::chrono::milliseconds(80);
  config_.rpc_timeout = std::chrono::milliseconds(1000);  // room for 1 MiB chunks under the sanitizers
  config_.suspect_for = std::chrono::milliseconds(300);
}

Harness::~Harness() = default;

void Harness::stop_io() {
  if (!runner_.joinable()) return;
  run([](std::vector<std::shared_ptr<Node>> nodes) -> asio::awaitable<int> {
    for (auto& n : nodes) n->stop();
    co_return 0;
  }(nodes_));
  connector_->close();
  work_.reset();
  io_.stop();
  runner_.join();
}

void Harness::start(int n) {
  Ring ring(160);
  for (int i = 0; i < n; ++i) {
    std::string uri = uri_for(i);
    auto node = std::make_shared<Node>(io_.get_executor(), ring, NodeRef{ring.hash(uri), uri}, config_, *connector_,
                                       make_memory_store(), name());
    serve(i, node);
    nodes_.push_back(node);
    alive_.push_back(true);
    std::optional<std::string> via;
    if (i > 0) via = nodes_.front()->self().uri;
    auto joined = run(node->join(via));
    if (!joined) throw std::runtime_error("join failed: " + joined.error().message);
    run([](std::shared_ptr<Node> nd) -> asio::awaitable<int> {
      nd->start();
      co_return 0;
    }(node));
  }
}

std::shared_ptr<ChordService> Harness::client(int i) {
  auto c = connector_->connect(node(i).self().uri);
  if (!c) throw std::runtime_error(c.error().message);
  return *c;
}

bool Harness::converged() {
  auto check = [](std::vector<std::shared_ptr<Node>> nodes, std::vector<bool> alive) -> asio::awaitable<bool> {
    std::vector<NodeRef> live;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (alive[i]) live.push_back(nodes[i]->self());
    std::sort(live.begin(), live.end(), [](const NodeRef& a, const NodeRef& b) { return a.id < b.id; });
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (!alive[i]) continue;
      auto at = std::find(live.begin(), live.end(), nodes[i]->self()) - live.begin();
      auto n = static_cast<long>(live.size());
      const auto& succ = live[static_cast<std::size_t>((at + 1) % n)];
      const auto& pred = live[static_cast<std::size_t>((at + n - 1) % n)];
      if (nodes[i]->successors().first().id != succ.id) co_return false;
      // The successor lists are full too: a later stabilize round fills them.
      auto want = std::min<std::size_t>(nodes[i]->config().successors, live.size() - 1);
      if (n > 1 && nodes[i]->successors().nodes().size() < want) co_return false;
      if (n > 1 && (!nodes[i]->predecessor() || nodes[i]->predecessor()->id != pred.id)) co_return false;
    }
    co_return true;
  };
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if (run(check(nodes_, alive_))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

namespace {

class InprocHarness final : public Harness {
 public:
  InprocHarness() {
    inproc::Options o;
    o.instant_deadlines = false;  // a dead peer costs the caller its timeout, as over a network
    auto net = std::make_unique<inproc::Network>(io_.get_executor(), o);
    net_ = net.get();
    connector_ = std::move(net);
  }
  ~InprocHarness() override { stop_io(); }
  std::string name() const override { return "inproc"; }
  void kill(int i) override {
    alive_.at(static_cast<std::size_t>(i)) = false;
    run([](inproc::Network* net, std::shared_ptr<Node> n) -> asio::awaitable<int> {
      n->stop();
      net->kill(n->self().uri);
      co_return 0;
    }(net_, nodes_.at(static_cast<std::size_t>(i))));
  }
  std::string silent_uri() override { return "inproc://nobody-here"; }

 protected:
  std::string uri_for(int i) override { return "inproc://node-" + std::to_string(i); }
  void serve(int, std::shared_ptr<Node> node) override { net_->attach(node->self().uri, node); }

 private:
  inproc::Network* net_;
};

// Where node i listens and the URI peers use for it; and a URI where something takes calls
// and never answers (kept up by `keep`).
struct Addressing {
  std::function<std::pair<std::string, std::string>(int)> next;
  std::string silent_uri;
  std::shared_ptr<void> keep;
};

// Something that accepts TCP connections and never says a word: only the call's deadline ends
// the wait.
Addressing tcp_addressing(const std::string& scheme) {
  struct Silent {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor{io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  };
  auto silent = std::make_shared<Silent>();
  auto uri = scheme + "://127.0.0.1:" + std::to_string(silent->acceptor.local_endpoint().port());
  return Addressing{[scheme](int) {
                      auto port = std::to_string(free_port());
                      return std::make_pair("127.0.0.1:" + port, scheme + "://127.0.0.1:" + port);
                    },
                    uri, silent};
}

// Nodes served over a real transport; Server is its server type and start its way of starting one.
template <class Server>
class ServedHarness final : public Harness {
 public:
  using Start = std::function<Result<std::unique_ptr<Server>>(const std::string& listen, asio::any_io_executor,
                                                              std::shared_ptr<Node>, Timeout)>;
  // The caller sets the connector, which needs this harness's executor.
  ServedHarness(std::string name, Addressing addressing, Start start)
      : name_(std::move(name)), addressing_(std::move(addressing)), start_(std::move(start)) {}
  ~ServedHarness() override {
    for (auto& s : servers_) s.reset();  // the servers shut down while the io thread still runs
    stop_io();
  }
  std::string name() const override { return name_; }
  void kill(int i) override {
    alive_.at(static_cast<std::size_t>(i)) = false;
    run([](std::shared_ptr<Node> n) -> asio::awaitable<int> {
      n->stop();
      co_return 0;
    }(nodes_.at(static_cast<std::size_t>(i))));
    servers_.at(static_cast<std::size_t>(i)).reset();
  }
  std::string silent_uri() override { return addressing_.silent_uri; }

 protected:
  std::string uri_for(int i) override {
    auto [listen, uri] = addressing_.next(i);
    listens_.resize(static_cast<std::size_t>(i) + 1);
    listens_[static_cast<std::size_t>(i)] = listen;
    return uri;
  }
  void serve(int i, std::shared_ptr<Node> node) override {
    auto s = start_(listens_.at(static_cast<std::size_t>(i)), io_.get_executor(), node, config_.rpc_timeout);
    if (!s) throw std::runtime_error(s.error().message);
    servers_.push_back(std::move(*s));
  }

 private:
  std::string name_;
  Addressing addressing_;
  Start start_;
  std::vector<std::string> listens_;
  std::vector<std::unique_ptr<Server>> servers_;
};

}  // namespace

std::unique_ptr<Harness> make_rest_harness(bool binary) {
  rest::Limits limits;
  limits.binary = binary;
  auto h = std::make_unique<ServedHarness<rest::Server>>(
      binary ? "rest" : "rest-json", tcp_addressing("http"),
      [](const std::string& listen, asio::any_io_executor ex, std::shared_ptr<Node> node, Timeout t) {
        return rest::Server::start(listen, ex, std::move(node), {}, t);
      });
  if (!binary) {
    // protobuf's JSON parser is slow with base64 (about 90 MB/s optimized, far less under the
    // sanitizers): values move in smaller chunks.
    limits.chunk_bytes = 64 << 10;
    h->config().chunk_bytes = limits.chunk_bytes;
  }
  h->set_connector(std::make_unique<rest::Connector>(h->executor(), limits));
  return h;
}
std::unique_ptr<Harness> make_amqp_harness() {
  auto broker = amqp::default_broker();
  if (!broker) throw std::runtime_error(broker.error().message);
  // Queue names unique to this run, so that tests running side by side do not meet.
  auto run_tag = std::to_string(::getpid()) + "-" + std::to_string(free_port());
  // A queue that takes requests and never answers them.
  struct Silent {
    std::unique_ptr<amqp::Link> link;
  };
  auto silent = std::make_shared<Silent>();
  auto silent_queue = "silent-" + run_tag;
  auto link = amqp::Link::start(*broker, silent_queue, amqp::Link::Handlers{});
  if (!link) throw std::runtime_error("the AMQP tests need a broker (scripts/rabbitmq.sh start): " + link.error().message);
  silent->link = std::move(*link);
  Addressing addressing{[b = *broker, run_tag](int i) {
                          auto queue = "conformance-" + run_tag + "-" + std::to_string(i) + "-" + std::to_string(free_port());
                          return std::make_pair(queue, amqp::node_uri(b, queue));
                        },
                        amqp::node_uri(*broker, silent_queue), silent};
  auto h = std::make_unique<ServedHarness<amqp::Server>>(
      "amqp", std::move(addressing),
      [b = *broker](const std::string& queue, asio::any_io_executor ex, std::shared_ptr<Node> node, Timeout t) {
        return amqp::Server::start(queue, b, ex, std::move(node), {}, t);
      });
  h->set_connector(std::make_unique<amqp::Connector>(h->executor(), *broker));
  return h;
}

std::unique_ptr<Harness> make_inproc_harness() { return std::make_unique<InprocHarness>(); }
std::unique_ptr<Harness> make_grpc_harness() {
  auto h = std::make_unique<ServedHarness<grpc_transport::Server>>(
      "grpc", tcp_addressing("grpc"), [](const std::string& listen, asio::any_io_executor ex, std::shared_ptr<Node> node, Timeout t) {
        return grpc_transport::Server::start(listen, ex, std::move(node), {}, t);
      });
  h->set_connector(std::make_unique<grpc_transport::Connector>(h->executor()));
  return h;
}

}  // namespace chord::test
