#include "admission.hpp"

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chord/v1/chord.pb.h"

namespace pb = ::chord::v1;

namespace chord::wire {

namespace {
bool replica_traffic(int role) { return role == pb::ROLE_REPLICA || role == pb::ROLE_HANDOFF; }
}  // namespace

std::string_view base_method(std::string_view method) {
  if (method == "StoreWhole") return "Store";
  if (method == "FetchRange") return "Fetch";
  return method;
}

Result<void> check_whole(std::string_view method, const google::protobuf::Message& request) {
  if (method != "StoreWhole") return {};
  const auto& chunk = static_cast<const pb::StoreChunk&>(request);
  if (chunk.has_header() && chunk.last()) return {};
  return make_error(Errc::invalid_argument, "StoreWhole takes one message: the header, the whole value and last");
}

bool members_only(std::string_view called, const google::protobuf::Message& request) {
  const auto method = base_method(called);
  if (method == "Notify" || method == "Leave" || method == "SyncReplicas" || method == "GetPredecessor") return true;
  if (method == "Store") {
    const auto& chunk = static_cast<const pb::StoreChunk&>(request);
    return chunk.has_header() && replica_traffic(chunk.header().role());
  }
  if (method == "Delete") return replica_traffic(static_cast<const pb::DeleteRequest&>(request).role());
  if (method == "Fetch") return replica_traffic(static_cast<const pb::FetchRequest&>(request).role());
  return false;
}

bool client_write(std::string_view called, const google::protobuf::Message& request) {
  const auto method = base_method(called);
  auto writes = [](int role) { return role == pb::ROLE_CLIENT || role == pb::ROLE_PRIMARY; };
  if (method == "Store") {
    const auto& chunk = static_cast<const pb::StoreChunk&>(request);
    return chunk.has_header() && writes(chunk.header().role());
  }
  if (method == "Delete") return writes(static_cast<const pb::DeleteRequest&>(request).role());
  return false;
}

Result<bool> prove_member(const ClusterKey* key, std::string_view method, std::string_view body,
                          std::string_view proof) {
  if (!key) return true;
  if (proof.empty()) return false;
  if (auto ok = key->verify(method, body, proof); !ok) return ok.error();
  return true;
}

Result<void> admit(std::string_view method, const google::protobuf::Message& request, bool member, bool client) {
  if (!member && members_only(method, request))
    return make_error(Errc::unauthenticated,
                      fmt::format("{} needs the ring's cluster key: the call carries no proof of it (only members of "
                                  "the ring may make it)",
                                  method));
  if (!member && !client && client_write(method, request))
    return make_error(Errc::unauthenticated,
                      fmt::format("{}: writes need this ring's client token (chordnode --token-file FILE or "
                                  "$CHORD_TOKEN; HTTP: Authorization: Bearer TOKEN)",
                                  method));
  return {};
}

Result<void> within_rate(PeerRate* rate, bool member, std::string_view peer) {
  if (!rate || member || rate->allow(peer)) return {};
  return make_error(Errc::resource_exhausted,
                    fmt::format("{} is over the rate of {:g} calls/s per caller of this node; slow down", peer,
                                rate->per_second()));
}

void note_refusal(std::string_view transport, std::string_view peer, const Error& why,
                  const std::function<void(const std::string&)>& count) {
  if (count) count(why.code == Errc::resource_exhausted ? "rate" : "unauthenticated");
  using clock = std::chrono::steady_clock;
  constexpr auto quiet = std::chrono::minutes(1);
  constexpr std::size_t kPeers = 4096;  // remembered at once; past it, the stale ones are forgotten
  static std::mutex mu;
  static std::map<std::string, clock::time_point, std::less<>> last;
  const auto now = clock::now();
  std::size_t quieted = 0;
  {
    std::lock_guard lock(mu);
    if (auto it = last.find(peer); it != last.end() && now - it->second < quiet) return;
    if (last.size() >= kPeers) std::erase_if(last, [&](const auto& kv) { return now - kv.second >= quiet; });
    if (last.size() >= kPeers) return;  // thousands of peers refused within a minute: the metric says it
    last[std::string(peer)] = now;
    quieted = last.size();
  }
  spdlog::warn("{}: refused a call from {}: {} (more from it within a minute are counted in /metrics, not logged; "
               "{} peers refused lately)",
               transport, peer, why.message, quieted);
}

}  // namespace chord::wire
