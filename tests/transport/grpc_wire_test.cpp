// What only the gRPC wire can carry: malformed protobuf fields and messages over the size bound,
// sent with the raw generated stub.
#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include <atomic>

#include "chord/chunks.hpp"
#include "chord/id.hpp"
#include "chord/sha256.hpp"
#include "chord/v1/chord.grpc.pb.h"
#include "harness.hpp"

using namespace chord;

namespace {

std::string digest_bytes(const std::string& value) {
  auto d = Sha256::of(value);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// A peer of an older build: Store and Fetch as streams, and no StoreWhole or FetchRange (gRPC
// answers those UNIMPLEMENTED). It keeps nothing; it counts the streams it served.
class StreamsOnly final : public chord::v1::Chord::CallbackService {
 public:
  std::atomic<int> stores{0}, fetches{0};

  grpc::ServerReadReactor<chord::v1::StoreChunk>* Store(grpc::CallbackServerContext*, chord::v1::StoreReply* reply) override {
    class Reader final : public grpc::ServerReadReactor<chord::v1::StoreChunk> {
     public:
      explicit Reader(chord::v1::StoreReply* r) : reply_(r) { StartRead(&chunk_); }
      void OnReadDone(bool ok) override {
        if (ok) {
          if (chunk_.has_header()) reply_->set_sha256(chunk_.header().meta().sha256());
          reply_->set_bytes(reply_->bytes() + chunk_.data().size());
          StartRead(&chunk_);
          return;
        }
        reply_->mutable_owner()->set_id(std::string(20, '\1'));
        reply_->mutable_owner()->set_uri("grpc://older.invalid:1");
        reply_->set_copies(1);
        Finish(grpc::Status::OK);
      }
      void OnDone() override { delete this; }

     private:
      chord::v1::StoreReply* reply_;
      chord::v1::StoreChunk chunk_;
    };
    ++stores;
    return new Reader(reply);
  }

  grpc::ServerWriteReactor<chord::v1::FetchChunk>* Fetch(grpc::CallbackServerContext*,
                                                        const chord::v1::FetchRequest* request) override {
    class Writer final : public grpc::ServerWriteReactor<chord::v1::FetchChunk> {
     public:
      explicit Writer(const std::string& key) {
        auto* meta = chunk_.mutable_header()->mutable_meta();
        meta->set_key(key);
        meta->set_key_id(Ring(160).hash(key).to_bytes());
        meta->set_size(5);
        meta->set_sha256(digest_bytes("older"));
        chunk_.mutable_header()->mutable_holder()->set_id(std::string(20, '\1'));
        chunk_.mutable_header()->mutable_holder()->set_uri("grpc://older.invalid:1");
        chunk_.set_data("older");
        StartWriteAndFinish(&chunk_, grpc::WriteOptions(), grpc::Status::OK);
      }
      void OnDone() override { delete this; }

     private:
      chord::v1::FetchChunk chunk_;
    };
    ++fetches;
    return new Writer(request->key());
  }
};

// A peer whose FetchRange answers a range of a 100-byte value with `given` bytes, whatever was
// asked for.
class WrongRange final : public chord::v1::Chord::CallbackService {
 public:
  std::atomic<std::size_t> given{16};

  grpc::ServerUnaryReactor* FetchRange(grpc::CallbackServerContext* ctx, const chord::v1::FetchRequest* request,
                                       chord::v1::FetchChunk* reply) override {
    auto* meta = reply->mutable_header()->mutable_meta();
    meta->set_key(request->key());
    meta->set_key_id(Ring(160).hash(request->key()).to_bytes());
    meta->set_size(100);
    meta->set_sha256(digest_bytes(std::string(100, 'v')));
    reply->mutable_header()->mutable_holder()->set_id(std::string(20, '\1'));
    reply->mutable_header()->mutable_holder()->set_uri("grpc://wrong.invalid:1");
    reply->set_data(std::string(given, 'v'));
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

asio::awaitable<Result<StoreReply>> put_through(std::shared_ptr<ChordService> client, std::string key, std::string value) {
  const Ring ring(160);
  const StoreRequest req{ValueMeta{key, ring.hash(key), value.size(), Sha256::of(value), {}, false}, Role::client};
  StringSource source(std::move(value), 64 << 10);
  co_return co_await client->store(req, source, Timeout(3000));
}

asio::awaitable<Result<std::string>> probe_through(std::shared_ptr<ChordService> client, std::string key) {
  const FetchRequest req{key, Ring(160).hash(key), Role::replica, 0, std::uint64_t{16}};
  StringSink sink(16);
  auto r = co_await client->fetch(req, sink, Timeout(3000));
  if (!r) co_return r.error();
  co_return sink.data();
}

}  // namespace

TEST_CASE("gRPC: malformed and oversized messages get a clear status and change nothing") {
  auto h = test::make_grpc_harness();
  h->start(1);
  const std::string uri = h->node(0).self().uri;
  auto channel = grpc::CreateChannel(uri.substr(std::string("grpc://").size()), grpc::InsecureChannelCredentials());
  auto stub = chord::v1::Chord::NewStub(channel);

  SECTION("an id of the wrong length") {
    grpc::ClientContext ctx;
    chord::v1::LookupStepRequest req;
    req.set_key_id("short");
    chord::v1::LookupStepReply rep;
    auto s = stub->LookupStep(&ctx, req, &rep);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message().find("key_id must be 20 bytes") != std::string::npos);
  }
  SECTION("a notify without a candidate leaves the predecessor alone") {
    grpc::ClientContext ctx;
    chord::v1::NotifyRequest req;
    chord::v1::NotifyReply rep;
    auto s = stub->Notify(&ctx, req, &rep);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    auto pred = h->run([](Node& n) -> asio::awaitable<bool> { co_return n.predecessor().has_value(); }(h->node(0)));
    CHECK_FALSE(pred);
  }
  SECTION("a store stream that does not begin with a header") {
    grpc::ClientContext ctx;
    chord::v1::StoreReply rep;
    auto writer = stub->Store(&ctx, &rep);
    chord::v1::StoreChunk chunk;
    chunk.set_data("bytes first");
    writer->Write(chunk);
    writer->WritesDone();
    auto s = writer->Finish();
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(h->node(0).store().count() == 0);
  }
  SECTION("StoreWhole and FetchRange: a value in one message each way; a StoreWhole that is not whole changes nothing") {
    const Ring ring(160);
    const std::string value = "one message each way";
    chord::v1::StoreChunk whole;
    auto* meta = whole.mutable_header()->mutable_meta();
    meta->set_key("whole");
    meta->set_size(value.size());
    meta->set_sha256(digest_bytes(value));
    whole.mutable_header()->set_role(chord::v1::ROLE_CLIENT);
    whole.set_data(value);
    {
      grpc::ClientContext ctx;
      chord::v1::StoreReply rep;
      auto partial = whole;
      partial.set_last(false);  // more would follow: not a StoreWhole
      auto s = stub->StoreWhole(&ctx, partial, &rep);
      CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
      CHECK(h->node(0).store().count() == 0);
    }
    whole.set_last(true);
    grpc::ClientContext put_ctx;
    chord::v1::StoreReply put;
    auto s = stub->StoreWhole(&put_ctx, whole, &put);
    REQUIRE(s.ok());
    CHECK(put.bytes() == value.size());
    grpc::ClientContext get_ctx;
    chord::v1::FetchRequest ask;
    ask.set_key("whole");
    ask.set_role(chord::v1::ROLE_CLIENT);
    chord::v1::FetchChunk got;
    s = stub->FetchRange(&get_ctx, ask, &got);
    REQUIRE(s.ok());
    CHECK(got.header().meta().size() == value.size());
    CHECK(got.data() == value);
  }
  SECTION("a message over the receive bound") {
    grpc::ClientContext ctx;
    chord::v1::LookupRequest req;
    req.set_key(std::string(9 << 20, 'k'));  // over the 8 MiB message bound
    chord::v1::LookupReply rep;
    auto s = stub->Lookup(&ctx, req, &rep);
    CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  SECTION("a key over the key bound, inside the message bound") {
    grpc::ClientContext ctx;
    chord::v1::LookupRequest req;
    req.set_key(std::string(5000, 'k'));
    chord::v1::LookupReply rep;
    auto s = stub->Lookup(&ctx, req, &rep);
    CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(s.error_message().find("4096") != std::string::npos);
  }
}

TEST_CASE("gRPC client: a peer without StoreWhole and FetchRange is written and read through the streams") {
  auto h = test::make_grpc_harness();
  h->start(1);
  // Two peers of an older build, one per client: each client finds out on its own.
  StreamsOnly older[2];
  std::unique_ptr<grpc::Server> servers[2];
  std::string uris[2];
  for (int i = 0; i < 2; ++i) {
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&older[i]);
    servers[i] = builder.BuildAndStart();
    REQUIRE(servers[i]);
    uris[i] = "grpc://127.0.0.1:" + std::to_string(port);
  }
  auto writer = h->connector().connect(uris[0]);
  REQUIRE(writer);
  auto first = h->run(put_through(*writer, "small", "a small value"));
  REQUIRE(first);
  CHECK(first->bytes == 13);
  CHECK(older[0].stores == 1);
  auto second = h->run(put_through(*writer, "small", "again"));
  REQUIRE(second);
  CHECK(older[0].stores == 2);

  auto reader = h->connector().connect(uris[1]);
  REQUIRE(reader);
  auto got = h->run(probe_through(*reader, "any"));
  REQUIRE(got);
  CHECK(*got == "older");
  CHECK(older[1].fetches == 1);
  for (auto& s : servers) s->Shutdown();
}

TEST_CASE("gRPC client: a FetchRange reply with more or fewer bytes than the range fails the fetch") {
  auto h = test::make_grpc_harness();
  h->start(1);
  WrongRange peer;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&peer);
  auto server = builder.BuildAndStart();
  REQUIRE(server);
  auto reader = h->connector().connect("grpc://127.0.0.1:" + std::to_string(port));
  REQUIRE(reader);
  // 16 bytes asked of 100: exactly 16 come back, or the fetch fails and the sink is left empty.
  auto right = h->run(probe_through(*reader, "k"));
  REQUIRE(right);
  CHECK(*right == std::string(16, 'v'));
  for (std::size_t wrong : {std::size_t{0}, std::size_t{15}, std::size_t{17}}) {
    peer.given = wrong;
    auto got = h->run(probe_through(*reader, "k"));
    INFO(wrong << " bytes");
    REQUIRE_FALSE(got);
    CHECK(got.error().code == Errc::invalid_argument);
    CHECK(got.error().message.find("asked for 16") != std::string::npos);
  }
  server->Shutdown();
}
