// REST server: POST /chord.v1.Chord/<Method>, proto3 JSON in and out (or binary protobuf when
// the request is application/x-protobuf), answered by the node through the shared Dispatcher.
#include <charconv>

#include <fmt/format.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include "admission.hpp"
#include "chord/secret_file.hpp"
#include "http_status.hpp"
#include "rest_transport.hpp"
#include "unary.hpp"

namespace chord::rest {

namespace {
constexpr std::string_view rpc_prefix = "/chord.v1.Chord/";

// The caller's timeout travels in a header, as gRPC's deadline does; without one, the default.
Timeout timeout_of(const http::request_header<>& h, Timeout fallback) {
  auto v = h["Chord-Timeout-Ms"];
  if (v.empty()) return fallback;
  unsigned long ms = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
  if (ec != std::errc() || p != v.data() + v.size() || ms == 0) return fallback;
  return std::min(Timeout(ms), fallback);
}
}  // namespace

struct Server::Impl {
  Impl(asio::any_io_executor ex, std::shared_ptr<ChordService> node, Limits l, Timeout t)
      : dispatcher(ex, std::move(node), unary::Limits{l.chunk_bytes, l.max_transfers, l.max_transfers_per_peer, l.refused}), limits(l), timeout(t) {}
  unary::Dispatcher dispatcher;
  Limits limits;
  Timeout timeout;

  asio::awaitable<void> handle(Exchange& ex) {
    const auto& req = ex.request();
    std::string_view target = req.target();
    if (!target.starts_with(rpc_prefix)) {
      (void)co_await ex.respond_error(make_error(Errc::not_found, fmt::format("no such path '{}'; RPCs are POST {}<Method>",
                                                                        target, rpc_prefix)));
      co_return;
    }
    auto method = target.substr(rpc_prefix.size());
    auto request = unary::Dispatcher::new_request(method);
    if (!request) {
      (void)co_await ex.respond_error(make_error(Errc::not_found, fmt::format("chord.v1.Chord has no method '{}'", method)));
      co_return;
    }
    if (req.method() != http::verb::post) {
      (void)co_await ex.respond_not_allowed("POST");
      co_return;
    }
    auto body = co_await ex.read_body(limits.max_message_bytes);
    if (!body) {
      if (body.error().code == Errc::too_large && limits.refused) limits.refused("too_large");
      (void)co_await ex.respond_error(body.error());
      co_return;
    }
    // Proof of the cluster key is checked on the bytes as they came, before they are decoded.
    auto member = wire::prove_member(limits.cluster_key.get(), method, *body, req[ClusterKey::kHeader]);
    if (!member) {
      wire::note_refusal("rest", ex.remote_address(), member.error(), limits.refused);
      (void)co_await ex.respond_error(member.error());
      co_return;
    }
    if (auto rated = wire::within_rate(limits.peer_rate.get(), *member, ex.remote_address()); !rated) {
      wire::note_refusal("rest", ex.remote_address(), rated.error(), limits.refused);
      (void)co_await ex.respond_error(rated.error());
      co_return;
    }
    const bool binary = req[http::field::content_type] == "application/x-protobuf";
    // Canonical proto3 JSON: either spelling of a field (keyId, key_id) is read; a field the
    // schema does not have is refused, naming it, rather than silently dropped.
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    if (binary) {
      if (!request->ParseFromString(*body)) {
        (void)co_await ex.respond_error(make_error(Errc::invalid_argument, fmt::format("{}: malformed protobuf request", method)));
        co_return;
      }
    } else if (auto parsed = google::protobuf::util::JsonStringToMessage(*body, request.get(), options); !parsed.ok()) {
      (void)co_await ex.respond_error(make_error(Errc::invalid_argument, fmt::format("{}: malformed JSON request: {}", method,
                                                                               std::string(parsed.message()))));
      co_return;
    }
    const bool client = bearer_matches(limits.client_token, req[http::field::authorization]);
    auto reply = co_await dispatcher.dispatch(method, *request, timeout_of(req, timeout), ex.remote_address(), *member,
                                              client);
    if (!reply) {
      if (reply.error().code == Errc::unauthenticated)
        wire::note_refusal("rest", ex.remote_address(), reply.error(), limits.refused);
      (void)co_await ex.respond_error(reply.error());
      co_return;
    }
    std::string out;
    if (binary) {
      (*reply)->SerializeToString(&out);
      (void)co_await ex.respond(http::status::ok, "application/x-protobuf", std::move(out));
      co_return;
    }
    google::protobuf::util::JsonPrintOptions print;  // lowerCamelCase names, as proto3 JSON prints them
    if (auto printed = google::protobuf::util::MessageToJsonString(**reply, &out, print); !printed.ok()) {
      (void)co_await ex.respond_error(make_error(Errc::internal, std::string(printed.message())));
      co_return;
    }
    (void)co_await ex.respond(http::status::ok, "application/json", std::move(out));
  }
};

Result<std::unique_ptr<Server>> Server::start(const std::string& listen, asio::any_io_executor executor,
                                              std::shared_ptr<ChordService> node, Limits limits,
                                              Timeout default_timeout) {
  auto impl = std::make_shared<Impl>(executor, std::move(node), limits, default_timeout);
  // The handler holds the Impl: a request still running when the server goes keeps it alive.
  HttpOptions options;
  options.max_connections = limits.max_connections;
  options.name = fmt::format("rest {}", listen);
  if (limits.tls) options.tls = make_tls_context(*limits.tls, true);
  options.refused = limits.refused;
  auto http = HttpServer::start(listen, executor, [impl](Exchange& ex) { return impl->handle(ex); }, options);
  if (!http) return http.error();
  return std::unique_ptr<Server>(new Server(std::move(*http), std::move(impl)));
}

Server::~Server() { shutdown(); }

void Server::shutdown() {
  if (http_) http_->shutdown();
  if (impl_) impl_->dispatcher.close();
}

}  // namespace chord::rest
