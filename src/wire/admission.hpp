#pragma once
// Which calls only members of the ring may make, when the ring has a cluster key: ring
// maintenance and replica traffic. Client reads and writes stay open to anyone who can reach
// the node (docs/SECURITY.md). One rule for every transport.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "chord/cluster_key.hpp"
#include "chord/peer_rate.hpp"
#include "chord/result.hpp"

namespace google::protobuf {
class Message;
}

namespace chord::wire {

// StoreWhole and FetchRange are Store and Fetch in one message each way: the method whose rules
// they follow (any other method: itself). Proofs of the cluster key still name the method called.
std::string_view base_method(std::string_view method);

// A StoreWhole must be a Store's only message: the header, the whole value, last (invalid_argument
// otherwise). Every other call passes.
Result<void> check_whole(std::string_view method, const google::protobuf::Message& request);

// True for a method (and, for Store, Delete and Fetch, the role its request names) that needs
// proof of the cluster key. A Store chunk without a header is judged by its transfer's header.
bool members_only(std::string_view method, const google::protobuf::Message& request);

// The first check of a call, on its raw bytes, before they are decoded: with no key configured
// everyone counts as a member; with one, a call that carries a proof must carry a valid one
// (else unauthenticated), and one without a proof is a client's. Returns whether the caller
// proved membership.
Result<bool> prove_member(const ClusterKey* key, std::string_view method, std::string_view body,
                          std::string_view proof);

// True for a client's write (Store or Delete as CLIENT or PRIMARY), which needs the client token
// when the node requires one (serve --client-token). A Store chunk without a header: as above.
bool client_write(std::string_view method, const google::protobuf::Message& request);

// After decoding: refuses a members-only call from a caller that did not prove membership, and a
// client's write from a caller that is neither a member nor presented the client token (client:
// true when it did, or when the node requires none).
Result<void> admit(std::string_view method, const google::protobuf::Message& request, bool member, bool client = true);

// A caller that did not prove membership, past its rate (rate null: no limit): resource_exhausted.
Result<void> within_rate(PeerRate* rate, bool member, std::string_view peer);

// A refused call (unauthenticated, or over the rate: reason "rate"), whichever check refused it:
// counted through count (the transport's Limits::refused, for /metrics; may be empty) every time,
// and logged at most once a minute per peer, so that an outsider who keeps trying fills neither
// the log nor the disk.
void note_refusal(std::string_view transport, std::string_view peer, const Error& why,
                  const std::function<void(const std::string&)>& count);

}  // namespace chord::wire
