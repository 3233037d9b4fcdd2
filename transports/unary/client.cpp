// ChordService over a Carrier: unary calls as they are, values as one message per chunk.
#include <deque>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include "chord/tuple_awaitable.hpp"
#include "convert.hpp"
#include "range.hpp"
#include "unary.hpp"

namespace chord::unary {
namespace {

// A transfer id that no other client picks by chance.
std::string new_transfer_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

class Client final : public ChordService {
 public:
  Client(std::shared_ptr<Carrier> carrier, std::size_t chunk_bytes)
      : carrier_(std::move(carrier)), chunk_bytes_(chunk_bytes) {}

#define CHORD_UNARY_CLIENT_RPC(fn, Name, Req, Rep)                             \
  asio::awaitable<Result<Rep>> fn(const Req& req, Timeout timeout) override { \
    return call<Req, Rep>(#Name, req, timeout);                                \
  }
  CHORD_UNARY_RPCS(CHORD_UNARY_CLIENT_RPC)
#undef CHORD_UNARY_CLIENT_RPC

  asio::awaitable<Result<StoreReply>> store(const StoreRequest& req, ChunkSource& chunks, Timeout timeout) override {
    // One chunk of look-ahead, so that the last chunk is sent marked as the last.
    auto first = co_await chunks.next();
    if (!first) co_return first.error();
    std::optional<std::string> current = std::move(*first);
    wire::pb::StoreChunk message;
    wire::to_proto(req, message.mutable_header());
    message.set_transfer(new_transfer_id());
    std::uint64_t offset = 0;
    for (;;) {
      std::optional<std::string> next;
      if (current) {
        auto n = co_await chunks.next();
        if (!n) co_return n.error();
        next = std::move(*n);
      }
      std::size_t size = current ? current->size() : 0;
      message.set_data(current ? std::move(*current) : std::string());
      message.set_offset(offset);
      message.set_last(!next);
      wire::pb::StoreReply reply;
      auto r = co_await carrier_->call("Store", message, reply, timeout);
      if (!r) co_return r.error();
      offset += size;
      if (!next) co_return checked(wire::from_proto(reply), "Store");
      current = std::move(next);
      message.clear_header();
    }
  }

  asio::awaitable<Result<FetchReply>> fetch(const FetchRequest& req, ChunkSink& sink, Timeout timeout) override {
    // The first range alone (its reply tells the value's size), then up to kFetchWindow ranges in
    // flight, written to the sink in order: one range per round trip left a 64 MiB get waiting
    // on 64 of them in a row, each through the access node and back.
    auto ex = co_await asio::this_coro::executor;
    std::optional<FetchReply> first;
    std::uint64_t end = req.length ? req.offset + *req.length : UINT64_MAX;
    std::uint64_t asked = req.offset;  // where the next range to ask for begins
    std::uint64_t taken = req.offset;  // where the next range to write begins
    std::deque<std::shared_ptr<RangeCall>> window;
    auto ask = [&] {
      FetchRequest part = req;
      part.offset = asked;
      part.length = std::min<std::uint64_t>(chunk_bytes_, end - asked);
      // The rest of the version the first range named: the access node may read it from where
      // that range came from, without a lookup and a quorum round per range.
      if (first) part.version = first->meta.version;
      asked += *part.length;
      window.push_back(start_range(ex, part, timeout));
    };
    ask();
    for (;;) {
      auto range = std::move(window.front());
      window.pop_front();
      if (auto [ec] = co_await range->done.async_receive(tuple_awaitable); ec)
        co_return fail(Errc::cancelled, "Fetch", "the fetch was cancelled");
      if (!range->result) co_return range->result.error();
      auto& reply = range->reply;
      auto header = checked(wire::header_of(range->request, reply), "Fetch");
      if (!header) co_return header.error();
      if (!first) {
        first = *header;
        end = std::min(end, header->meta.size);
        if (auto b = co_await sink.begin(*first); !b) co_return b.error();
      } else if (header->meta.sha256 != first->meta.sha256 || header->meta.size != first->meta.size) {
        co_return fail(Errc::conflict, "Fetch", fmt::format("key '{}' changed while it was being fetched", req.key));
      }
      const auto& data = reply.data();
      taken += data.size();
      // Asked before this chunk is written: the sink's write (a disk, a slow reader) overlaps
      // the calls.
      while (window.size() < kFetchWindow && asked < end) ask();
      if (!data.empty())
        if (auto w = co_await sink.write(std::move(*reply.mutable_data())); !w) co_return w.error();
      if (taken >= end) co_return *first;
    }
  }

 private:
  // Ranges of a value in flight at once for one fetch, each at most a chunk; with the chunk being
  // written, a fetch holds at most kFetchWindow + 1 chunks.
  static constexpr std::size_t kFetchWindow = 4;

  // One range's call, run on its own so that several are in flight; the fetch takes the replies
  // in order. It holds the carrier, not the client, and ends by itself (the carrier's deadline):
  // a fetch that gave up early leaves it to finish unread.
  struct RangeCall {
    explicit RangeCall(const asio::any_io_executor& ex) : done(ex, 1) {}
    wire::pb::FetchRequest request;
    wire::pb::FetchChunk reply;
    Result<void> result;
    asio::experimental::channel<void(boost::system::error_code)> done;
  };
  std::shared_ptr<RangeCall> start_range(const asio::any_io_executor& ex, const FetchRequest& part, Timeout timeout) {
    auto range = std::make_shared<RangeCall>(ex);
    wire::to_proto(part, &range->request);
    asio::co_spawn(ex, run_range(carrier_, range, timeout), asio::detached);
    return range;
  }
  static asio::awaitable<void> run_range(std::shared_ptr<Carrier> carrier, std::shared_ptr<RangeCall> range,
                                         Timeout timeout) {
    range->result = co_await carrier->call("Fetch", range->request, range->reply, timeout);
    range->done.try_send(boost::system::error_code{});
  }

  template <class Req, class Rep>
  asio::awaitable<Result<Rep>> call(const char* method, Req req, Timeout timeout) {
    wire::proto_t<Req> request;
    wire::to_proto(req, &request);
    wire::proto_t<Rep> reply;
    auto r = co_await carrier_->call(method, request, reply, timeout);
    if (!r) co_return r.error();
    co_return checked(wire::from_proto(reply), method);
  }

  // A reply that does not convert is the peer's fault: say who sent it.
  template <class T>
  Result<T> checked(Result<T> r, std::string_view method) const {
    if (r) return r;
    return make_error(r.error().code, fmt::format("{} {}: {}", carrier_->uri(), method, r.error().message));
  }
  Error fail(Errc code, std::string_view method, const std::string& what) const {
    return make_error(code, fmt::format("{} {}: {}", carrier_->uri(), method, what));
  }

  std::shared_ptr<Carrier> carrier_;
  std::size_t chunk_bytes_;
};

}  // namespace

std::shared_ptr<ChordService> make_client(std::shared_ptr<Carrier> carrier, std::size_t chunk_bytes) {
  return std::make_shared<Client>(std::move(carrier), chunk_bytes);
}

}  // namespace chord::unary
