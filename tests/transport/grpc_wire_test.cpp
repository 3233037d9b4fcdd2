// What only the gRPC wire can carry: malformed protobuf fields and messages over the size bound,
// sent with the raw generated stub.
#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include "chord/v1/chord.grpc.pb.h"
#include "harness.hpp"

using namespace chord;

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
