#include "inproc.hpp"

#include <atomic>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace chord::inproc {
#define CHORD_INPROC_RPC(fn, Name, Req, Rep)                                                      \
  asio::awaitable<Result<Rep>> Network::Endpoint::fn(const Req& req, Timeout timeout) {             \
    if (auto now = net_.at_once(*this)) co_return co_await now->fn(req, timeout);                    \
    if (paused) net_.hold(*this, req, timeout);                                                    \
    auto target = co_await net_.reach(uri_, *this, #Name, timeout);                                \
    if (!target) co_return target.error();                                                         \
    co_return co_await (*target)->fn(req, timeout);                                                \
  }
CHORD_UNARY_RPCS(CHORD_INPROC_RPC)
#undef CHORD_INPROC_RPC

asio::awaitable<Result<StoreReply>> Network::Endpoint::store(const StoreRequest& req, ChunkSource& chunks,
                                                             Timeout timeout) {
  if (paused) {
    // The sender's bytes go into the stopped process's socket before the sender gives up.
    HeldWrite w{req, {}, std::nullopt, timeout};
    for (;;) {
      auto chunk = co_await chunks.next();
      if (!chunk) co_return chunk.error();
      if (!*chunk) break;
      w.chunks.push_back(std::move(**chunk));
    }
    held.push_back(std::move(w));
  }
  auto target = co_await net_.reach(uri_, *this, "Store", timeout);
  if (!target) co_return target.error();
  co_return co_await (*target)->store(req, chunks, timeout);
}

asio::awaitable<Result<FetchReply>> Network::Endpoint::fetch(const FetchRequest& req, ChunkSink& sink,
                                                             Timeout timeout) {
  auto target = co_await net_.reach(uri_, *this, "Fetch", timeout);
  if (!target) co_return target.error();
  co_return co_await (*target)->fetch(req, sink, timeout);
}

namespace {
std::uint64_t new_network_id() {
  static std::atomic<std::uint64_t> next{1};
  return next++;
}
}  // namespace

Network::Network(asio::any_io_executor executor, Options options)
    : id_(new_network_id()), executor_(std::move(executor)), options_(options) {}

Network::~Network() = default;

void Network::attach(const std::string& uri, std::weak_ptr<ChordService> service) {
  auto& e = endpoints_.try_emplace(uri, *this, uri).first->second;
  e.service = std::move(service);
  e.set_state(true, false);
}

void Network::detach(const std::string& uri) {
  if (auto it = endpoints_.find(uri); it != endpoints_.end()) it->second.service.reset();
}

void Network::kill(const std::string& uri) {
  // A crashed process's socket goes with it.
  if (auto it = endpoints_.find(uri); it != endpoints_.end()) it->second.set_state(false, false);
}

void Network::revive(const std::string& uri) {
  if (auto it = endpoints_.find(uri); it != endpoints_.end()) it->second.set_state(true, false);
}

void Network::pause(const std::string& uri) {
  if (auto it = endpoints_.find(uri); it != endpoints_.end()) it->second.set_state(false, true);
}

void Network::hold(Endpoint& e, const DeleteRequest& req, Timeout timeout) {
  e.held.push_back(Endpoint::HeldWrite{std::nullopt, {}, req, timeout});
}

namespace {

// Hands a held value's chunks out again, as the resumed process reads them from its socket.
class HeldChunks final : public ChunkSource {
 public:
  explicit HeldChunks(std::vector<std::string> chunks) : chunks_(std::move(chunks)) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override {
    if (at_ == chunks_.size()) co_return std::optional<std::string>{};
    co_return std::optional<std::string>(std::move(chunks_[at_++]));
  }

 private:
  std::vector<std::string> chunks_;
  std::size_t at_ = 0;
};

// The resumed node handles a write its sender has given up on; no one reads the answer.
asio::awaitable<void> deliver_late(std::shared_ptr<ChordService> to, Network::Endpoint::HeldWrite w) {
  if (w.store) {
    HeldChunks source(std::move(w.chunks));
    (void)co_await to->store(*w.store, source, w.timeout);
  } else if (w.remove) {
    (void)co_await to->remove(*w.remove, w.timeout);
  }
}

}  // namespace

std::size_t Network::resume(const std::string& uri) {
  auto it = endpoints_.find(uri);
  if (it == endpoints_.end()) return 0;
  auto& e = it->second;
  auto held = std::exchange(e.held, {});
  e.set_state(true, false);
  auto target = e.service.lock();
  if (!target) return 0;
  for (auto& w : held) asio::co_spawn(executor_, deliver_late(target, std::move(w)), asio::detached);
  return held.size();
}

bool Network::alive(const std::string& uri) const {
  auto it = endpoints_.find(uri);
  return it != endpoints_.end() && it->second.alive && !it->second.service.expired();
}

Network::Endpoint* Network::endpoint(const std::string& uri) {
  if (!uri.starts_with("inproc://")) return nullptr;
  return &endpoints_.try_emplace(uri, *this, uri).first->second;  // unknown URIs: one that never answers
}

Result<std::shared_ptr<ChordService>> Network::connect(const std::string& uri) {
  auto* e = endpoint(uri);
  if (!e) return make_error(Errc::invalid_argument, fmt::format("'{}' is not an inproc:// URI", uri));
  return client(*e);
}

Result<std::shared_ptr<ChordService>> Network::connect_to(const NodeUri& uri) {
  auto* route = uri.route();
  if (!route) return connect(uri.str());
  // Endpoints are never erased and map nodes do not move: the pointer holds while this network
  // lives, and a route left by a network that is gone is never followed (ids are not reused).
  if (route->network == id_) return client(*static_cast<Endpoint*>(route->endpoint));
  auto* e = endpoint(uri.str());
  if (!e) return make_error(Errc::invalid_argument, fmt::format("'{}' is not an inproc:// URI", uri.str()));
  *route = NodeUri::Route{id_, e};
  return client(*e);
}

std::shared_ptr<ChordService> Network::at_once(const Endpoint& e) {
  if (options_.latency.count() > 0 || options_.interleave || !e.alive) return nullptr;
  auto target = e.service.lock();
  if (target) ++calls_;
  return target;
}

asio::awaitable<Result<std::shared_ptr<ChordService>>> Network::reach(const std::string& uri, const Endpoint& e,
                                                                      const char* method, Timeout timeout) {
  ++calls_;
  if (options_.latency.count() > 0) {
    asio::steady_timer t(executor_, options_.latency);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (options_.interleave) co_await asio::post(executor_, asio::use_awaitable);
  std::shared_ptr<ChordService> target;
  if (e.alive) target = e.service.lock();
  if (target) co_return target;
  if (!options_.instant_deadlines) {
    asio::steady_timer t(executor_, timeout);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return make_error(Errc::deadline_exceeded,
                       fmt::format("{} did not answer {} within {} ms", uri, method, timeout.count()));
}

}  // namespace chord::inproc
