// Every chord.v1 message as a peer or client may send it: binary protobuf (gRPC, AMQP, REST's
// application/x-protobuf) or proto3 JSON (REST), parsed as the servers parse it and then
// validated by wire::from_proto. The first byte picks the message and the form.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>

#include "chord/v1/chord.pb.h"
#include "convert.hpp"

namespace {

using namespace chord;

struct Kind {
  std::function<bool(const std::string&, bool json)> decode;
};

template <class Domain>
Kind kind() {
  return Kind{[](const std::string& bytes, bool json) {
    wire::proto_t<Domain> message;
    if (json) {
      google::protobuf::util::JsonParseOptions options;
      options.ignore_unknown_fields = false;  // as the REST server reads them
      if (!google::protobuf::util::JsonStringToMessage(bytes, &message, options).ok()) return false;
    } else if (!message.ParseFromString(bytes)) {
      return false;
    }
    auto domain = wire::from_proto(message);
    if (!domain) return false;
    // What was accepted converts back and again to the same thing.
    wire::proto_t<Domain> again;
    wire::to_proto(*domain, &again);
    if (!wire::from_proto(again)) __builtin_trap();
    return true;
  }};
}

template <class Proto>
Kind envelope() {  // the messages without a domain type: only the parse
  return Kind{[](const std::string& bytes, bool json) {
    Proto message;
    if (json) return google::protobuf::util::JsonStringToMessage(bytes, &message).ok();
    return message.ParseFromString(bytes);
  }};
}

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> all = {
      kind<NodeRef>(), kind<Empty>(), kind<Neighbors>(), kind<NotifyRequest>(), kind<NotifyReply>(),
      kind<LookupStepRequest>(), kind<LookupStepReply>(), kind<LookupRequest>(), kind<LookupReply>(),
      kind<LeaveRequest>(), kind<NodeInfo>(), kind<StoreRequest>(), kind<StoreReply>(), kind<FetchRequest>(),
      kind<FetchReply>(), kind<DeleteRequest>(), kind<DeleteReply>(), kind<SyncRequest>(), kind<SyncReply>(),
      kind<ListKeysRequest>(), kind<ListKeysReply>(), envelope<v1::StoreChunk>(), envelope<v1::FetchChunk>(),
      envelope<v1::Status>()};
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);  // as main() keeps it off stderr
  (void)quiet;
  if (size < 1) return 0;
  const auto& all = kinds();
  const bool json = data[0] & 0x80;
  const auto& k = all[(data[0] & 0x7f) % all.size()];
  k.decode(std::string(reinterpret_cast<const char*>(data) + 1, size - 1), json);
  return 0;
}
