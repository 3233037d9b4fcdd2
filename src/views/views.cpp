#include "views.hpp"

#include <fmt/format.h>

#include <set>

#include <boost/json/array.hpp>

#include "chord/sha256.hpp"
#include "chord/version_text.hpp"

namespace chord::views {

namespace {
json::value node_or_null(const std::optional<NodeRef>& n, const Ring& ring) {
  return n ? json::value(node(*n, ring)) : json::value(nullptr);
}
}  // namespace

json::object node(const NodeRef& n, const Ring& ring) { return {{"id", ring.hex(n.id)}, {"uri", n.uri.str()}}; }

json::object lookup(const std::string& key, const LookupReply& r, const Ring& ring) {
  json::array path;
  for (const auto& n : r.path) path.emplace_back(n.uri.str());
  return {{"key", key}, {"key_id", ring.hex(r.key_id)}, {"owner", node(r.owner, ring)}, {"hops", r.hops}, {"path", path}};
}

std::string version(const Version& v, const Ring& ring) { return version_text(v, ring); }

json::object value(const std::string& key, const NodeRef& owner, std::uint64_t bytes, const Digest& sha256,
                   const Version& v, const Ring& ring) {
  return {{"key", key}, {"owner", node(owner, ring)}, {"bytes", bytes}, {"sha256", to_hex(sha256)},
          {"version", version(v, ring)}};
}

json::object keys(const ListKeysReply& r, const Ring& ring) {
  json::array arr;
  for (const auto& m : r.keys)
    arr.push_back(json::object{{"key", m.key}, {"key_id", ring.hex(m.key_id)}, {"bytes", m.size},
                               {"sha256", to_hex(m.sha256)}, {"version", version(m.version, ring)}});
  return {{"keys", arr}, {"truncated", r.truncated}};
}

json::object node_info(const NodeInfo& n, const Ring& ring) {
  json::array successors, fingers;
  for (const auto& s : n.successors) successors.push_back(node(s, ring));
  for (const auto& f : n.fingers)
    fingers.push_back(json::object{{"index", f.index}, {"start", ring.hex(f.start)}, {"node", node(f.node, ring)}});
  return {{"id", ring.hex(n.self.id)},
          {"uri", n.self.uri.str()},
          {"bits", n.bits},
          {"transport", n.transport},
          {"predecessor", node_or_null(n.predecessor, ring)},
          {"successors", successors},
          {"fingers", fingers},
          {"keys", n.keys},
          {"bytes", n.bytes}};
}

asio::awaitable<RingWalk> walk_ring(ChordService& start, Connector& connector, std::size_t limit, Timeout timeout) {
  RingWalk walk;
  const Empty ask;
  auto first = co_await start.node_info(ask, timeout);
  if (!first) {
    walk.broken = first.error();
    co_return walk;
  }
  walk.nodes.push_back(*first);
  std::set<Id> seen{first->self.id};
  while (walk.nodes.size() < limit) {
    const auto& last = walk.nodes.back();
    if (last.successors.empty()) break;
    const NodeRef next = last.successors.front();
    if (seen.contains(next.id)) break;
    auto client = connector.connect(next.uri);
    if (!client) {
      walk.broken = client.error();
      break;
    }
    auto info = co_await (*client)->node_info(ask, timeout);
    if (!info) {
      walk.broken = info.error();
      break;
    }
    seen.insert(info->self.id);
    walk.nodes.push_back(std::move(*info));
  }
  co_return walk;
}

WalkShape shape(const RingWalk& walk) {
  WalkShape out;
  const auto& nodes = walk.nodes;
  if (walk.broken || nodes.empty()) return out;
  // Closed only when the last node's successor is the first (not at --limit, not a cycle that
  // the start leads into without being on it). Each step to a smaller id is a pass through zero.
  const auto& tail = nodes.back().successors;
  if (nodes.size() == 1 && (tail.empty() || tail.front().id == nodes[0].self.id)) {
    const auto& p = nodes[0].predecessor;  // a ring of one: nil, or the node itself
    return WalkShape{1, !p || p->id == nodes[0].self.id};
  }
  if (tail.empty() || tail.front().id != nodes.front().self.id) return out;
  bool linked = true;
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    const auto& here = nodes[k];
    const auto& next = nodes[(k + 1) % nodes.size()];
    if (!(here.self.id < next.self.id)) ++out.winds;
    linked = linked && next.predecessor && next.predecessor->id == here.self.id;
  }
  out.settled = out.winds == 1 && linked;
  return out;
}

json::object ring(const RingWalk& walk, const Ring& r) {
  json::array arr;
  for (const auto& n : walk.nodes) {
    json::object e{{"id", r.hex(n.self.id)}, {"uri", n.self.uri.str()}, {"keys", n.keys}};
    e["predecessor"] = n.predecessor ? json::value(n.predecessor->uri.str()) : json::value(nullptr);
    e["successor"] = n.successors.empty() ? json::value(nullptr) : json::value(n.successors.front().uri.str());
    arr.push_back(std::move(e));
  }
  const auto sh = shape(walk);
  json::object out{{"nodes", arr}, {"winds", sh.winds}, {"settled", sh.settled}};
  if (walk.broken) out["error"] = walk.broken->message;
  return out;
}

}  // namespace chord::views
