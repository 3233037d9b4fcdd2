// gRPC server on the callback API. Each call is answered by a coroutine on the node's executor;
// gRPC's own threads only move bytes.
#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chord/v1/chord.grpc.pb.h"
#include "admission.hpp"
#include "chord/chunks.hpp"
#include "chord/secret_file.hpp"
#include "convert.hpp"
#include "events.hpp"
#include "range.hpp"
#include "grpc_transport.hpp"
#include "library.hpp"
#include "status.hpp"
#include "uri.hpp"

namespace chord::grpc_transport {
namespace {

namespace pb = ::chord::v1;

// The caller's remaining time, or the default when it set none.
Timeout timeout_of(const grpc::CallbackServerContext* ctx, Timeout fallback) {
  auto left = std::chrono::duration_cast<Timeout>(ctx->deadline() - std::chrono::system_clock::now());
  if (left <= Timeout::zero() || left > std::chrono::hours(24)) return fallback;
  return std::min(left, fallback);
}

// Store streams open at once, by the caller's IP address (gRPC's peer string without its port).
class PeerTransfers {
 public:
  explicit PeerTransfers(std::size_t limit) : limit_(limit) {}
  static std::string address_of(const std::string& peer) {
    auto colon = peer.rfind(':');
    return colon == std::string::npos ? peer : peer.substr(0, colon);
  }
  // One more transfer of address, or resource_exhausted (told to refused) at the limit: refused
  // rather than queued, so that a peer whose transfers stalled holds up nobody else's.
  Result<void> enter(const std::string& address, const std::function<void(const std::string&)>& refused) {
    {
      std::lock_guard lock(mutex_);
      auto& n = open_[address];
      if (n < limit_) {
        ++n;
        return {};
      }
    }
    if (refused) refused("transfers_per_peer");
    return make_error(Errc::resource_exhausted,
                      fmt::format("Store: {} has {} transfers in flight, the limit per peer; try again later", address,
                                  limit_));
  }
  void leave(const std::string& address) {
    std::lock_guard lock(mutex_);
    if (auto it = open_.find(address); it != open_.end() && --it->second == 0) open_.erase(it);
  }

 private:
  std::size_t limit_;
  std::mutex mutex_;
  std::map<std::string, std::size_t> open_;
};

// Proof of the cluster key (metadata) over the request or a Store's first message, then the rule
// of which calls only members make. Without a key configured, every call is admitted.
Result<void> admitted(const Limits& limits, const grpc::CallbackServerContext* ctx, std::string_view method,
                      const google::protobuf::Message& request) {
  if (!limits.cluster_key) return {};
  const auto& metadata = ctx->client_metadata();
  auto header = [&](std::string_view name) {
    auto it = metadata.find(std::string(name));
    return it == metadata.end() ? std::string_view() : std::string_view(it->second.data(), it->second.size());
  };
  const std::string_view proof = header(ClusterKey::kHeader);
  auto member = wire::prove_member(limits.cluster_key.get(), method, proof.empty() ? std::string() : request.SerializeAsString(), proof);
  const bool client = bearer_matches(limits.client_token, header("authorization"));
  const auto address = PeerTransfers::address_of(ctx->peer());
  Result<void> out = member ? wire::admit(method, request, *member, client) : Result<void>(member.error());
  if (out) out = wire::within_rate(limits.peer_rate.get(), *member, address);
  if (!out) wire::note_refusal("grpc", address, out.error(), limits.refused);
  return out;
}

// Ends a unary call with the node's answer: its error's status, or OK once fill has put the
// answer into the response.
template <class T, class Fill>
void finish_with(grpc::ServerUnaryReactor* reactor, const Result<T>& out, Fill fill) {
  if (!out) {
    reactor->Finish(to_status(out.error()));
    return;
  }
  fill(*out);
  reactor->Finish(grpc::Status::OK);
}

template <class Req, class Rep>
asio::awaitable<void> answer(std::shared_ptr<ChordService> node,
                             asio::awaitable<Result<Rep>> (ChordService::*method)(const Req&, Timeout), Req req,
                             Timeout timeout, wire::proto_t<Rep>* response, grpc::ServerUnaryReactor* reactor) {
  auto out = co_await ((*node).*method)(req, timeout);
  finish_with(reactor, out, [&](const Rep& r) { wire::to_proto(r, response); });
}

// StoreWhole: a value in one message, stored from it. It counts among the peer's transfers while
// the node stores it, as a Store stream does.
asio::awaitable<void> store_whole(std::shared_ptr<ChordService> node, StoreRequest req, std::string data,
                                  Timeout timeout, pb::StoreReply* response, grpc::ServerUnaryReactor* reactor,
                                  std::shared_ptr<PeerTransfers> transfers, std::string address) {
  auto whole = StringSource::whole(std::move(data));
  auto out = co_await node->store(req, whole, timeout);
  transfers->leave(address);
  finish_with(reactor, out, [&](const StoreReply& r) { wire::to_proto(r, response); });
}

// FetchRange: one range of at most a chunk, header and data in one reply.
asio::awaitable<void> fetch_range(std::shared_ptr<ChordService> node, FetchRequest req, std::size_t chunk_bytes,
                                  Timeout timeout, pb::FetchChunk* response, grpc::ServerUnaryReactor* reactor) {
  auto got = co_await wire::fetch_range(*node, std::move(req), chunk_bytes, timeout, response);
  reactor->Finish(got ? grpc::Status::OK : to_status(got.error()));
}

// Client-streaming Store: the header, then data chunks pulled one at a time as the node asks.
class StoreReader final : public grpc::ServerReadReactor<pb::StoreChunk>, public ChunkSource {
 public:
  StoreReader(asio::any_io_executor ex, std::shared_ptr<ChordService> node, grpc::CallbackServerContext* ctx,
              pb::StoreReply* reply, Limits limits, Timeout timeout, std::shared_ptr<PeerTransfers> transfers)
      : ops_(ex), node_(std::move(node)), ctx_(ctx), reply_(reply), limits_(limits), timeout_(timeout),
        transfers_(std::move(transfers)), address_(PeerTransfers::address_of(ctx->peer())) {
    if (auto entered = transfers_->enter(address_, limits_.refused); !entered) {
      transfers_.reset();
      Finish(to_status(entered.error()));
      return;
    }
    StartRead(&message_);
    asio::co_spawn(ex, run(), asio::detached);
  }
  void OnReadDone(bool ok) override { ops_.post(ok); }
  void OnDone() override {
    if (transfers_) transfers_->leave(address_);
    delete this;
  }

  asio::awaitable<Result<std::optional<std::string>>> next() override {
    if (pending_) co_return std::exchange(pending_, std::nullopt);
    StartRead(&message_);
    auto r = co_await ops_.wait(timeout_, [this] { ctx_->TryCancel(); });
    if (r.timed_out)
      co_return make_error(Errc::deadline_exceeded, fmt::format("Store: no chunk within {} ms", timeout_.count()));
    if (!r.ok) co_return std::optional<std::string>{};  // the client closed the stream: the end
    if (message_.has_header()) co_return make_error(Errc::invalid_argument, "Store: a second header in one stream");
    co_return take_data();
  }

 private:
  Result<std::optional<std::string>> take_data() {
    if (message_.data().size() > limits_.chunk_bytes)
      return make_error(Errc::too_large, fmt::format("Store: chunk of {} bytes is over the {} byte limit",
                                                     message_.data().size(), limits_.chunk_bytes));
    return std::optional<std::string>(std::move(*message_.mutable_data()));
  }

  // The transfer is over once the node is done with it: its slot is free before the client hears
  // the answer, so a client that goes on at once is not refused by its own finished transfer.
  // (OnDone comes only after Finish, so it never races with this.)
  void finish(const grpc::Status& status) {
    if (transfers_) transfers_->leave(address_);
    transfers_.reset();
    Finish(status);
  }

  asio::awaitable<void> run() {
    auto first = co_await ops_.wait(timeout_, [this] { ctx_->TryCancel(); });
    if (!first.ok || !message_.has_header()) {
      finish(to_status(make_error(Errc::invalid_argument, "Store: the stream must begin with a header")));
      co_return;
    }
    if (auto ok = admitted(limits_, ctx_, "Store", message_); !ok) {
      finish(to_status(ok.error()));
      co_return;
    }
    auto req = wire::from_proto(message_.header());
    if (!req) {
      finish(to_status(req.error()));
      co_return;
    }
    if (!message_.data().empty()) {
      auto data = take_data();
      if (!data) {
        finish(to_status(data.error()));
        co_return;
      }
      pending_ = std::move(**data);
    }
    auto out = co_await node_->store(*req, *this, timeout_);
    if (!out) {
      finish(to_status(out.error()));
      co_return;
    }
    wire::to_proto(*out, reply_);
    finish(grpc::Status::OK);  // the last touch: OnDone may delete this at once
  }

  Events ops_;
  std::shared_ptr<ChordService> node_;
  grpc::CallbackServerContext* ctx_;
  pb::StoreReply* reply_;
  Limits limits_;
  Timeout timeout_;
  pb::StoreChunk message_;
  std::optional<std::string> pending_;
  std::shared_ptr<PeerTransfers> transfers_;
  std::string address_;
};

// Server-streaming Fetch: the header, then data chunks, each written when the last is out.
class FetchWriter final : public grpc::ServerWriteReactor<pb::FetchChunk>, public ChunkSink {
 public:
  // timeout bounds the node's own calls; patience, each message's wait for the reader.
  FetchWriter(asio::any_io_executor ex, std::shared_ptr<ChordService> node, grpc::CallbackServerContext* ctx,
              FetchRequest req, Timeout timeout, Timeout patience)
      : ops_(ex), node_(std::move(node)), ctx_(ctx), timeout_(timeout), patience_(patience) {
    asio::co_spawn(ex, run(std::move(req)), asio::detached);
  }
  void OnWriteDone(bool ok) override { ops_.post(ok); }
  void OnDone() override { delete this; }

  // Each message is held until the next one (or the end) is known: a small first chunk joins the
  // header's message, and the last message goes out with the call's status. A small value is one
  // write with the status, where header, data and Finish were three.
  asio::awaitable<Result<void>> begin(const FetchReply& header) override {
    if (auto r = co_await flush(); !r) co_return r;
    wire::to_proto(header, message_.mutable_header());
    held_ = true;
    co_return Result<void>{};
  }
  asio::awaitable<Result<void>> write(std::string chunk) override {
    if (held_ && message_.has_header() && message_.data().empty() && chunk.size() <= kInlineFetchBytes) {
      message_.set_data(std::move(chunk));
      co_return Result<void>{};
    }
    if (auto r = co_await flush(); !r) co_return r;
    message_.set_data(std::move(chunk));
    held_ = true;
    co_return Result<void>{};
  }

 private:
  // Sends the held message and waits until it is out; message_ is empty again after it.
  asio::awaitable<Result<void>> flush() {
    if (!held_) co_return Result<void>{};
    held_ = false;
    StartWrite(&message_);
    auto r = co_await ops_.wait(patience_, [this] { ctx_->TryCancel(); });
    message_.Clear();
    if (r.timed_out)
      co_return make_error(Errc::deadline_exceeded, fmt::format("Fetch: client took no chunk within {} ms", patience_.count()));
    if (!r.ok) co_return make_error(Errc::cancelled, "Fetch: the client went away");
    co_return Result<void>{};
  }

  asio::awaitable<void> run(FetchRequest req) {
    auto out = co_await node_->fetch(req, *this, timeout_);
    if (out && held_) StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
    else Finish(out ? grpc::Status::OK : to_status(out.error()));
  }

  bool held_ = false;  // message_ holds a message not yet written
  Events ops_;
  std::shared_ptr<ChordService> node_;
  grpc::CallbackServerContext* ctx_;
  Timeout timeout_;
  Timeout patience_;
  pb::FetchChunk message_;
};

// How long a Fetch message may wait for its reader. gRPC's flow control lets the reader's window
// grow to megabytes on a fast start and then opens it again only after a large part of it was
// read: on a link (or a fetch --limit-rate) below about a megabyte a second a write can wait
// several seconds, which an RPC deadline of 2 s turned into a cancelled transfer.
constexpr Timeout kReaderPatience{30000};

class Service final : public pb::Chord::CallbackService {
 public:
  Service(asio::any_io_executor ex, std::shared_ptr<ChordService> node, Limits limits, Timeout timeout)
      : executor_(std::move(ex)), node_(std::move(node)), limits_(limits), timeout_(timeout),
        transfers_(std::make_shared<PeerTransfers>(limits.max_transfers_per_peer)) {}

  // A unary call's request, admitted (the cluster key, who may call it, the peer's rate) and
  // converted; nullopt once the call has been finished with why not.
  template <class Req, class PbReq>
  std::optional<Req> accepted(grpc::CallbackServerContext* ctx, std::string_view method, const PbReq& request,
                              grpc::ServerUnaryReactor* reactor) {
    if (auto ok = admitted(limits_, ctx, method, request); !ok) {
      reactor->Finish(to_status(ok.error()));
      return std::nullopt;
    }
    auto req = wire::from_proto(request);
    if (!req) {
      reactor->Finish(to_status(req.error()));
      return std::nullopt;
    }
    return std::move(*req);
  }

#define CHORD_GRPC_SERVER_RPC(fn, Name, Req, Rep)                                                            \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wire::proto_t<Req>* request,       \
                                 wire::proto_t<Rep>* response) override {                                   \
    auto* reactor = ctx->DefaultReactor();                                                                   \
    auto req = accepted<Req>(ctx, #Name, *request, reactor);                                                 \
    if (!req) return reactor;                                                                                \
    asio::co_spawn(executor_,                                                                                \
                   answer<Req, Rep>(node_, &ChordService::fn, std::move(*req), timeout_of(ctx, timeout_),    \
                                    response, reactor),                                                      \
                   asio::detached);                                                                          \
    return reactor;                                                                                          \
  }
  CHORD_UNARY_RPCS(CHORD_GRPC_SERVER_RPC)
#undef CHORD_GRPC_SERVER_RPC

  grpc::ServerUnaryReactor* StoreWhole(grpc::CallbackServerContext* ctx, const pb::StoreChunk* request,
                                      pb::StoreReply* response) override {
    auto* reactor = ctx->DefaultReactor();
    auto refuse = [&](const Error& e) {
      reactor->Finish(to_status(e));
      return reactor;
    };
    if (auto ok = admitted(limits_, ctx, "StoreWhole", *request); !ok) return refuse(ok.error());
    if (auto whole = wire::check_whole("StoreWhole", *request); !whole) return refuse(whole.error());
    if (request->data().size() > limits_.chunk_bytes)
      return refuse(make_error(Errc::too_large, fmt::format("StoreWhole: {} bytes are over the {} byte chunk limit",
                                                            request->data().size(), limits_.chunk_bytes)));
    auto req = wire::from_proto(request->header());
    if (!req) return refuse(req.error());
    const auto address = PeerTransfers::address_of(ctx->peer());
    if (auto entered = transfers_->enter(address, limits_.refused); !entered) return refuse(entered.error());
    // The request is gRPC's until Finish: the bytes are copied (at most a chunk) for the node.
    asio::co_spawn(executor_,
                   store_whole(node_, std::move(*req), request->data(), timeout_of(ctx, timeout_), response, reactor,
                               transfers_, address),
                   asio::detached);
    return reactor;
  }

  grpc::ServerUnaryReactor* FetchRange(grpc::CallbackServerContext* ctx, const pb::FetchRequest* request,
                                       pb::FetchChunk* response) override {
    auto* reactor = ctx->DefaultReactor();
    auto req = accepted<FetchRequest>(ctx, "FetchRange", *request, reactor);
    if (!req) return reactor;
    asio::co_spawn(executor_,
                   fetch_range(node_, std::move(*req), std::max(limits_.chunk_bytes, kInlineFetchBytes),
                               timeout_of(ctx, timeout_), response, reactor),
                   asio::detached);
    return reactor;
  }

  grpc::ServerReadReactor<pb::StoreChunk>* Store(grpc::CallbackServerContext* ctx, pb::StoreReply* reply) override {
    return new StoreReader(executor_, node_, ctx, reply, limits_, timeout_of(ctx, timeout_), transfers_);
  }

  grpc::ServerWriteReactor<pb::FetchChunk>* Fetch(grpc::CallbackServerContext* ctx,
                                                  const pb::FetchRequest* request) override {
    auto req = wire::from_proto(*request);
    if (auto ok = admitted(limits_, ctx, "Fetch", *request); !ok) req = ok.error();
    if (!req) {
      // A reactor that only reports the error.
      struct Refusal final : grpc::ServerWriteReactor<pb::FetchChunk> {
        explicit Refusal(const Error& e) { Finish(to_status(e)); }
        void OnDone() override { delete this; }
      };
      return new Refusal(req.error());
    }
    return new FetchWriter(executor_, node_, ctx, std::move(*req), timeout_of(ctx, timeout_),
                           timeout_of(ctx, std::max(timeout_, kReaderPatience)));
  }

 private:
  asio::any_io_executor executor_;
  std::shared_ptr<ChordService> node_;
  Limits limits_;
  Timeout timeout_;
  std::shared_ptr<PeerTransfers> transfers_;
};

}  // namespace

struct Server::Impl {
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
};

Server::Server(std::unique_ptr<Impl> impl, std::uint16_t port) : impl_(std::move(impl)), port_(port) {}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

void Server::shutdown(std::chrono::milliseconds grace) {
  if (impl_ && impl_->server) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + grace);
    impl_->server.reset();
  }
}

Result<std::unique_ptr<Server>> Server::start(const std::string& listen, asio::any_io_executor executor,
                                              std::shared_ptr<ChordService> node, Limits limits,
                                              Timeout default_timeout) {
  hold_library();
  auto ep = wire::parse_host_port(listen);
  if (!ep) return ep.error();
  auto impl = std::make_unique<Impl>();
  impl->service = std::make_unique<Service>(executor, std::move(node), limits, default_timeout);
  grpc::ServerBuilder builder;
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (limits.tls) {
    // Mutual TLS: a caller without a certificate from the ring's CA fails the handshake.
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = limits.tls->ca_pem;
    ssl.pem_key_cert_pairs.push_back({limits.tls->key_pem, limits.tls->cert_pem});
    credentials = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(ep->host_port(), credentials, &port);
  builder.RegisterService(impl->service.get());
  // gRPC sets SO_REUSEPORT by default: a second node on a taken port would then share it
  // silently instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(limits.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(limits.max_message_bytes));
  // Bounded under load: buffers within a quota (past it gRPC pushes back on the connections),
  // a cap on concurrent calls per connection, and connections idle for long closed.
  grpc::ResourceQuota quota(fmt::format("chordnode {}", listen));
  quota.Resize(limits.memory_bytes);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, static_cast<int>(limits.max_streams));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 5 * 60 * 1000);
  impl->server = builder.BuildAndStart();
  if (!impl->server || port == 0)
    return make_error(Errc::unavailable, fmt::format("gRPC cannot listen on {} (address in use or not local?)", listen));
  return std::unique_ptr<Server>(new Server(std::move(impl), static_cast<std::uint16_t>(port)));
}

}  // namespace chord::grpc_transport
