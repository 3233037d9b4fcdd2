// ChordService over a Carrier: unary calls as they are, values as one message per chunk.
#include <random>

#include <fmt/format.h>

#include "convert.hpp"
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
    FetchRequest part = req;
    std::optional<FetchReply> first;
    std::uint64_t end = req.length ? req.offset + *req.length : UINT64_MAX;
    for (;;) {
      part.length = std::min<std::uint64_t>(chunk_bytes_, end - part.offset);
      wire::pb::FetchRequest request;
      wire::to_proto(part, &request);
      wire::pb::FetchChunk reply;
      auto r = co_await carrier_->call("Fetch", request, reply, timeout);
      if (!r) co_return r.error();
      if (!reply.has_header()) co_return fail(Errc::invalid_argument, "Fetch", "a reply without a header");
      auto header = checked(wire::from_proto(reply.header()), "Fetch");
      if (!header) co_return header.error();
      if (!first) {
        first = *header;
        end = std::min(end, header->meta.size);
        if (auto b = co_await sink.begin(*first); !b) co_return b.error();
      } else if (header->meta.sha256 != first->meta.sha256 || header->meta.size != first->meta.size) {
        co_return fail(Errc::conflict, "Fetch", fmt::format("key '{}' changed while it was being fetched", req.key));
      }
      const auto& data = reply.data();
      std::uint64_t want = std::min<std::uint64_t>(chunk_bytes_, end - part.offset);
      if (data.size() != want)
        co_return fail(Errc::invalid_argument, "Fetch",
                       fmt::format("{} bytes at offset {}, expected {}", data.size(), part.offset, want));
      part.offset += data.size();
      if (!data.empty())
        if (auto w = co_await sink.write(std::move(*reply.mutable_data())); !w) co_return w.error();
      if (part.offset >= end) co_return *first;
    }
  }

 private:
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
