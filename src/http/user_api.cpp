#include "chord/secret_file.hpp"
#include "user_api.hpp"

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <fmt/format.h>

#include "chord/chunks.hpp"
#include "chord/sha256.hpp"
#include "chord/version_text.hpp"
#include "http_status.hpp"
#include "ring_page.hpp"
#include "share_client.hpp"
#include "views.hpp"

namespace chord::http_api {

namespace http = rest::http;
namespace json = boost::json;

namespace {

// A PUT's body as the chunks of a value, read as the node asks for them.
class BodySource final : public ChunkSource {
 public:
  BodySource(rest::Exchange& ex, std::size_t chunk, std::uint64_t expected) : ex_(ex), chunk_(chunk), left_(expected) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override {
    auto piece = co_await ex_.read_some(chunk_);
    if (!piece) co_return piece.error();
    if (!*piece && left_ != 0) co_return make_error(Errc::invalid_argument, fmt::format("the body ended {} bytes short", left_));
    if (*piece) left_ -= std::min<std::uint64_t>(left_, (*piece)->size());
    co_return piece;
  }

 private:
  rest::Exchange& ex_;
  std::size_t chunk_;
  std::uint64_t left_;
};

// A GET's response, written as the value's chunks arrive from its holder.
class ResponseSink final : public ChunkSink {
 public:
  ResponseSink(rest::Exchange& ex, const Ring& ring) : ex_(ex), ring_(ring) {}
  asio::awaitable<Result<void>> begin(const FetchReply& h) override {
    rest::Exchange::Headers headers{{"X-Content-SHA256", to_hex(h.meta.sha256)}, {"X-Chord-Holder", h.holder.uri},
                                    {"ETag", "\"" + views::version(h.meta.version, ring_) + "\""}};
    co_return co_await ex_.begin_response(http::status::ok, "application/octet-stream", h.meta.size, std::move(headers));
  }
  asio::awaitable<Result<void>> write(std::string chunk) override { co_return co_await ex_.write(chunk); }

 private:
  rest::Exchange& ex_;
  Ring ring_;
};

// A shared file's download: the browser saves it under its name.
class FileResponseSink final : public ChunkSink {
 public:
  explicit FileResponseSink(rest::Exchange& ex) : ex_(ex) {}
  asio::awaitable<Result<void>> begin(const FetchReply& h) override {
    const std::string name = boost::urls::encode(h.meta.key, boost::urls::unreserved_chars);
    rest::Exchange::Headers headers{{"X-Content-SHA256", to_hex(h.meta.sha256)}, {"X-Chord-Holder", h.holder.uri},
                                    {"Content-Disposition", "attachment; filename*=UTF-8''" + name}};
    co_return co_await ex_.begin_response(http::status::ok, "application/octet-stream", h.meta.size, std::move(headers));
  }
  asio::awaitable<Result<void>> write(std::string chunk) override { co_return co_await ex_.write(chunk); }

 private:
  rest::Exchange& ex_;
};

}  // namespace

struct UserApi::Impl {
  std::shared_ptr<Node> node;
  Connector& connector;
  std::shared_ptr<Metrics> metrics;
  ApiOptions options;

  asio::awaitable<void> fail(rest::Exchange& ex, Error e) { (void)co_await ex.respond_error(e); }

  asio::awaitable<void> json_reply(rest::Exchange& ex, http::status status, json::object body) {
    (void)co_await ex.respond(status, "application/json", json::serialize(body));
  }

  asio::awaitable<void> handle(rest::Exchange& ex) {
    auto url = boost::urls::parse_origin_form(ex.request().target());
    if (!url) {
      (void)co_await ex.respond_error(make_error(Errc::invalid_argument, "malformed request target"));
      co_return;
    }
    const std::string_view path = url->encoded_path();
    const auto verb = ex.request().method();
    // A key is everything after the prefix, percent-decoded: "/v1/keys/a%2Fb" and "/v1/keys/a/b"
    // both name the key "a/b".
    auto key_after = [&](std::string_view prefix) -> std::optional<std::string> {
      if (!path.starts_with(prefix)) return std::nullopt;
      auto rest = boost::urls::make_pct_string_view(path.substr(prefix.size()));
      if (!rest) return std::nullopt;
      auto decoded = rest->decode();
      return std::string(decoded.begin(), decoded.end());
    };
    // What a path allows; HEAD goes wherever GET does, and is answered as GET without the body.
    auto only = [&](std::initializer_list<http::verb> allowed) -> bool {
      for (auto v : allowed)
        if (v == verb || (v == http::verb::get && verb == http::verb::head)) return true;
      return false;
    };

    if (path == "/" || path.empty()) {
      if (!only({http::verb::get})) co_return co_await not_allowed(ex, "GET, HEAD");
      (void)co_await ex.respond(http::status::ok, "text/html; charset=utf-8", std::string(ring_page()));
    } else if (path == "/metrics") {
      if (!only({http::verb::get})) co_return co_await not_allowed(ex, "GET, HEAD");
      (void)co_await ex.respond(http::status::ok, "text/plain; version=0.0.4", metrics->scrape(*node));
    } else if (path == "/v1/keys") {
      if (!only({http::verb::get})) co_return co_await not_allowed(ex, "GET, HEAD");
      const ListKeysRequest req{0};  // named: g++ 12 mishandles braced temporaries in co_await
      auto r = co_await node->list_keys(req, options.timeout);
      if (!r) co_return co_await fail(ex, r.error());
      co_await json_reply(ex, http::status::ok, views::keys(*r, node->ring()));
    } else if (auto key = key_after("/v1/keys/")) {
      if (!only({http::verb::put, http::verb::get, http::verb::delete_})) co_return co_await not_allowed(ex, "PUT, GET, HEAD, DELETE");
      if (key->empty()) co_return co_await fail(ex, make_error(Errc::invalid_argument, "an empty key"));
      if (verb != http::verb::get && !bearer_matches(options.client_token, ex.request()[http::field::authorization])) {
        if (metrics) metrics->refused("http", "unauthenticated");
        co_return co_await fail(ex, make_error(Errc::unauthenticated,
                                               "writes need this ring's client token: Authorization: Bearer TOKEN"));
      }
      if (verb == http::verb::put) co_await put(ex, *key);
      else if (verb == http::verb::delete_) co_await remove(ex, *key);
      else co_await get(ex, *key);
    } else if (auto lkey = key_after("/v1/lookup/")) {
      if (!only({http::verb::get})) co_return co_await not_allowed(ex, "GET, HEAD");
      if (lkey->empty()) co_return co_await fail(ex, make_error(Errc::invalid_argument, "an empty key"));
      const LookupRequest req{*lkey, std::nullopt};
      auto r = co_await node->lookup(req, options.timeout);
      if (!r) co_return co_await fail(ex, r.error());
      co_await json_reply(ex, http::status::ok, views::lookup(*lkey, *r, node->ring()));
    } else if (path == "/v1/search") {
      if (!only({http::verb::get})) co_return co_await not_allowed(ex, "GET, HEAD");
      std::vector<std::string> words;
      for (auto it = url->params().find("q"); it != url->params().end(); it = url->params().find(std::next(it), "q"))
        for (auto& w : split_words((*it).value)) words.push_back(std::move(w));
      if (words.empty()) co_return co_await fail(ex, make_error(Errc::invalid_argument, "give the words to search for: ?q=WORDS"));
      auto r = co_await share::search(*node, words, options.timeout);
      if (!r) co_return co_await fail(ex, r.error());
      co_await json_reply(ex, http::status::ok, share::to_json(*r));
    } else if (auto name = key_after("/v1/files/")) {
      if (!only({http::verb::get})) co_return co_await not_allowed(ex, "GET, HEAD");
      share::FetchOptions fetch;
      fetch.timeout = options.timeout;
      fetch.header_only = ex.head();
      if (auto d = url->params().find("sha256"); d != url->params().end()) {
        fetch.sha256 = digest_from_hex((*d).value);
        if (!fetch.sha256) co_return co_await fail(ex, make_error(Errc::invalid_argument, "sha256 takes 64 hex digits"));
      }
      FileResponseSink sink(ex);
      auto r = co_await share::fetch_file(connector, *node, *name, sink, fetch);
      if (!r) {
        if (!ex.responded()) (void)co_await ex.respond_error(r.error());
        co_return;
      }
      (void)co_await ex.end_response();
    } else if (path == "/v1/ring") {
      if (!only({http::verb::get})) co_return co_await not_allowed(ex, "GET, HEAD");
      const Empty req;
      auto r = co_await node->node_info(req, options.timeout);
      if (!r) co_return co_await fail(ex, r.error());
      co_await json_reply(ex, http::status::ok, views::node_info(*r, node->ring()));
    } else if (path == "/v1/ring/walk") {
      if (!only({http::verb::get})) co_return co_await not_allowed(ex, "GET, HEAD");
      auto walk = co_await views::walk_ring(*node, connector, options.ring_walk_limit, options.timeout);
      co_await json_reply(ex, http::status::ok, views::ring(walk, node->ring()));
    } else {
      (void)co_await ex.respond_error(make_error(Errc::not_found, fmt::format("no such resource: {}", path)));
    }
  }

  static std::vector<std::string> split_words(std::string_view text) {
    std::vector<std::string> out;
    for (std::size_t at = 0; at < text.size();) {
      auto space = std::min(text.find(' ', at), text.size());
      if (space > at) out.emplace_back(text.substr(at, space - at));
      at = space + 1;
    }
    return out;
  }

  asio::awaitable<void> not_allowed(rest::Exchange& ex, std::string_view allow) {
    (void)co_await ex.respond_not_allowed(allow);
  }

  // If-Match: "V" (the ETag a GET gave) makes a write conditional on the key being at version V;
  // If-None-Match: * on the key not existing. Past the condition: 412 and nothing changes.
  Result<std::optional<Version>> condition_of(rest::Exchange& ex) {
    auto match = ex.request()["If-Match"];
    auto none = ex.request()["If-None-Match"];
    if (!match.empty() && !none.empty())
      return make_error(Errc::invalid_argument, "give If-Match or If-None-Match, not both");
    if (!none.empty()) {
      if (none != "*") return make_error(Errc::invalid_argument, "a write takes only If-None-Match: * (create only)");
      return std::optional<Version>(Version{});
    }
    if (match.empty()) return std::optional<Version>{};
    std::string_view tag(match.data(), match.size());
    if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') tag = tag.substr(1, tag.size() - 2);
    if (tag == "*") return make_error(Errc::invalid_argument, "If-Match: * is not supported: name the version (the ETag)");
    auto v = parse_version(tag, node->ring());
    if (!v) return v.error();
    if (v->zero()) return make_error(Errc::invalid_argument, "If-Match needs a version; for create-only use If-None-Match: *");
    return std::optional<Version>(*v);
  }

  asio::awaitable<void> put(rest::Exchange& ex, const std::string& key) {
    const auto& ring = node->ring();
    ValueMeta meta{key, ring.hash(key), 0, {}, {}, false};
    auto condition = condition_of(ex);
    if (!condition) co_return co_await fail(ex, condition.error());
    auto length = ex.content_length();
    auto declared = ex.request()["X-Content-SHA256"];
    Result<StoreReply> r = make_error(Errc::internal, "unreached");
    if (!declared.empty()) {
      auto digest = digest_from_hex(declared);
      if (!digest) co_return co_await fail(ex, make_error(Errc::invalid_argument, "X-Content-SHA256 must be 64 hex digits"));
      if (!length) co_return co_await fail(ex, make_error(Errc::invalid_argument, "a streamed PUT needs a Content-Length"));
      meta.size = *length;
      meta.sha256 = *digest;
      BodySource source(ex, node->config().chunk_bytes, *length);
      const StoreRequest req{meta, Role::client, false, *condition};
      r = co_await node->store(req, source, options.timeout);
    } else {
      auto body = co_await ex.read_body(options.max_buffered_body);
      if (!body) {
        auto e = body.error();
        if (e.code == Errc::too_large) e.message += "; send X-Content-SHA256 with the body's digest to stream it instead";
        co_return co_await fail(ex, e);
      }
      meta.size = body->size();
      meta.sha256 = Sha256::of(*body);
      StringSource source(std::move(*body), node->config().chunk_bytes);
      const StoreRequest req{meta, Role::client, false, *condition};
      r = co_await node->store(req, source, options.timeout);
    }
    if (!r) co_return co_await fail(ex, r.error());
    auto out = views::value(key, r->owner, r->bytes, r->sha256, r->version, ring);
    out["copies"] = r->copies;
    co_await json_reply(ex, http::status::created, out);
  }

  asio::awaitable<void> get(rest::Exchange& ex, const std::string& key) {
    ResponseSink sink(ex, node->ring());
    // HEAD: the holder sends the header (size, digest) and none of the value.
    const FetchRequest req{key, std::nullopt, Role::client, 0,
                           ex.head() ? std::optional<std::uint64_t>(0) : std::nullopt};
    auto r = co_await node->fetch(req, sink, options.timeout);
    if (!r) {
      // Before the first byte the client gets a proper error; after it, a short body on a
      // closed connection, which no client mistakes for the value.
      if (!ex.responded()) (void)co_await ex.respond_error(r.error());
      co_return;
    }
    (void)co_await ex.end_response();
  }

  asio::awaitable<void> remove(rest::Exchange& ex, const std::string& key) {
    auto condition = condition_of(ex);
    if (!condition) co_return co_await fail(ex, condition.error());
    const DeleteRequest req{key, std::nullopt, Role::client, {}, *condition};
    auto r = co_await node->remove(req, options.timeout);
    if (!r) co_return co_await fail(ex, r.error());
    if (!r->existed) co_return co_await fail(ex, make_error(Errc::not_found, fmt::format("key '{}' not found", key)));
    json::object out{{"key", key}, {"owner", views::node(r->owner, node->ring())}, {"existed", true},
                     {"version", views::version(r->version, node->ring())}};
    co_await json_reply(ex, http::status::ok, std::move(out));
  }
};

Result<std::unique_ptr<UserApi>> UserApi::start(const std::string& listen, asio::any_io_executor executor,
                                                std::shared_ptr<Node> node, Connector& connector,
                                                std::shared_ptr<Metrics> metrics, ApiOptions options) {
  auto impl = std::make_shared<Impl>(Impl{std::move(node), connector, std::move(metrics), options});
  rest::HttpOptions http_options;
  http_options.max_connections = options.max_connections;
  http_options.name = fmt::format("http api {}", listen);
  auto http = rest::HttpServer::start(listen, executor, [impl](rest::Exchange& ex) { return impl->handle(ex); },
                                      http_options);
  if (!http) return http.error();
  if (impl->metrics) impl->metrics->watch_listener(http_options.name, (*http)->counter_source());
  return std::unique_ptr<UserApi>(new UserApi(std::move(*http), std::move(impl)));
}

UserApi::~UserApi() { shutdown(); }

void UserApi::shutdown() {
  if (http_) http_->shutdown();
}

}  // namespace chord::http_api
