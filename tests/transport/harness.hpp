#pragma once
// A few real nodes on one io_context (run by a background thread), served over one transport,
// and that transport's clients to reach them: the fixture of the conformance suite, which runs
// the same cases against every backend.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "chord/node.hpp"

namespace chord::test {

class Harness {
 public:
  virtual ~Harness();
  virtual std::string name() const = 0;

  // Starts n nodes that join one ring, with short maintenance intervals.
  void start(int n);
  Node& node(int i) { return *nodes_.at(static_cast<std::size_t>(i)); }
  int size() const { return static_cast<int>(nodes_.size()); }
  // A client of this transport for node i.
  std::shared_ptr<ChordService> client(int i);
  // Node i stops answering: as a crash looks over this transport.
  virtual void kill(int i) = 0;
  // A URI of this transport where something accepts calls and never answers.
  virtual std::string silent_uri() = 0;
  Connector& connector() { return *connector_; }
  void set_connector(std::unique_ptr<Connector> c) { connector_ = std::move(c); }
  asio::any_io_executor executor() { return io_.get_executor(); }
  NodeConfig& config() { return config_; }

  // Waits until every live node's successor, predecessor and full successor list are right
  // (10 s at most).
  bool converged();

  template <class T>
  T run(asio::awaitable<T> task) {
    return asio::co_spawn(io_, std::move(task), asio::use_future).get();
  }

 protected:
  Harness();
  virtual std::string uri_for(int i) = 0;
  virtual void serve(int i, std::shared_ptr<Node> node) = 0;
  void stop_io();

  asio::io_context io_;
  std::unique_ptr<Connector> connector_;
  NodeConfig config_;
  std::vector<std::shared_ptr<Node>> nodes_;
  std::vector<bool> alive_;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread runner_;
};

std::unique_ptr<Harness> make_inproc_harness();
std::unique_ptr<Harness> make_grpc_harness();
// REST with every call as binary protobuf (the default), or every call as proto3 JSON.
std::unique_ptr<Harness> make_rest_harness(bool binary);
// AMQP through the broker of $CHORD_AMQP_URL (default: guest on 127.0.0.1:5672).
std::unique_ptr<Harness> make_amqp_harness();

// A free TCP port on 127.0.0.1 (bound once and released).
std::uint16_t free_port();

}  // namespace chord::test
