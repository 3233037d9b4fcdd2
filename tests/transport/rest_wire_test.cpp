// What only the REST wire can carry: raw HTTP that is malformed, misaddressed, oversized, or
// a value's chunks out of order, sent over a plain socket.
#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>

#include "chord/chunks.hpp"
#include "chord/sha256.hpp"
#include "harness.hpp"

using namespace chord;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Answer {
  unsigned status = 0;
  std::string code;  // the error body's code, if any
  std::string body;
  std::string allow;  // the Allow header
};

class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  Answer post(const std::string& target, const std::string& body, const std::string& type = "application/json",
              http::verb verb = http::verb::post) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, type);
    req.body() = body;
    req.prepare_payload();
    http::write(socket_, req);
    return read();
  }
  Answer raw(const std::string& bytes) {
    asio::write(socket_, asio::buffer(bytes));
    return read();
  }

 private:
  Answer read() {
    http::response_parser<http::string_body> p;
    p.body_limit(64 << 20);
    http::read(socket_, buffer_, p);
    Answer a{p.get().result_int(), "", p.get().body(), std::string(p.get()[http::field::allow])};
    boost::system::error_code ec;
    auto v = boost::json::parse(a.body, ec);
    if (!ec && v.is_object() && v.as_object().contains("code")) a.code = v.as_object().at("code").as_string().c_str();
    return a;
  }
  asio::io_context io_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

std::string b64(const std::string& s) {
  std::string out((s.size() + 2) / 3 * 4 + 1, '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(s.data()),
                           static_cast<int>(s.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

TEST_CASE("REST: malformed, misaddressed and oversized requests get a clear status and change nothing") {
  auto h = test::make_rest_harness(true);
  h->start(1);
  auto port = static_cast<std::uint16_t>(std::stoi(h->node(0).self().uri.str().substr(h->node(0).self().uri.str().rfind(':') + 1)));
  RawClient c(port);

  SECTION("malformed JSON is a 400, and the connection stays usable") {
    auto a = c.post("/chord.v1.Chord/Ping", "{not json");
    CHECK(a.status == 400);
    CHECK(a.code == "invalid_argument");
    auto b = c.post("/chord.v1.Chord/Ping", "{}");
    CHECK(b.status == 200);
    CHECK(b.body.find(h->node(0).self().uri) != std::string::npos);
  }
  SECTION("an unknown method is a 404, a GET of a method a 405") {
    CHECK(c.post("/chord.v1.Chord/Nope", "{}").status == 404);
    CHECK(c.post("/elsewhere", "{}").status == 404);
    auto get = c.post("/chord.v1.Chord/Ping", "", "application/json", http::verb::get);
    CHECK(get.status == 405);
    CHECK(get.allow == "POST");
  }
  SECTION("canonical proto3 JSON: lowerCamelCase out, both spellings in, unknown fields refused by name") {
    const Ring ring(160);
    const std::string id = b64(ring.hash("some key").to_bytes());
    auto camel = c.post("/chord.v1.Chord/LookupStep", R"({"keyId":")" + id + R"("})");
    auto snake = c.post("/chord.v1.Chord/LookupStep", R"({"key_id":")" + id + R"("})");
    CHECK(camel.status == 200);
    CHECK(snake.status == 200);
    CHECK(camel.body == snake.body);
    auto found = c.post("/chord.v1.Chord/Lookup", R"({"key":"some key"})");
    REQUIRE(found.status == 200);
    CHECK(found.body.find("\"keyId\"") != std::string::npos);
    CHECK(found.body.find("key_id") == std::string::npos);
    auto extra = c.post("/chord.v1.Chord/Lookup", R"({"key":"some key","kee":"typo"})");
    CHECK(extra.status == 400);
    CHECK(extra.code == "invalid_argument");
    CHECK(extra.body.find("kee") != std::string::npos);
  }
  SECTION("a field of the wrong shape is a 400") {
    auto a = c.post("/chord.v1.Chord/LookupStep", R"({"key_id":"c2hvcnQ="})");
    CHECK(a.status == 400);
    CHECK(a.body.find("key_id must be 20 bytes") != std::string::npos);
    auto n = c.post("/chord.v1.Chord/Notify", "{}");
    CHECK(n.status == 400);
    auto pred = h->run([](Node& nd) -> asio::awaitable<bool> { co_return nd.predecessor().has_value(); }(h->node(0)));
    CHECK_FALSE(pred);
  }
  SECTION("a body over the message bound is a 413") {
    auto a = c.post("/chord.v1.Chord/Lookup", "{\"key\":\"" + std::string(9 << 20, 'k') + "\"}");
    CHECK(a.status == 413);
    CHECK(a.code == "too_large");
  }
  SECTION("bytes that are not HTTP are a 400") {
    RawClient junk(port);
    auto a = junk.raw("HELLO THERE\r\n\r\n");
    CHECK(a.status == 400);
  }
  SECTION("a value in proto3 JSON chunks is stored; chunks out of order are refused") {
    const std::string value = "hello, chord";
    const Ring ring(160);
    auto id = ring.hash("json-key");
    auto digest = Sha256::of(value);
    std::string id_bytes = id.to_bytes();
    std::string digest_bytes(reinterpret_cast<const char*>(digest.data()), digest.size());
    auto header = fmt::format(R"({{"meta":{{"key":"json-key","key_id":"{}","size":"{}","sha256":"{}"}},"role":"ROLE_CLIENT"}})",
                              b64(id_bytes), value.size(), b64(digest_bytes));
    auto first = c.post("/chord.v1.Chord/Store",
                        fmt::format(R"({{"header":{},"data":"{}","transfer":"t1","offset":"0"}})", header, b64(value.substr(0, 5))));
    REQUIRE(first.status == 200);
    auto gap = c.post("/chord.v1.Chord/Store",
                      fmt::format(R"({{"data":"{}","transfer":"t1","offset":"9","last":true}})", b64(value.substr(5))));
    CHECK(gap.status == 400);
    CHECK(gap.body.find("expected 5") != std::string::npos);
    auto unknown = c.post("/chord.v1.Chord/Store", R"({"data":"eA==","transfer":"nobody","offset":"0","last":true})");
    CHECK(unknown.status == 400);
    auto rest = c.post("/chord.v1.Chord/Store",
                       fmt::format(R"({{"data":"{}","transfer":"t1","offset":"5","last":true}})", b64(value.substr(5))));
    REQUIRE(rest.status == 200);
    CHECK(rest.body.find("\"bytes\":\"12\"") != std::string::npos);
    auto got = c.post("/chord.v1.Chord/Fetch", R"({"key":"json-key"})");
    REQUIRE(got.status == 200);
    CHECK(got.body.find("\"data\":\"" + b64(value) + "\"") != std::string::npos);
    CHECK(h->node(0).store().count() == 1);
  }
  SECTION("a whole value in one message is stored at once; a chunk after it, or a longer value, changes nothing") {
    const Ring ring(160);
    auto header_of = [&](const std::string& key, const std::string& value, std::size_t announced) {
      auto digest = Sha256::of(value);
      std::string digest_bytes(reinterpret_cast<const char*>(digest.data()), digest.size());
      return fmt::format(R"({{"meta":{{"key":"{}","key_id":"{}","size":"{}","sha256":"{}"}},"role":"ROLE_CLIENT"}})", key,
                         b64(ring.hash(key).to_bytes()), announced, b64(digest_bytes));
    };
    const std::string value = "one message";
    auto whole = c.post("/chord.v1.Chord/Store",
                        fmt::format(R"({{"header":{},"data":"{}","transfer":"w1","offset":"0","last":true}})",
                                    header_of("whole-key", value, value.size()), b64(value)));
    REQUIRE(whole.status == 200);
    CHECK(whole.body.find("\"bytes\":\"11\"") != std::string::npos);
    auto after = c.post("/chord.v1.Chord/Store",
                        fmt::format(R"({{"data":"{}","transfer":"w1","offset":"11","last":true}})", b64("more")));
    CHECK(after.status == 400);
    CHECK(after.body.find("no such transfer") != std::string::npos);
    auto got = c.post("/chord.v1.Chord/Fetch", R"({"key":"whole-key"})");
    REQUIRE(got.status == 200);
    CHECK(got.body.find("\"data\":\"" + b64(value) + "\"") != std::string::npos);
    // The unary forms of the schema (gRPC's StoreWhole and FetchRange) are the same calls here;
    // a StoreWhole must be whole.
    auto range = c.post("/chord.v1.Chord/FetchRange", R"({"key":"whole-key"})");
    REQUIRE(range.status == 200);
    CHECK(range.body.find("\"data\":\"" + b64(value) + "\"") != std::string::npos);
    auto not_whole = c.post("/chord.v1.Chord/StoreWhole",
                            fmt::format(R"({{"header":{},"data":"{}","transfer":"w3","offset":"0"}})",
                                        header_of("part-key", value, value.size()), b64(value)));
    CHECK(not_whole.status == 400);
    auto whole2 = c.post("/chord.v1.Chord/StoreWhole",
                         fmt::format(R"({{"header":{},"data":"{}","transfer":"w4","offset":"0","last":true}})",
                                     header_of("whole-2", value, value.size()), b64(value)));
    CHECK(whole2.status == 200);
    CHECK(h->node(0).store().count() == 2);
    // Announced as 3 bytes, sent as 11: refused before anything is kept.
    auto longer = c.post("/chord.v1.Chord/Store",
                         fmt::format(R"({{"header":{},"data":"{}","transfer":"w2","offset":"0","last":true}})",
                                     header_of("longer-key", value, 3), b64(value)));
    CHECK(longer.status == 400);
    CHECK(c.post("/chord.v1.Chord/Fetch", R"({"key":"longer-key"})").status == 404);
    CHECK(h->node(0).store().count() == 2);
  }
}

TEST_CASE("REST: values in proto3 JSON chunks, through the real client, in and out of a ring") {
  // The client sends every call as binary protobuf by default; here every message is JSON, the
  // ring's maintenance too.
  auto h = test::make_rest_harness(false);
  h->start(3);
  REQUIRE(h->converged());
  const Ring ring(160);
  std::string value(200 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 7 % 253);
  const ValueMeta meta{"json-value", ring.hash("json-value"), value.size(), Sha256::of(value), {}, false};
  auto put = [](std::shared_ptr<ChordService> via, ValueMeta m, std::string v) -> asio::awaitable<Result<StoreReply>> {
    StringSource source(std::move(v), 64 << 10);
    const StoreRequest req{m, Role::client};
    co_return co_await via->store(req, source, std::chrono::seconds(5));
  };
  auto stored = h->run(put(h->client(0), meta, value));
  INFO((stored ? std::string() : stored.error().message));
  REQUIRE(stored);
  CHECK(stored->copies == 3);
  auto get = [](std::shared_ptr<ChordService> via) -> asio::awaitable<Result<std::string>> {
    StringSink sink;
    const FetchRequest req{"json-value", std::nullopt, Role::client, 0, std::nullopt};
    auto r = co_await via->fetch(req, sink, std::chrono::seconds(5));
    if (!r) co_return r.error();
    co_return std::move(sink.data());
  };
  auto got = h->run(get(h->client(2)));
  INFO((got ? std::string() : got.error().message));
  REQUIRE(got);
  CHECK(*got == value);
}
