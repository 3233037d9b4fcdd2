#pragma once
// What users see of the ring, written once for the CLI's --json output and the HTTP API: the
// JSON forms of lookups, values, keys and nodes, and the walk along successors that lists a
// whole ring.
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "chord/id.hpp"
#include "chord/messages.hpp"
#include "chord/service.hpp"

namespace chord::views {

namespace json = boost::json;

json::object node(const NodeRef& n, const Ring& ring);
json::object lookup(const std::string& key, const LookupReply& r, const Ring& ring);
// A value's version as users see it: "<hlc>-<writer id in hex>", "" when it has none.
std::string version(const Version& v, const Ring& ring);
// {"key","owner","bytes","sha256","version"} of a value put or fetched.
json::object value(const std::string& key, const NodeRef& owner, std::uint64_t bytes, const Digest& sha256,
                   const Version& version, const Ring& ring);
json::object keys(const ListKeysReply& r, const Ring& ring);
// One node in full: id, uri, predecessor, successors, fingers, keys, bytes, transport.
json::object node_info(const NodeInfo& n, const Ring& ring);

struct RingWalk {
  std::vector<NodeInfo> nodes;  // the start node first, then its successors in ring order
  std::optional<Error> broken;  // why the walk stopped before closing the circle
};
// Follows successor pointers from start until the circle closes or limit nodes are seen.
asio::awaitable<RingWalk> walk_ring(ChordService& start, Connector& connector, std::size_t limit, Timeout timeout);
// How many times a closed walk goes round the identifier circle (1 in a settled ring; 2 or more
// in the paper's loopy state, where a cycle of every node winds round it more than once), and
// whether it is settled: once round, each node naming the one before it as its predecessor.
struct WalkShape {
  std::size_t winds = 0;
  bool settled = false;
};
WalkShape shape(const RingWalk& walk);
// {"nodes":[{"id","uri","predecessor","successor","keys"},...],"winds","settled"} plus "error"
// when broken (winds is 0 and settled false whenever the walk did not close its circle).
json::object ring(const RingWalk& walk, const Ring& ring);

}  // namespace chord::views
