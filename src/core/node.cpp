// Node: construction, lifecycle, peer bookkeeping, the small state-reading RPCs, and the
// storage RPCs passed on to the storage layer.
#include "chord/node.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace chord {

Node::Node(asio::any_io_executor executor, Ring ring, NodeRef self, NodeConfig config,
           Connector& connector, std::unique_ptr<Store> store, std::string transport)
    : executor_(std::move(executor)),
      ring_(ring),
      self_(std::move(self)),
      tag_(ring_.short_hex(self_.id)),
      config_(config),
      connector_(connector),
      storage_(std::make_shared<Storage>(*this, config_, std::move(store))),
      transport_(std::move(transport)),
      successors_(self_, std::max(1u, config.successors)),
      fingers_(ring_, self_.id),
      jitter_(static_cast<std::uint32_t>(IdHash{}(self_.id))) {}

Node::~Node() = default;

void Node::spawn(asio::awaitable<void> task) {
  asio::co_spawn(executor_, std::move(task), asio::detached);
}

asio::awaitable<void> Node::periodic(std::chrono::milliseconds interval,
                                     asio::awaitable<void> (Node::*task)()) {
  auto keep = shared_from_this();
  auto timer = std::make_shared<asio::steady_timer>(executor_);
  timers_.push_back(timer);
  while (running_) {
    // +-10% jitter so that the nodes of a ring do not fall into lockstep.
    auto spread = std::max<long>(1, interval.count() / 5);
    auto wait = interval + std::chrono::milliseconds(static_cast<long>(jitter_() % spread) - spread / 2);
    timer->expires_after(wait);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!running_) break;
    co_await (this->*task)();
  }
}

void Node::start() {
  if (running_) return;
  running_ = true;
  spawn(periodic(config_.stabilize_interval, &Node::stabilize));
  spawn(periodic(config_.fix_fingers_interval, &Node::fix_fingers_paced));
  spawn(periodic(config_.check_predecessor_interval, &Node::check_predecessor));
  storage_->ring_started();
}

void Node::stop() {
  running_ = false;
  for (auto& t : timers_) t->cancel();
  timers_.clear();
  storage_->ring_stopped();
}

void Node::install_routing(std::optional<NodeRef> predecessor,
                           const std::vector<NodeRef>& successors,
                           const std::vector<NodeRef>& fingers) {
  predecessor_ = std::move(predecessor);
  successors_.assign(successors);
  for (unsigned i = 1; i <= fingers_.size() && i <= fingers.size(); ++i) fingers_.set(i, fingers[i - 1]);
  joined_ = true;
}

Result<std::shared_ptr<ChordService>> Node::peer(const NodeRef& node) {
  if (node.id == self_.id && node.uri == self_.uri)
    return std::shared_ptr<ChordService>(shared_from_this());
  return connector_.connect_to(node.uri);
}

void Node::peer_failed(const NodeRef& node, const Error& error) {
  if (!is_peer_failure(error.code)) return;
  spdlog::debug("[{}] peer {} failed: {}", tag_, node.uri, error.message);
  routes_.forget(node.id);
  auto t = now();
  suspected_[node.id] = t + config_.suspect_for;
  if (successors_.contains(node.id) && node.id != self_.id) {
    auto known = std::find_if(lost_.begin(), lost_.end(), [&](const Lost& l) { return l.node.id == node.id; });
    if (known == lost_.end() && lost_.size() < config_.successors) lost_.push_back(Lost{node, t + config_.suspect_for * 20});
  }
  // A suspected node stays listed, for the list says who holds a key: taken out, a predecessor
  // that suspected a key's live owner named the owner's successor, which then ordered writes the
  // owner never saw (lost updates), and reads counted their quorum among nodes that hold no copy
  // (stale reads); the data checker's suspicion faults found both. That holds for a refused call
  // too: a live node refuses for a moment (a gRPC channel in its reconnect back-off, an AMQP node
  // whose broker link is down). Lookups ping a suspected owner before passing it by, reads ask
  // suspected holders last, and stabilize drops a first successor whose own call failed, and
  // does not take it back from the next one's list until it answers (note_unreachable), so a
  // dead node leaves every list.
  fingers_.forget(node.id);
  std::erase_if(heard_, [&](const Heard& h) { return h.node.id == node.id; });
}

void Node::peer_answered(const NodeRef& node) {
  if (!suspected_.empty()) suspected_.erase(node.id);
  if (!unreachable_.empty())
    std::erase_if(unreachable_, [&](const Lost& u) { return u.node.id == node.id; });
  if (!departed_.empty()) departed_.erase(node.id);  // back in a ring
}

std::size_t Node::suspected_count() const {
  auto t = now();
  return static_cast<std::size_t>(
      std::count_if(suspected_.begin(), suspected_.end(), [&](const auto& e) { return e.second > t; }));
}

bool Node::suspected(const Id& id) const {
  if (suspected_.empty()) return false;
  auto it = suspected_.find(id);
  return it != suspected_.end() && it->second > now();
}

std::optional<NodeRef> Node::first_unsuspected(const std::vector<NodeRef>& nodes) const {
  for (const auto& n : nodes)
    if (!suspected(n.id)) return n;
  return std::nullopt;
}

asio::awaitable<Result<NodeRef>> Node::ping(const Empty&, Timeout) {
  // A node that has left (or not yet joined) is alive but no one's successor: say so, so that
  // recover_successors does not take it back.
  if (!joined_) co_return make_error(Errc::not_ready, fmt::format("{} is not part of a ring", self_.uri));
  if (leaving_) co_return leaving_error();
  co_return self_;
}

asio::awaitable<Result<Neighbors>> Node::get_predecessor(const Empty&, Timeout) {
  co_return Neighbors{predecessor_, successors_.nodes()};
}

asio::awaitable<Result<NodeInfo>> Node::node_info(const Empty&, Timeout) {
  NodeInfo info;
  info.self = self_;
  info.bits = ring_.bits();
  info.predecessor = predecessor_;
  info.successors = successors_.nodes();
  info.fingers = fingers_.distinct();
  info.keys = storage_->local().count();
  info.bytes = storage_->local().bytes();
  info.transport = transport_;
  co_return info;
}

// The storage RPCs belong to the layer above the ring.
asio::awaitable<Result<ListKeysReply>> Node::list_keys(const ListKeysRequest& req, Timeout timeout) {
  co_return co_await storage_->list_keys(req, timeout);
}

asio::awaitable<Result<SyncReply>> Node::sync_replicas(const SyncRequest& req, Timeout timeout) {
  co_return co_await storage_->sync_replicas(req, timeout);
}

asio::awaitable<Result<DeleteReply>> Node::remove(const DeleteRequest& req, Timeout timeout) {
  co_return co_await storage_->remove(req, timeout);
}

asio::awaitable<Result<StoreReply>> Node::store(const StoreRequest& req, ChunkSource& chunks, Timeout timeout) {
  co_return co_await storage_->store(req, chunks, timeout);
}

asio::awaitable<Result<FetchReply>> Node::fetch(const FetchRequest& req, ChunkSink& sink, Timeout timeout) {
  if (req.role == Role::shared) {
    if (!shared_folder_) co_return make_error(Errc::not_found, fmt::format("{} shares no folder", self_.uri));
    co_return co_await shared_folder_->serve(req, sink, timeout);
  }
  co_return co_await storage_->fetch(req, sink, timeout);
}

}  // namespace chord
