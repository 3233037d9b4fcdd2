#pragma once
// The one interface every RPC of chord.v1 goes through. A Node implements it to answer its
// peers; every transport's client implements it to carry calls to a peer. The engine sees
// nothing else of a network.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "chord/messages.hpp"
#include "chord/result.hpp"

namespace chord {

namespace asio = boost::asio;
using Timeout = std::chrono::milliseconds;

// The unary methods: (C++ name, chord.v1 method name, request, reply). Written once here so that
// the interface, the in-process transport and the wire dispatch cannot drift apart.
#define CHORD_UNARY_RPCS(X)                                              \
  X(ping, Ping, Empty, NodeRef)                                          \
  X(get_predecessor, GetPredecessor, Empty, Neighbors)                   \
  X(notify, Notify, NotifyRequest, NotifyReply)                                \
  X(lookup_step, LookupStep, LookupStepRequest, LookupStepReply)         \
  X(leave, Leave, LeaveRequest, Empty)                                   \
  X(sync_replicas, SyncReplicas, SyncRequest, SyncReply)                 \
  X(lookup, Lookup, LookupRequest, LookupReply)                          \
  X(remove, Delete, DeleteRequest, DeleteReply)                          \
  X(node_info, GetNodeInfo, Empty, NodeInfo)                             \
  X(list_keys, ListKeys, ListKeysRequest, ListKeysReply)

// Chunks of a value on their way in. nullopt marks the end.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  virtual asio::awaitable<Result<std::optional<std::string>>> next() = 0;
};

// Chunks of a value on their way out: begin() once with the value's metadata, then write().
class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  virtual asio::awaitable<Result<void>> begin(const FetchReply& header) = 0;
  virtual asio::awaitable<Result<void>> write(std::string chunk) = 0;
};

class ChordService {
 public:
  virtual ~ChordService() = default;

  // Every call carries the caller's timeout: for a unary call the whole call, for a streamed
  // value each chunk's progress, so that a 1 GiB transfer is bounded without a 1 GiB deadline.
#define CHORD_DECLARE_RPC(fn, Name, Req, Rep) \
  virtual asio::awaitable<Result<Rep>> fn(const Req& req, Timeout timeout) = 0;
  CHORD_UNARY_RPCS(CHORD_DECLARE_RPC)
#undef CHORD_DECLARE_RPC

  virtual asio::awaitable<Result<StoreReply>> store(const StoreRequest& req, ChunkSource& chunks,
                                                    Timeout timeout) = 0;
  virtual asio::awaitable<Result<FetchReply>> fetch(const FetchRequest& req, ChunkSink& sink,
                                                    Timeout timeout) = 0;
};

// Reaches the peer behind a URI. Implemented by each transport for its own scheme, and by a
// registry that picks among them, so that a node can call peers of every transport it links.
class Connector {
 public:
  virtual ~Connector() = default;
  virtual Result<std::shared_ptr<ChordService>> connect(const std::string& uri) = 0;
  // The same for a NodeRef's URI, which a connector may use to remember where it leads.
  virtual Result<std::shared_ptr<ChordService>> connect_to(const NodeUri& uri) { return connect(uri.str()); }
  // Cancels the calls in flight, waits until their completions have been delivered, and refuses
  // new calls. Call it from another thread while the executor that runs the callers still runs,
  // so that they can see their calls fail and finish.
  virtual void close() {}
};

}  // namespace chord
