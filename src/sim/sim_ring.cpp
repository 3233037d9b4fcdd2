#include "sim_ring.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <fmt/format.h>

#include "uri.hpp"

namespace chord::sim {

namespace asio = boost::asio;

namespace {
// The first node at or after key_id in a ring sorted by id: the key's true owner.
const NodeRef& successor_in(const std::vector<NodeRef>& sorted, const Id& key_id) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), key_id,
                             [](const NodeRef& n, const Id& k) { return n.id < k; });
  return it == sorted.end() ? sorted.front() : *it;
}
}  // namespace

SimRing::SimRing(RingOptions options)
    : options_(options),
      clock_(options.virtual_time ? std::make_shared<ManualClock>() : nullptr),
      ring_(options.bits),
      network_(io_.get_executor(), options.network) {
  if (clock_) options_.node.clock = clock_;
}

SimRing::~SimRing() {
  for (auto& n : nodes_) n->stop();
  drain();
}

void SimRing::drain() {
  io_.restart();
  io_.run();
}

std::shared_ptr<Node> SimRing::attach(const std::string& uri, const Id& id, std::size_t host,
                                     std::unique_ptr<Store> store) {
  auto node = std::make_shared<Node>(io_.get_executor(), ring_, NodeRef{id, NodeUri::pinned(uri)}, options_.node, network_,
                                     store ? std::move(store) : make_memory_store());
  network_.attach(uri, node);
  nodes_.push_back(node);
  hosts_[node.get()] = host;
  return node;
}

std::shared_ptr<Node> SimRing::add(std::optional<Id> id) {
  std::string uri = fmt::format("inproc://node-{}", next_host_);
  return attach(uri, id ? *id : ring_.hash(uri), next_host_++);
}

std::vector<std::shared_ptr<Node>> SimRing::add_host(unsigned vnodes) {
  const std::size_t host = next_host_++;
  const std::string base = fmt::format("inproc://node-{}", host);
  std::vector<std::shared_ptr<Node>> out;
  for (unsigned i = 0; i < std::max(1u, vnodes); ++i) {
    auto uri = wire::virtual_uri(base, i);
    if (!uri) throw std::runtime_error(uri.error().message);
    out.push_back(attach(*uri, ring_.hash(*uri), host));
  }
  return out;
}

bool SimRing::alive(const Node& n) const { return network_.alive(n.self().uri); }

std::vector<std::shared_ptr<Node>> SimRing::live() const {
  std::vector<std::shared_ptr<Node>> out;
  for (const auto& n : nodes_)
    if (n->joined() && alive(*n)) out.push_back(n);
  return out;
}

std::size_t SimRing::join(const std::vector<std::shared_ptr<Node>>& joining, std::mt19937_64& rng) {
  auto members = live();
  std::size_t failed = 0;
  for (const auto& n : joining) {
    std::optional<std::string> via;
    if (!members.empty()) via = members[rng() % members.size()]->self().uri;
    else members.push_back(n);  // the first node creates the ring
    asio::co_spawn(io_, n->join(via), [&failed](std::exception_ptr e, Result<void> r) {
      if (e || !r) ++failed;
    });
  }
  drain();
  return failed;
}

void SimRing::build_ideal() {
  std::vector<NodeRef> sorted;
  for (const auto& n : nodes_)
    if (alive(*n)) sorted.push_back(n->self());
  std::sort(sorted.begin(), sorted.end(), [](const NodeRef& a, const NodeRef& b) { return a.id < b.id; });
  const auto n = sorted.size();
  std::unordered_map<Id, std::size_t, IdHash> index;
  for (std::size_t i = 0; i < n; ++i) index[sorted[i].id] = i;
  for (const auto& node : nodes_) {
    if (!alive(*node)) continue;
    std::size_t i = index.at(node->self().id);
    std::optional<NodeRef> pred;
    if (n > 1) pred = sorted[(i + n - 1) % n];
    std::vector<NodeRef> succ;
    for (std::size_t j = 1; j < n && succ.size() < options_.node.successors; ++j) succ.push_back(sorted[(i + j) % n]);
    std::vector<NodeRef> fingers;
    for (unsigned f = 1; f <= ring_.bits(); ++f) fingers.push_back(successor_in(sorted, ring_.finger_start(node->self().id, f)));
    node->install_routing(pred, succ, fingers);
  }
}

void SimRing::round() {
  if (clock_) clock_->advance(options_.node.stabilize_interval);
  for (const auto& n : live()) {
    auto task = [](std::shared_ptr<Node> node, bool replicate) -> asio::awaitable<void> {
      co_await node->stabilize();
      co_await node->fix_fingers();
      co_await node->check_predecessor();
      if (replicate) co_await node->storage().maintain_replicas();
    };
    asio::co_spawn(io_, task(n, options_.replicate), asio::detached);
  }
  drain();
}

std::optional<unsigned> SimRing::stabilize(unsigned max_rounds, bool fingers) {
  const Truth t = truth();  // nobody joins, leaves or fails while it runs
  for (unsigned r = 0; r <= max_rounds; ++r) {
    if (successors_correct(t) && (!fingers || fingers_all_right(t))) return r;
    if (r < max_rounds) round();
  }
  return std::nullopt;
}

void SimRing::kill(Node& n) {
  n.stop();
  network_.kill(n.self().uri);
}

void SimRing::revive(Node& n) { network_.revive(n.self().uri); }

void SimRing::pause(Node& n) { network_.pause(n.self().uri); }

std::size_t SimRing::resume(Node& n, std::chrono::milliseconds paused_for) {
  if (clock_) clock_->advance(paused_for);
  const auto handed = network_.resume(n.self().uri);
  drain();
  return handed;
}

std::shared_ptr<Node> SimRing::restart(Node& n, bool keep_store) {
  const NodeRef self = n.self();
  const std::size_t host = hosts_.at(&n);
  n.stop();
  auto store = keep_store ? n.storage().take_store() : nullptr;
  hosts_.erase(&n);
  std::erase_if(nodes_, [&](const std::shared_ptr<Node>& x) { return x.get() == &n; });
  auto fresh = attach(self.uri, self.id, host, std::move(store));
  network_.revive(self.uri);
  return fresh;
}

Result<void> SimRing::leave(Node& n) {
  auto r = run(n.leave());
  network_.kill(n.self().uri);
  return r;
}

std::size_t SimRing::leave_together(const std::vector<Node*>& leaving) {
  for (auto* n : leaving) n->begin_leave();
  std::size_t failed = 0;
  for (auto* n : leaving)
    asio::co_spawn(io_, n->leave(), [&failed](std::exception_ptr e, Result<void> r) {
      if (e || !r) ++failed;
    });
  drain();
  for (auto* n : leaving) network_.kill(n->self().uri);
  return failed;
}

std::vector<NodeRef> SimRing::sorted_live() const {
  std::vector<NodeRef> out;
  for (const auto& n : live()) out.push_back(n->self());
  std::sort(out.begin(), out.end(), [](const NodeRef& a, const NodeRef& b) { return a.id < b.id; });
  return out;
}

NodeRef SimRing::true_owner(const Id& key_id) const { return successor_in(sorted_live(), key_id); }

SimRing::Truth SimRing::truth() const {
  Truth t;
  t.live = live();
  std::vector<std::pair<Id, std::size_t>> order;
  order.reserve(t.live.size());
  for (std::size_t k = 0; k < t.live.size(); ++k) order.emplace_back(t.live[k]->self().id, k);
  std::sort(order.begin(), order.end());
  t.sorted.reserve(order.size());
  t.position.resize(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    t.sorted.push_back(order[i].first);
    t.position[order[i].second] = i;
  }
  return t;
}

bool SimRing::successors_correct() const { return successors_correct(truth()); }

bool SimRing::successors_correct(const Truth& t) const {
  const auto n = t.sorted.size();
  for (std::size_t k = 0; k < t.live.size(); ++k) {
    const auto& node = *t.live[k];
    const std::size_t i = t.position[k];
    if (node.successors().first().id != t.sorted[(i + 1) % n]) return false;
    const auto& pred = node.predecessor();
    if (n == 1) {
      if (pred && pred->id != node.self().id) return false;
    } else if (!pred || pred->id != t.sorted[(i + n - 1) % n]) {
      return false;
    }
  }
  return true;
}

double SimRing::fingers_correct() const { return fingers_correct(truth()); }

std::size_t SimRing::right_fingers(const Truth& t, const Node& node) const {
  const auto n = t.sorted.size();
  const auto& f = node.fingers();
  std::size_t right = 0;
  // Entry i is right when it names the live node whose arc (its predecessor, it] holds the
  // entry's start: one search per run of the table rather than one per entry.
  for (const auto& run : f.runs()) {
    auto at = std::lower_bound(t.sorted.begin(), t.sorted.end(), run.node.id);
    if (at == t.sorted.end() || *at != run.node.id) continue;
    const auto i = static_cast<std::size_t>(at - t.sorted.begin());
    const Id& before = t.sorted[(i + n - 1) % n];
    for (unsigned e = run.first; e <= run.last; ++e)
      if (in_half_open(f.start(e), before, run.node.id)) ++right;
  }
  return right;
}

double SimRing::fingers_correct(const Truth& t) const {
  if (t.sorted.empty()) return 1.0;
  std::uint64_t right = 0, total = 0;
  for (const auto& node : t.live) {
    total += node->fingers().size();
    right += right_fingers(t, *node);
  }
  return total ? static_cast<double>(right) / static_cast<double>(total) : 1.0;
}

bool SimRing::fingers_all_right(const Truth& t) const {
  // Asked every round while a ring converges: it stops at the first node with a wrong entry, and
  // starts where the last round's scan stopped, since a node's wrong entries stay wrong for a few
  // rounds (a full scan per round was a seventh of a simulation's time).
  const auto live = t.live.size();
  for (std::size_t k = 0; k < live; ++k) {
    const auto at = (first_wrong_ + k) % live;
    const auto& node = *t.live[at];
    if (right_fingers(t, node) != node.fingers().size()) {
      first_wrong_ = at;
      return false;
    }
  }
  return true;
}

}  // namespace chord::sim
