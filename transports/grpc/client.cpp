// gRPC client: unary calls through the callback API with the completion posted back to the
// caller's executor; values through client-/server-streaming reactors, one chunk in flight.
#include <atomic>

#include <grpcpp/grpcpp.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "chord/secret_file.hpp"
#include "chord/v1/chord.grpc.pb.h"
#include "call_tracker.hpp"
#include "convert.hpp"
#include "events.hpp"
#include "grpc_transport.hpp"
#include "library.hpp"
#include "range.hpp"
#include "status.hpp"
#include "uri.hpp"

namespace chord::grpc_transport {
namespace {

namespace pb = ::chord::v1;

// How long one connection attempt may take at least; see Connector::connect.
constexpr int kMinConnectTimeoutMs = 5000;

std::chrono::system_clock::time_point deadline_after(Timeout t) { return std::chrono::system_clock::now() + t; }

// Streams write one chunk after another; each must make progress within the call's timeout.
class StoreCall final : public grpc::ClientWriteReactor<pb::StoreChunk> {
 public:
  StoreCall(asio::any_io_executor ex, std::shared_ptr<CallTracker> t) : ops(ex), done(ex), tracker(std::move(t)) {}
  void OnWriteDone(bool ok) override { ops.post(ok); }
  void OnDone(const grpc::Status& s) override {
    status = s;
    auto t = tracker;
    done.post(true);
    t->remove(this);  // may release the last reference to this call
  }
  grpc::ClientContext ctx;
  pb::StoreChunk message;
  pb::StoreReply reply;
  grpc::Status status;
  Events ops, done;
  std::shared_ptr<CallTracker> tracker;
};

class FetchCall final : public grpc::ClientReadReactor<pb::FetchChunk> {
 public:
  FetchCall(asio::any_io_executor ex, std::shared_ptr<CallTracker> t) : ops(ex), done(ex), tracker(std::move(t)) {}
  void OnReadDone(bool ok) override { ops.post(ok); }
  void OnDone(const grpc::Status& s) override {
    status = s;
    auto t = tracker;
    done.post(true);
    t->remove(this);
  }
  grpc::ClientContext ctx;
  pb::FetchRequest request;
  pb::FetchChunk message;
  grpc::Status status;
  Events ops, done;
  std::shared_ptr<CallTracker> tracker;
};

class Client final : public ChordService {
 public:
  Client(asio::any_io_executor ex, std::string uri, std::shared_ptr<grpc::Channel> channel, Limits limits,
         std::shared_ptr<CallTracker> tracker)
      : executor_(std::move(ex)), uri_(std::move(uri)), stub_(pb::Chord::NewStub(channel)), limits_(limits),
        tracker_(std::move(tracker)) {}

#define CHORD_GRPC_CLIENT_RPC(fn, Name, Req, Rep)                                                              \
  asio::awaitable<Result<Rep>> fn(const Req& req, Timeout timeout) override {                                \
    return unary<Req, Rep>(req, timeout, #Name,                                                                \
                           [this](grpc::ClientContext* c, const wire::proto_t<Req>* q, wire::proto_t<Rep>* p, \
                                  std::function<void(grpc::Status)> cb) {                                      \
                             stub_->async()->Name(c, q, p, std::move(cb));                                     \
                           });                                                                                 \
  }
  CHORD_UNARY_RPCS(CHORD_GRPC_CLIENT_RPC)
#undef CHORD_GRPC_CLIENT_RPC

  asio::awaitable<Result<StoreReply>> store(const StoreRequest& req, ChunkSource& chunks, Timeout timeout) override;
  asio::awaitable<Result<FetchReply>> fetch(const FetchRequest& req, ChunkSink& sink, Timeout timeout) override;

 private:
  template <class PbReq, class PbRep>
  struct UnaryCall {
    grpc::ClientContext ctx;
    PbReq request;
    PbRep response;
  };

  // One unary call of call->request; the status as gRPC gave it, or nullopt when this process is
  // shutting down. call lives until gRPC is done with it.
  template <class Call, class Start>
  asio::awaitable<std::optional<grpc::Status>> run_unary(std::shared_ptr<Call> call, Timeout timeout, const char* method,
                                                         Start start) {
    sign(call->ctx, method, call->request);
    call->ctx.set_deadline(deadline_after(timeout));
    if (!tracker_->add(call.get(), &call->ctx, call)) co_return std::nullopt;
    grpc::Status status = co_await asio::async_initiate<decltype(asio::use_awaitable), void(grpc::Status)>(
        [&](auto handler) {
          auto ex = asio::get_associated_executor(handler, executor_);
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          start(&call->ctx, &call->request, &call->response,
                [key = call.get(), tracker = tracker_, h, ex](grpc::Status s) {
                  asio::post(ex, [h, s = std::move(s)]() mutable { (*h)(std::move(s)); });
                  tracker->remove(key);
                });
        },
        asio::use_awaitable);
    co_return status;
  }

  template <class Req, class Rep, class Start>
  asio::awaitable<Result<Rep>> unary(const Req& req, Timeout timeout, const char* method, Start start) {
    auto call = std::make_shared<UnaryCall<wire::proto_t<Req>, wire::proto_t<Rep>>>();
    wire::to_proto(req, &call->request);
    auto status = co_await run_unary(call, timeout, method, start);
    if (!status) co_return closing(method);
    if (!status->ok()) co_return from_status(*status, uri_, method);
    auto out = wire::from_proto(call->response);
    if (!out) co_return make_error(out.error().code, fmt::format("{} {}: {}", uri_, method, out.error().message));
    co_return out;
  }

  // A value or range that fits one message goes as one unary call (StoreWhole, FetchRange): a
  // stream costs several times as much CPU at both ends. A peer without them (an older binary)
  // answers UNIMPLEMENTED once; from then on this client streams.
  std::atomic<bool> unary_values_{true};

  // Proof of the cluster key over the request (for a Store, its first message), in metadata.
  void sign(grpc::ClientContext& ctx, std::string_view method, const google::protobuf::Message& request) const {
    if (limits_.cluster_key)
      ctx.AddMetadata(std::string(ClusterKey::kHeader), limits_.cluster_key->sign(method, request.SerializeAsString()));
    if (!limits_.client_token.empty()) ctx.AddMetadata("authorization", bearer(limits_.client_token));
  }

  Error closing(const char* method) const {
    return make_error(Errc::unavailable, fmt::format("{} {}: this process is shutting down", uri_, method));
  }

  Error stalled(const char* method, Timeout t) const {
    return make_error(Errc::deadline_exceeded, fmt::format("{} {}: no progress within {} ms", uri_, method, t.count()));
  }

  asio::any_io_executor executor_;
  std::string uri_;
  std::unique_ptr<pb::Chord::Stub> stub_;
  Limits limits_;
  std::shared_ptr<CallTracker> tracker_;
};

asio::awaitable<Result<StoreReply>> Client::store(const StoreRequest& req, ChunkSource& chunks, Timeout timeout) {
  // One chunk of look-ahead: the last message goes out marked last, with the half-close in the
  // same frame, and a small first chunk rides in the header's message. A small value is then one
  // message and one write completion, where header, data and WritesDone were three round trips
  // through gRPC's threads. The look-ahead is read before the call starts, so that a source that
  // fails leaves no call behind.
  pb::StoreChunk first;
  wire::to_proto(req, first.mutable_header());
  auto ahead = co_await chunks.next();
  if (!ahead) co_return ahead.error();
  if (*ahead && (*ahead)->size() <= kInlineStoreBytes) {
    first.set_data(std::move(**ahead));
    ahead = co_await chunks.next();
    if (!ahead) co_return ahead.error();
  }
  std::optional<std::string> pending = std::move(*ahead);  // the chunk after the message; nullopt: the end
  if (!pending && unary_values_) {
    auto whole = std::make_shared<UnaryCall<pb::StoreChunk, pb::StoreReply>>();
    whole->request = std::move(first);
    whole->request.set_last(true);
    // As long as the stream's wait for its reply: the owner's commit and its replica legs.
    auto status = co_await run_unary(whole, timeout * 2, "StoreWhole", [this](auto* c, auto* q, auto* p, auto cb) {
      stub_->async()->StoreWhole(c, q, p, std::move(cb));
    });
    if (!status) co_return closing("StoreWhole");
    if (status->error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      if (!status->ok()) co_return from_status(*status, uri_, "Store");
      co_return wire::from_proto(whole->response);
    }
    unary_values_ = false;
    first = std::move(whole->request);  // gRPC is done with it
  }
  auto call = std::make_shared<StoreCall>(executor_, tracker_);
  if (!tracker_->add(call.get(), &call->ctx, call)) co_return closing("Store");
  call->message = std::move(first);
  sign(call->ctx, "Store", call->message);
  stub_->async()->Store(&call->ctx, &call->reply, call.get());
  auto cancel = [c = call.get()] { c->ctx.TryCancel(); };
  auto write = [c = call.get()](bool last) {
    if (last) c->StartWriteLast(&c->message, grpc::WriteOptions());
    else c->StartWrite(&c->message);
  };
  call->AddHold();  // as in fetch: no OnDone until this coroutine stops starting operations
  bool last = !pending;
  write(last);
  call->StartCall();
  std::optional<Error> failure;
  for (;;) {
    auto w = co_await call->ops.wait_or_abandon(timeout, cancel);
    if (w.timed_out) failure = stalled("Store", timeout);
    if (!w.ok || w.timed_out || last) break;  // not ok: the server ended the call early; its status says why
    call->message.Clear();
    call->message.set_data(std::move(*pending));
    auto next = co_await chunks.next();
    if (!next) {
      failure = next.error();
      cancel();
      break;
    }
    pending = std::move(*next);
    last = !pending;
    write(last);
  }
  call->RemoveHold();
  // The reply comes when the server has committed (and replicated) the value: its commit and its
  // replica legs, each bounded by its own timeout. No longer than that: a caller that waits on a
  // silent owner (paused, partitioned) only moves on to the key's next holder after this wait.
  auto d = co_await call->done.wait_or_abandon(timeout * 2, cancel);
  if (d.timed_out && !failure) failure = stalled("Store", timeout);
  if (failure) co_return *failure;
  if (!call->status.ok()) co_return from_status(call->status, uri_, "Store");
  co_return wire::from_proto(call->reply);
}

asio::awaitable<Result<FetchReply>> Client::fetch(const FetchRequest& req, ChunkSink& sink, Timeout timeout) {
  // A header-only probe or a small range: one unary call.
  if (req.length && *req.length <= kInlineFetchBytes && unary_values_) {
    auto range = std::make_shared<UnaryCall<pb::FetchRequest, pb::FetchChunk>>();
    wire::to_proto(req, &range->request);
    auto status = co_await run_unary(range, timeout, "FetchRange", [this](auto* c, auto* q, auto* p, auto cb) {
      stub_->async()->FetchRange(c, q, p, std::move(cb));
    });
    if (!status) co_return closing("FetchRange");
    if (status->error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      if (!status->ok()) co_return from_status(*status, uri_, "Fetch");
      auto header = wire::header_of(range->request, range->response);
      if (!header) co_return make_error(header.error().code, fmt::format("{} FetchRange: {}", uri_, header.error().message));
      if (auto b = co_await sink.begin(*header); !b) co_return b.error();
      if (!range->response.data().empty())
        if (auto w = co_await sink.write(std::move(*range->response.mutable_data())); !w) co_return w.error();
      co_return *header;
    }
    unary_values_ = false;
  }
  auto call = std::make_shared<FetchCall>(executor_, tracker_);
  if (!tracker_->add(call.get(), &call->ctx, call)) co_return closing("Fetch");
  wire::to_proto(req, &call->request);
  sign(call->ctx, "Fetch", call->request);
  stub_->async()->Fetch(&call->ctx, &call->request, call.get());
  auto cancel = [c = call.get()] { c->ctx.TryCancel(); };
  // The hold keeps gRPC from running OnDone (and ending the call) in the gap between a read
  // completing and this coroutine starting the next one.
  call->AddHold();
  call->StartCall();
  call->StartRead(&call->message);
  std::optional<Error> failure;
  std::optional<FetchReply> header;
  for (;;) {
    auto r = co_await call->ops.wait_or_abandon(timeout, cancel);
    if (r.timed_out) failure = stalled("Fetch", timeout);
    if (!r.ok || r.timed_out) break;
    Result<void> step;
    if (!header) {
      if (!call->message.has_header()) {
        failure = make_error(Errc::invalid_argument, fmt::format("{} Fetch: stream began without a header", uri_));
      } else if (auto h = wire::from_proto(call->message.header()); !h) {
        failure = h.error();
      } else {
        header = *h;
        step = co_await sink.begin(*header);
      }
    }
    if (!failure && step && !call->message.data().empty())
      step = co_await sink.write(std::move(*call->message.mutable_data()));
    if (!step) failure = step.error();
    if (failure) {
      cancel();
      break;
    }
    call->message.Clear();
    call->StartRead(&call->message);
  }
  call->RemoveHold();
  co_await call->done.wait_or_abandon(timeout * 4, cancel);
  if (failure) co_return *failure;
  if (!call->status.ok()) co_return from_status(call->status, uri_, "Fetch");
  if (!header) co_return make_error(Errc::invalid_argument, fmt::format("{} Fetch: empty stream", uri_));
  co_return *header;
}

}  // namespace

Connector::Connector(asio::any_io_executor executor, Limits limits)
    : executor_(std::move(executor)), limits_(limits), tracker_(std::make_shared<CallTracker>()) {}

Connector::~Connector() { close(); }

void Connector::close() { tracker_->close_and_wait(); }

Result<std::shared_ptr<ChordService>> Connector::connect(const std::string& uri) {
  hold_library();
  std::lock_guard lock(mutex_);
  if (auto cached = clients_.find(uri)) return cached;
  auto ep = wire::parse_endpoint(uri);
  if (!ep) return ep.error();
  if (ep->scheme != "grpc" && ep->scheme != "grpcs")
    return make_error(Errc::invalid_argument, fmt::format("'{}' is neither a grpc:// nor a grpcs:// URI", uri));
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (ep->scheme == "grpcs") {
    if (!limits_.tls)
      return make_error(Errc::invalid_argument,
                        fmt::format("'{}' takes TLS: give --tls-cert, --tls-key and --tls-ca", uri));
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = limits_.tls->ca_pem;
    ssl.pem_private_key = limits_.tls->key_pem;
    ssl.pem_cert_chain = limits_.tls->cert_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(limits_.max_message_bytes));
  args.SetMaxSendMessageSize(static_cast<int>(limits_.max_message_bytes));
  // A restarted peer should be reachable again within a second, not after gRPC's default
  // backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // gRPC takes this "minimum backoff" as the least time it gives one connection attempt (TCP and
  // the HTTP/2 SETTINGS exchange). At 100 ms a busy peer that answered the SYN but sent its
  // SETTINGS late failed the attempt, and every call waiting on it with UNAVAILABLE, long before
  // the call's own deadline. Calls keep their deadlines; this only stops a slow handshake from
  // failing sooner than they would.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kMinConnectTimeoutMs);
  auto channel = grpc::CreateCustomChannel(ep->host_port(), credentials, args);
  auto client = std::make_shared<Client>(executor_, uri, channel, limits_, tracker_);
  clients_.add(uri, client);
  return std::shared_ptr<ChordService>(client);
}

}  // namespace chord::grpc_transport
