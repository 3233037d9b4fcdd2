// Entering and leaving the ring: the paper's join (through any node of the ring), a join that
// tries a list of seeds, and the voluntary leave the paper sketches (hand keys on, tell both
// neighbours), made safe for neighbours that leave at the same moment.
#include <algorithm>
#include <unordered_set>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "chord/node.hpp"
#include "chord/tuple_awaitable.hpp"

namespace chord {

asio::awaitable<Result<void>> Node::join(std::optional<std::string> known_uri) {
  if (!known_uri || *known_uri == self_.uri) {
    // A new ring: the paper's create(): predecessor nil, successor the node itself.
    predecessor_.reset();
    successors_.assign({});
    joined_ = true;
    spdlog::info("[{}] created a new ring as {}", tag_, self_.uri);
    co_return Result<void>{};
  }
  auto known = connector_.connect(*known_uri);
  if (!known) co_return known.error();
  // n.join(n'): successor = n'.find_successor(n)
  const LookupRequest own{{}, self_.id};
  auto found = co_await (*known)->lookup(own, config_.rpc_timeout);
  if (!found)
    co_return make_error(found.error().code,
                         fmt::format("join through {}: {}{}", *known_uri, found.error().message,
                                     found.error().code == Errc::unauthenticated ? " (are its --cluster-key and TLS files the ring's?)" : ""));
  std::vector<NodeRef> list{found->owner};
  list.insert(list.end(), found->successors.begin(), found->successors.end());
  const NodeRef seed{{}, *known_uri};
  drop_unauthentic(list, seed);
  for (const auto& n : list) {
    if (n.id != self_.id || n.uri == self_.uri) continue;
    // Another URI with this id: a conflict if it is alive, a stale entry of a departed node if not.
    auto twin = connector_.connect_to(n.uri);
    if (!twin) continue;
    auto pong = co_await (*twin)->ping(Empty{}, config_.rpc_timeout);
    if (pong && pong->id == self_.id)
      co_return make_error(Errc::conflict,
                           fmt::format("node {} already has id {}; pick another URI", n.uri, ring_.hex(self_.id)));
  }
  // A restarted node may still be listed under its own URI; its successor is the next one.
  successors_.assign(list);
  if (successors_.empty())
    co_return make_error(Errc::unavailable,
                         fmt::format("join through {}: no successor other than this node", *known_uri));
  // Lookups are open to clients; ring maintenance is not, where the ring has a cluster key. A
  // node that lacks the key (or has another) learns it here, not from notifies refused forever.
  if (const NodeRef& next = successors_.first(); next.id != self_.id) {
    if (auto client = connector_.connect_to(next.uri)) {
      auto probe = co_await (*client)->get_predecessor(Empty{}, config_.rpc_timeout);
      if (!probe && probe.error().code == Errc::unauthenticated)
        co_return make_error(Errc::unauthenticated,
                             fmt::format("join through {}: the ring refused this node ({}); is its --cluster-key "
                                         "the ring's?",
                                         *known_uri, probe.error().message));
    }
  }
  predecessor_.reset();
  predecessor_missed_ = 0;
  joined_ = true;
  spdlog::info("[{}] joined through {}; successor {}", tag_, *known_uri, successors_.first().uri);
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Node::join_any(std::vector<std::string> seeds) {
  // One seed list may be shared by a whole cluster, so it can name this node: its first entry
  // is the one node allowed to start the ring; every other node only ever joins.
  const bool first = !seeds.empty() && seeds.front() == self_.uri;
  std::erase(seeds, self_.uri);
  if (seeds.empty()) co_return co_await join(std::nullopt);
  std::string why;
  std::optional<Errc> retryable;
  Errc last = Errc::invalid_argument;
  for (const auto& seed : seeds) {
    auto r = co_await join(seed);
    if (r || r.error().code == Errc::conflict) co_return r;
    last = r.error().code;
    if (join_retryable(last)) retryable = last;
    why += (why.empty() ? "" : "; ") + r.error().message;
  }
  if (first && retryable) {
    spdlog::info("[{}] no other seed is part of a ring ({}); as the first seed, this node starts one", tag_, why);
    co_return co_await join(std::nullopt);
  }
  co_return make_error(retryable.value_or(last), why);
}

asio::awaitable<Result<void>> join_cluster(std::shared_ptr<Node> node, std::vector<std::string> seeds,
                                           std::chrono::milliseconds patience) {
  using SteadyClock = std::chrono::steady_clock;
  const auto until = SteadyClock::now() + patience;
  // Short and capped: a chain of nodes started at once (each naming the one before) joins one
  // link per retry, so the cap bounds how long the last one waits.
  auto backoff = std::chrono::milliseconds(50);
  const auto cap = std::chrono::milliseconds(500);
  std::minstd_rand jitter(static_cast<std::uint32_t>(IdHash{}(node->self().id)));
  for (unsigned attempt = 1;; ++attempt) {
    auto r = co_await node->join_any(seeds);
    if (r) co_return r;
    const auto code = r.error().code;
    if (!join_retryable(code)) co_return r;
    const auto now = SteadyClock::now();
    if (now >= until)
      co_return make_error(code, fmt::format("could not join within {} s ({} attempts); last: {}",
                                             std::chrono::duration_cast<std::chrono::seconds>(patience).count(),
                                             attempt, r.error().message));
    if (attempt == 1 || attempt % 10 == 0)
      spdlog::info("join: {}; retrying (attempt {})", r.error().message, attempt);
    // A wait in [backoff/2, backoff]: nodes started together do not retry in lockstep. The last
    // attempt is made at the deadline itself.
    auto wait = backoff / 2 + std::chrono::milliseconds(jitter() % (backoff.count() / 2 + 1));
    wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(until - now));
    asio::steady_timer timer(co_await asio::this_coro::executor, wait);
    co_await timer.async_wait(asio::use_awaitable);
    backoff = std::min(backoff * 2, cap);
  }
}

Error Node::leaving_error() const {
  return make_error(Errc::not_ready, fmt::format("{} is leaving the ring", self_.uri));
}

void Node::begin_leave() {
  if (leaving_) return;
  leaving_ = true;
  left_ = std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max());
  stop();
}

asio::awaitable<void> Node::until_left(Timeout limit) {
  if (!leaving_ || !joined_ || !left_) co_return;
  auto left = left_;  // every waiter wakes on its cancel
  asio::steady_timer enough(executor_, limit);
  using namespace asio::experimental::awaitable_operators;
  co_await (left->async_wait(tuple_awaitable) || enough.async_wait(tuple_awaitable));
}

asio::awaitable<Result<void>> Node::leave(std::chrono::steady_clock::time_point deadline) {
  if (!joined_) co_return Result<void>{};
  begin_leave();
  auto keep = shared_from_this();

  // The storage layer hands the values on and says which successors stay.
  auto departure = co_await storage_->departing(deadline);
  const std::vector<NodeRef>& after = departure.staying;
  LeaveRequest notice{self_, predecessor_, after};
  std::vector<NodeRef> tell;
  if (!after.empty()) tell.push_back(after.front());
  if (predecessor_ && (tell.empty() || predecessor_->id != tell.front().id)) tell.push_back(*predecessor_);
  tell_too(tell);
  for (const auto& n : tell) {
    auto client = peer(n);
    if (!client) continue;
    auto r = co_await (*client)->leave(notice, leave_budget(deadline, config_.rpc_timeout));
    if (!r) spdlog::warn("[{}] leave: {} was not told: {}", tag_, n.uri, r.error().message);
  }
  joined_ = false;
  if (left_) left_->cancel();  // each waiter holds the timer until it wakes
  left_.reset();
  spdlog::info("[{}] left the ring", tag_);
  co_return departure.outcome;
}

// A node that notified this one lately without being taken as its predecessor still has this
// one as its successor: a node joined between them and it has not stabilized since. Told only
// the predecessor, a leave left it naming this node as the owner of every key up to here, and
// writes through it were refused after every new lookup ("has left the ring"; all of the data
// checker's writes during leaves that were refused had this cause). Its notice names the
// predecessor, which such a node takes as its successor (see below). The four nearest at most
// (one or two in the checker's rings), so a leave stays a few calls.
void Node::tell_too(std::vector<NodeRef>& tell) const {
  const auto fresh = heard_since();
  std::vector<NodeRef> skipping;
  for (const auto& h : heard_)
    if (h.at > fresh && !departed_.contains(h.node.id) &&
        std::none_of(tell.begin(), tell.end(), [&](const NodeRef& n) { return n.id == h.node.id; }))
      skipping.push_back(h.node);
  // Nearest before this node first: ring order from this node, backwards.
  std::sort(skipping.begin(), skipping.end(), [&](const NodeRef& a, const NodeRef& b) { return in_open(a.id, b.id, self_.id); });
  constexpr std::size_t kMost = 4;
  if (skipping.size() > kMost) skipping.resize(kMost);
  tell.insert(tell.end(), skipping.begin(), skipping.end());
}

asio::awaitable<Result<Empty>> Node::leave(const LeaveRequest& req, Timeout) {
  const auto& gone = req.leaving;
  if (gone.id == self_.id) co_return make_error(Errc::invalid_argument, "leave: a node cannot tell itself it left");
  if (!authentic(gone) || (req.predecessor && !authentic(*req.predecessor)))
    co_return make_error(Errc::invalid_argument, "leave: a node whose id is not the SHA-1 of its URI");
  // It said goodbye: not a successor lost by accident, so recover_successors leaves it alone.
  if (departed_.size() > 4 * config_.successors) departed_.clear();
  departed_.insert(gone.id);
  std::erase_if(lost_, [&](const Lost& l) { return l.node.id == gone.id; });
  if (predecessor_ && predecessor_->id == gone.id) {
    // Its predecessor may be leaving at the same moment: then this node waits for a notify.
    const auto& p = req.predecessor;
    if (p && p->id != self_.id && !departed_.contains(p->id)) predecessor_ = p;
    else predecessor_.reset();
    predecessor_missed_ = 0;
  }
  if (successors_.contains(gone.id)) {
    bool was_first = successors_.first().id == gone.id;
    successors_.remove(gone.id);
    if (was_first) {
      std::vector<NodeRef> list;
      // Told as a node whose successor pointer skipped the leaver's predecessor (tell_too): that
      // one is this node's successor now.
      if (const auto& p = req.predecessor;
          p && in_open(p->id, self_.id, gone.id) && !departed_.contains(p->id) && authentic(*p))
        list.push_back(*p);
      for (const auto& n : req.successors)
        if (!departed_.contains(n.id) && authentic(n)) list.push_back(n);
      list.insert(list.end(), successors_.nodes().begin(), successors_.nodes().end());
      successors_.assign(list);
    }
  }
  fingers_.forget(gone.id);
  std::erase_if(heard_, [&](const Heard& h) { return h.node.id == gone.id; });
  storage_->member_left(gone);
  spdlog::info("[{}] {} left the ring", tag_, gone.uri);
  co_return Empty{};
}

}  // namespace chord
