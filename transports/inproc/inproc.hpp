#pragma once
// In-process transport: calls between the nodes of one process, for tests and for simulating
// thousands of nodes. Every node of one InprocNetwork must run on one single-threaded
// io_context: a call runs the target's handler directly, with no executor hop.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "chord/service.hpp"

namespace chord::inproc {

struct Options {
  // Delay added before each call reaches its target (0: none).
  std::chrono::microseconds latency{0};
  // How a call to a dead node fails. false: after the caller's timeout, as over a network.
  // true: at once, with the same deadline_exceeded error, for simulations whose time is
  // counted in rounds rather than seconds.
  bool instant_deadlines = false;
  // Every call first yields to the other ready work: calls begun in one instant interleave (each
  // sees the state from before the others' answers), as over a network, without a clock.
  bool interleave = false;
};

class Network final : public Connector {
 public:
  Network(asio::any_io_executor executor, Options options);
  ~Network() override;

  // Makes service reachable at uri. The network keeps only a weak reference.
  void attach(const std::string& uri, std::weak_ptr<ChordService> service);
  void detach(const std::string& uri);
  // A killed node stays attached, but no call reaches it: it has crashed, as the ring sees it.
  void kill(const std::string& uri);
  void revive(const std::string& uri);
  // A paused node (a stopped process) answers no call, as a killed one, but the writes sent to it
  // (Store, Delete) stay in its socket: resume() hands them to it, after their senders gave up.
  void pause(const std::string& uri);
  // How many held writes it handed over.
  std::size_t resume(const std::string& uri);
  bool alive(const std::string& uri) const;

  Result<std::shared_ptr<ChordService>> connect(const std::string& uri) override;
  // As connect, remembering the endpoint in the URI's route (see NodeUri::Route).
  Result<std::shared_ptr<ChordService>> connect_to(const NodeUri& uri) override;

  // What a URI leads to, and the client handed out for it: the endpoint itself, so that a call
  // reads one object where a separate client was one more cold line per message in a
  // simulated ring of 10^5 nodes. Endpoints are never erased and map nodes do not move.
  class Endpoint final : public ChordService {
   public:
    Endpoint(Network& net, std::string uri) : net_(net), uri_(std::move(uri)) {}
#define CHORD_INPROC_DECLARE_RPC(fn, Name, Req, Rep) \
  asio::awaitable<Result<Rep>> fn(const Req& req, Timeout timeout) override;
    CHORD_UNARY_RPCS(CHORD_INPROC_DECLARE_RPC)
#undef CHORD_INPROC_DECLARE_RPC
    asio::awaitable<Result<StoreReply>> store(const StoreRequest& req, ChunkSource& chunks, Timeout timeout) override;
    asio::awaitable<Result<FetchReply>> fetch(const FetchRequest& req, ChunkSink& sink, Timeout timeout) override;

    std::weak_ptr<ChordService> service;
    bool alive = true;
    bool paused = false;  // not alive, and keeping the writes sent to it
    // The one way the two flags change: a node that is not (or no longer) paused holds nothing, so
    // that a paused node revived, restarted or killed does not keep taking in the writes sent to it.
    void set_state(bool now_alive, bool now_paused) {
      alive = now_alive;
      paused = now_paused;
      if (!paused) held.clear();
    }
    // Writes that reached it while paused, in the order they came.
    struct HeldWrite {
      std::optional<StoreRequest> store;
      std::vector<std::string> chunks;
      std::optional<DeleteRequest> remove;
      Timeout timeout;
    };
    std::vector<HeldWrite> held;

   private:
    Network& net_;
    std::string uri_;
  };

  // A call that reaches a paused endpoint: a write is kept for resume(), anything else is lost.
  template <class Req>
  void hold(Endpoint&, const Req&, Timeout) {}
  void hold(Endpoint& e, const DeleteRequest& req, Timeout timeout);

  // Where a call to uri (whose endpoint is e) goes: the service, or the error the caller sees
  // (after its deadline).
  // The target of a call that reach would hand over without waiting (no latency, no interleaving,
  // a live endpoint), counted as a call; else null. Saves a coroutine per call of a simulation.
  std::shared_ptr<ChordService> at_once(const Endpoint& e);
  asio::awaitable<Result<std::shared_ptr<ChordService>>> reach(const std::string& uri, const Endpoint& e,
                                                               const char* method, Timeout timeout);

  std::uint64_t calls() const { return calls_; }
  Options& options() { return options_; }

 private:
  Endpoint* endpoint(const std::string& uri);  // made on first use; null for a URI of another scheme
  // The endpoint as a client: shares the ownership of anchor_, one count on one line that every
  // call touches, where each endpoint's own count was another node's cold line.
  std::shared_ptr<ChordService> client(Endpoint& e) { return {anchor_, &e}; }
  const std::uint64_t id_;  // this network's, in NodeUri routes
  asio::any_io_executor executor_;
  Options options_;
  std::unordered_map<std::string, Endpoint> endpoints_;
  std::shared_ptr<int> anchor_ = std::make_shared<int>(0);
  std::uint64_t calls_ = 0;
};

}  // namespace chord::inproc
