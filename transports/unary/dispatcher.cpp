// The server side of the one-message-per-call transports: method name -> the node's answer.
#include <future>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "chord/chunk_pipe.hpp"
#include "chord/chunks.hpp"
#include "admission.hpp"
#include "convert.hpp"
#include "range.hpp"
#include "unary.hpp"
#include "chord/tuple_awaitable.hpp"

namespace chord::unary {
namespace {

using Reply = Result<std::unique_ptr<gpb::Message>>;

template <class Req, class Rep>
asio::awaitable<Reply> answer(ChordService& node, asio::awaitable<Result<Rep>> (ChordService::*method)(const Req&, Timeout),
                              const gpb::Message& request, Timeout timeout) {
  auto req = wire::from_proto(static_cast<const wire::proto_t<Req>&>(request));
  if (!req) co_return req.error();
  auto out = co_await (node.*method)(*req, timeout);
  if (!out) co_return out.error();
  auto reply = std::make_unique<wire::proto_t<Rep>>();
  wire::to_proto(*out, reply.get());
  co_return std::unique_ptr<gpb::Message>(std::move(reply));
}

// One Store in progress. Its chunks reach node->store() through a pipe without a buffer, so a
// chunk is acknowledged only once the node took it.
struct Transfer {
  Transfer(asio::any_io_executor ex, const std::string& id, Timeout timeout)
      : chunks(ex, 0, timeout, fmt::format("Store transfer '{}'", id)), done(ex, asio::steady_timer::time_point::max()) {}
  ChunkPipe chunks;
  asio::steady_timer done;  // cancelled when the store has finished
  std::optional<Result<StoreReply>> result;
  std::uint64_t next_offset = 0;
  bool busy = false;  // a chunk is being handed over
  std::string peer;
  bool members_only = false;  // its header was replica traffic: every chunk needs the cluster key
  bool client_write = false;  // its header was a client's write: every chunk needs the client token
};

}  // namespace

struct Dispatcher::Transfers {
  asio::any_io_executor executor;
  Limits limits;
  std::map<std::string, std::shared_ptr<Transfer>, std::less<>> open;
  std::map<std::string, std::size_t, std::less<>> per_peer;  // transfers open, by peer

  void close(const std::string& id, const std::string& peer) {
    open.erase(id);
    if (auto it = per_peer.find(peer); it != per_peer.end() && --it->second == 0) per_peer.erase(it);
  }
};

Dispatcher::Dispatcher(asio::any_io_executor executor, std::shared_ptr<ChordService> node, Limits limits)
    : node_(std::move(node)), transfers_(std::make_shared<Transfers>(Transfers{std::move(executor), limits, {}, {}})) {}

namespace {
void close_open(const std::shared_ptr<Dispatcher::Transfers>& all);
}

Dispatcher::~Dispatcher() {
  // Transfers still open end now. They belong to the executor's thread (the dispatcher may die
  // on another one).
  asio::post(transfers_->executor, [all = transfers_] { close_open(all); });
}

void Dispatcher::close() {
  auto all = transfers_;
  auto* io = all->executor.target<asio::io_context::executor_type>();
  if (io && io->running_in_this_thread()) {
    close_open(all);
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  asio::post(all->executor, [all, done] {
    close_open(all);
    done->set_value();
  });
  done->get_future().wait_for(std::chrono::seconds(2));  // an executor that no longer runs: give up
}

namespace {
void close_open(const std::shared_ptr<Dispatcher::Transfers>& all) {
  auto open = all->open;  // a store that ends erases itself from the map
  for (auto& [id, t] : open) t->chunks.close();
}
}  // namespace

std::unique_ptr<gpb::Message> Dispatcher::new_request(std::string_view method) {
#define CHORD_NEW_REQUEST(fn, Name, Req, Rep) \
  if (method == #Name) return std::make_unique<wire::proto_t<Req>>();
  CHORD_UNARY_RPCS(CHORD_NEW_REQUEST)
#undef CHORD_NEW_REQUEST
  const auto base = wire::base_method(method);
  if (base == "Store") return std::make_unique<wire::pb::StoreChunk>();
  if (base == "Fetch") return std::make_unique<wire::pb::FetchRequest>();
  return nullptr;
}

namespace {

asio::awaitable<Reply> fetch_range(ChordService& node, const wire::pb::FetchRequest& request, std::size_t chunk_bytes,
                                   Timeout timeout) {
  auto req = wire::from_proto(request);
  if (!req) co_return req.error();
  auto reply = std::make_unique<wire::pb::FetchChunk>();
  if (auto got = co_await wire::fetch_range(node, std::move(*req), chunk_bytes, timeout, reply.get()); !got)
    co_return got.error();
  co_return std::unique_ptr<gpb::Message>(std::move(reply));
}

template <class Transfers>
asio::awaitable<void> run_store(std::shared_ptr<ChordService> node, std::shared_ptr<Transfers> all,
                                std::shared_ptr<Transfer> t, std::string id, StoreRequest req, Timeout timeout) {
  auto out = co_await node->store(req, t->chunks, timeout);
  t->result = std::move(out);
  t->chunks.close();
  t->done.cancel();
  all->close(id, t->peer);
}

Reply stored_reply(const Result<StoreReply>& stored) {
  if (!stored) return stored.error();
  auto reply = std::make_unique<wire::pb::StoreReply>();
  wire::to_proto(*stored, reply.get());
  return std::unique_ptr<gpb::Message>(std::move(reply));
}

// A value whose every byte came in its first message (all values up to a chunk): the node reads
// it from here, in this coroutine. A second coroutine, a pipe and a timer for each hand-over
// were most of the CPU of a small put. The caller's own deadline bounds the wait, as the node's
// store bounds each of its calls; no chunk can follow (it would be refused as out of turn).
template <class Transfers>
asio::awaitable<Reply> store_whole(std::shared_ptr<ChordService> node, std::shared_ptr<Transfers> all,
                                   std::shared_ptr<Transfer> t, std::string id, StoreRequest req, std::string data,
                                   Timeout timeout) {
  t->busy = true;
  t->next_offset = data.size();
  auto whole = StringSource::whole(std::move(data));
  auto stored = co_await node->store(req, whole, timeout);
  all->close(id, t->peer);
  co_return stored_reply(stored);
}

}  // namespace

asio::awaitable<Reply> Dispatcher::dispatch(std::string_view method, gpb::Message& request, Timeout timeout,
                                            std::string peer, bool member, bool client) {
  if (auto admitted = wire::admit(method, request, member, client); !admitted) co_return admitted.error();
#define CHORD_DISPATCH(fn, Name, Req, Rep) \
  if (method == #Name) co_return co_await answer<Req, Rep>(*node_, &ChordService::fn, request, timeout);
  CHORD_UNARY_RPCS(CHORD_DISPATCH)
#undef CHORD_DISPATCH
  // Here every Fetch is one range and every Store chunk its own call: FetchRange and StoreWhole
  // (the unary forms a streaming transport has) are the same calls.
  const auto base = wire::base_method(method);
  if (base == "Fetch")
    co_return co_await fetch_range(*node_, static_cast<const wire::pb::FetchRequest&>(request),
                                   transfers_->limits.chunk_bytes, timeout);
  if (base != "Store")
    co_return make_error(Errc::not_found, fmt::format("chord.v1.Chord has no method '{}'", method));

  // Mutable: the chunk's bytes are moved on to the node, not copied.
  auto& chunk = static_cast<wire::pb::StoreChunk&>(request);
  const std::string& id = chunk.transfer();
  auto refuse = [&](Errc code, const std::string& why) -> Reply {
    return make_error(code, fmt::format("Store transfer '{}': {}", id, why));
  };
  if (id.empty() || id.size() > 64) co_return refuse(Errc::invalid_argument, "a transfer id of 1 to 64 characters is required");
  if (auto whole = wire::check_whole(method, request); !whole) co_return whole.error();
  if (chunk.data().size() > transfers_->limits.chunk_bytes)
    co_return refuse(Errc::too_large, fmt::format("a chunk of {} bytes is over the {} byte limit", chunk.data().size(),
                                                  transfers_->limits.chunk_bytes));
  // Transfer ids are the client's choice: scoped by peer, so that nobody else can add to one.
  const std::string key = fmt::format("{}|{}", peer, id);
  std::shared_ptr<Transfer> t;
  if (chunk.has_header()) {
    if (transfers_->open.contains(key)) co_return refuse(Errc::invalid_argument, "already begun");
    if (chunk.offset() != 0) co_return refuse(Errc::invalid_argument, "the header must come with offset 0");
    // Refused rather than queued: a peer whose transfers stalled must not hold up anyone else's.
    auto& mine = transfers_->per_peer[peer];
    if (mine >= transfers_->limits.max_transfers_per_peer) {
      if (transfers_->limits.refused) transfers_->limits.refused("transfers_per_peer");
      co_return refuse(Errc::resource_exhausted, fmt::format("{} has {} transfers in flight, the limit per peer; try again later",
                                                             peer, transfers_->limits.max_transfers_per_peer));
    }
    if (transfers_->open.size() >= transfers_->limits.max_transfers) {
      if (transfers_->limits.refused) transfers_->limits.refused("transfers");
      if (mine == 0) transfers_->per_peer.erase(peer);
      co_return refuse(Errc::resource_exhausted, fmt::format("{} transfers are in flight, the limit; try again later",
                                                             transfers_->open.size()));
    }
    auto req = wire::from_proto(chunk.header());
    if (!req) {
      if (mine == 0) transfers_->per_peer.erase(peer);
      co_return req.error();
    }
    ++mine;
    t = std::make_shared<Transfer>(transfers_->executor, id, timeout);
    t->peer = peer;
    t->members_only = wire::members_only(method, request);
    t->client_write = wire::client_write(method, request);
    transfers_->open.emplace(key, t);
    if (chunk.last()) co_return co_await store_whole(node_, transfers_, std::move(t), key, std::move(*req),
                                     std::move(*chunk.mutable_data()), timeout);
    asio::co_spawn(transfers_->executor, run_store(node_, transfers_, t, key, std::move(*req), timeout), asio::detached);
  } else {
    auto it = transfers_->open.find(key);
    if (it == transfers_->open.end()) co_return refuse(Errc::invalid_argument, "no such transfer (never begun, or over)");
    t = it->second;
    if (t->members_only && !member)
      co_return make_error(Errc::unauthenticated, fmt::format("Store transfer '{}': its chunks need the ring's cluster key", id));
    if (t->client_write && !member && !client)
      co_return make_error(Errc::unauthenticated, fmt::format("Store transfer '{}': its chunks need the client token", id));
  }
  if (t->busy) co_return refuse(Errc::invalid_argument, "chunks must be sent one at a time");
  if (chunk.offset() != t->next_offset)
    co_return refuse(Errc::invalid_argument, fmt::format("chunk at offset {}, expected {}", chunk.offset(), t->next_offset));

  // Hands one chunk (or the end) to the node. false: the store is over or stuck, and t->result
  // (if set) says why.
  auto hand_over = [](std::shared_ptr<Transfer> tr, std::optional<std::string> data, Timeout limit) -> asio::awaitable<bool> {
    tr->busy = true;
    bool taken = co_await tr->chunks.push(std::move(data), limit);
    tr->busy = false;
    co_return taken;
  };
  // The first chunk waits while the node finds the key's owner: a lookup that meets a dead or
  // overloaded hop spends a whole call deadline on it before it routes around.
  const Timeout take = chunk.has_header() ? 2 * timeout : timeout;
  auto outcome = [&](std::shared_ptr<Transfer> tr, bool ended = false) -> Reply {
    if (!tr->result && ended)
      return refuse(Errc::deadline_exceeded, fmt::format("the node had the whole value but did not finish storing it "
                                                         "within {} ms", (timeout + timeout / 2).count()));
    if (!tr->result) return refuse(Errc::deadline_exceeded, fmt::format("the node took no chunk within {} ms", take.count()));
    return stored_reply(*tr->result);
  };

  t->next_offset += chunk.data().size();
  if (!chunk.data().empty() && !co_await hand_over(t, std::move(*chunk.mutable_data()), take)) co_return outcome(t);
  if (!chunk.last()) {
    if (t->result && !*t->result) co_return outcome(t);
    co_return std::unique_ptr<gpb::Message>(std::make_unique<wire::pb::StoreReply>());  // taken; send the next
  }
  if (!t->result && !co_await hand_over(t, std::nullopt, timeout)) co_return outcome(t);
  if (!t->result) {
    // The node has the whole value; what remains is committing it and its replicas' last chunks,
    // or, for a node that relays the write, the owner's answer. That call has a deadline of
    // timeout itself, so the wait here is longer: its own error, not this one, reaches the caller.
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer limit(co_await asio::this_coro::executor, timeout + timeout / 2);
    co_await (t->done.async_wait(tuple_awaitable) || limit.async_wait(tuple_awaitable));
  }
  co_return outcome(t, true);
}

}  // namespace chord::unary
