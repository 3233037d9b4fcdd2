// REST client: chord.v1 messages as binary protobuf (or proto3 JSON, Limits::binary) over a pool
// of keep-alive connections.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include "chord/secret_file.hpp"
#include "http_status.hpp"
#include "rest_transport.hpp"
#include "unary.hpp"
#include "uri.hpp"

namespace chord::rest {
namespace {

constexpr std::string_view json_type = "application/json";
constexpr std::string_view protobuf_type = "application/x-protobuf";

class HttpCarrier final : public unary::Carrier {
 public:
  HttpCarrier(std::shared_ptr<HttpPeer> peer, std::string uri, bool binary,
              std::shared_ptr<const ClusterKey> key, const std::string& token)
      : peer_(std::move(peer)), uri_(std::move(uri)), binary_(binary), key_(std::move(key)),
        authorization_(token.empty() ? std::string() : bearer(token)) {}
  const std::string& uri() const override { return uri_; }

  asio::awaitable<Result<void>> call(std::string_view method, const unary::gpb::Message& request, unary::gpb::Message& reply,
                                     Timeout timeout) override {
    std::string body;
    if (binary_) {
      request.SerializeToString(&body);
    } else if (auto printed = google::protobuf::util::MessageToJsonString(request, &body); !printed.ok()) {
      co_return fail(Errc::internal, method, std::string(printed.message()));
    }
    // A Store chunk sent twice is a second chunk at the same offset: never resent blindly.
    const bool idempotent = method != "Store";
    std::string auth = key_ ? key_->sign(method, body) : std::string();
    auto r = co_await peer_->request("POST", fmt::format("/chord.v1.Chord/{}", method),
                                     std::string(binary_ ? protobuf_type : json_type), std::move(body), timeout,
                                     std::string(method), idempotent, std::move(auth), authorization_);
    if (!r) co_return r.error();
    if (r->status != 200) {
      std::string message = fmt::format("HTTP {}", r->status);
      auto code = errc_of(r->status, r->body, &message);
      co_return fail(code, method, message);
    }
    if (r->content_type != (binary_ ? protobuf_type : json_type))
      co_return fail(Errc::invalid_argument, method, fmt::format("a reply of type '{}'", r->content_type));
    if (binary_) {
      if (!reply.ParseFromString(r->body)) co_return fail(Errc::invalid_argument, method, "malformed protobuf reply");
      co_return Result<void>{};
    }
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;  // a newer peer may say more
    auto parsed = google::protobuf::util::JsonStringToMessage(r->body, &reply, options);
    if (!parsed.ok()) co_return fail(Errc::invalid_argument, method, "malformed reply: " + std::string(parsed.message()));
    co_return Result<void>{};
  }

 private:
  Error fail(Errc code, std::string_view method, const std::string& why) const {
    return make_error(code, fmt::format("{} {}: {}", uri_, method, why));
  }
  std::shared_ptr<HttpPeer> peer_;
  std::string uri_;
  bool binary_;
  std::shared_ptr<const ClusterKey> key_;  // signs every call when the ring has one
  std::string authorization_;              // "Bearer <client token>", or empty
};

}  // namespace

Connector::Connector(asio::any_io_executor executor, Limits limits)
    : executor_(std::move(executor)), limits_(limits),
      tls_(limits_.tls ? make_tls_context(*limits_.tls, false) : nullptr), inflight_(std::make_shared<unary::Inflight>()),
      peers_(std::chrono::minutes(5), [this](const std::string& uri) {
        // Under mutex_, from connect(): the evicted peer's sockets are closed on the executor.
        auto it = http_.find(uri);
        if (it == http_.end()) return;
        asio::dispatch(executor_, [peer = it->second] { peer->close(); });
        http_.erase(it);
      }) {}

Connector::~Connector() { close(); }

Result<std::shared_ptr<ChordService>> Connector::connect(const std::string& uri) {
  std::lock_guard lock(mutex_);
  if (auto cached = peers_.find(uri)) return cached;
  auto ep = wire::parse_endpoint(uri);
  if (!ep) return ep.error();
  if ((ep->scheme != "http" && ep->scheme != "https") || !ep->path.empty())
    return make_error(Errc::invalid_argument,
                      fmt::format("'{}' is not a REST node URI (http://HOST:PORT or https://HOST:PORT)", uri));
  if (ep->scheme == "https" && !tls_)
    return make_error(Errc::invalid_argument, fmt::format("'{}' takes TLS: give --tls-cert, --tls-key and --tls-ca", uri));
  HttpClientOptions options;
  options.max_response_bytes = limits_.max_message_bytes;
  if (ep->scheme == "https") options.tls = tls_;
  auto peer = std::make_shared<HttpPeer>(executor_, ep->host, ep->port, uri, inflight_, options);
  auto client = unary::make_client(std::make_shared<HttpCarrier>(peer, uri, limits_.binary, limits_.cluster_key,
                                                                  limits_.client_token), limits_.chunk_bytes);
  http_[uri] = peer;
  peers_.add(uri, client);
  return client;
}

void Connector::close() {
  inflight_->close();
  std::vector<std::shared_ptr<HttpPeer>> peers;
  {
    std::lock_guard lock(mutex_);
    for (auto& [uri, p] : http_) peers.push_back(p);
  }
  // Sockets belong to the executor: close them there, and wait here for the calls to end.
  asio::dispatch(executor_, [peers] {
    for (auto& p : peers) p->close();
  });
  auto* io = executor_.target<asio::io_context::executor_type>();
  if (io && io->running_in_this_thread()) return;  // the calls end once this thread gets back to them
  if (!inflight_->wait(std::chrono::seconds(5))) spdlog::warn("rest: calls still in flight after close");
}

}  // namespace chord::rest
