#pragma once
// The one place where domain messages (chord/messages.hpp) and chord.v1 protobuf messages meet.
// from_proto validates what a peer sent: a malformed message becomes invalid_argument, never a
// default value.
#include "chord/messages.hpp"
#include "chord/result.hpp"
#include "chord/v1/chord.pb.h"

namespace chord::wire {

namespace pb = ::chord::v1;

// The protobuf type of each domain type.
template <class T>
struct Proto;
#define CHORD_WIRE_PAIR(Domain, Message) \
  template <>                            \
  struct Proto<Domain> {                 \
    using type = pb::Message;            \
  };
CHORD_WIRE_PAIR(NodeRef, Node)
CHORD_WIRE_PAIR(Empty, Empty)
CHORD_WIRE_PAIR(Neighbors, Neighbors)
CHORD_WIRE_PAIR(NotifyRequest, NotifyRequest)
CHORD_WIRE_PAIR(NotifyReply, NotifyReply)
CHORD_WIRE_PAIR(LookupStepRequest, LookupStepRequest)
CHORD_WIRE_PAIR(LookupStepReply, LookupStepReply)
CHORD_WIRE_PAIR(LookupRequest, LookupRequest)
CHORD_WIRE_PAIR(LookupReply, LookupReply)
CHORD_WIRE_PAIR(LeaveRequest, LeaveRequest)
CHORD_WIRE_PAIR(NodeInfo, NodeInfo)
CHORD_WIRE_PAIR(StoreRequest, StoreRequest)
CHORD_WIRE_PAIR(StoreReply, StoreReply)
CHORD_WIRE_PAIR(FetchRequest, FetchRequest)
CHORD_WIRE_PAIR(FetchReply, FetchReply)
CHORD_WIRE_PAIR(DeleteRequest, DeleteRequest)
CHORD_WIRE_PAIR(DeleteReply, DeleteReply)
CHORD_WIRE_PAIR(SyncRequest, SyncRequest)
CHORD_WIRE_PAIR(SyncReply, SyncReply)
CHORD_WIRE_PAIR(ListKeysRequest, ListKeysRequest)
CHORD_WIRE_PAIR(ListKeysReply, ListKeysReply)
#undef CHORD_WIRE_PAIR
template <class T>
using proto_t = typename Proto<T>::type;

void to_proto(const NodeRef& in, pb::Node* out);
void to_proto(const Empty& in, pb::Empty* out);
void to_proto(const Neighbors& in, pb::Neighbors* out);
void to_proto(const NotifyRequest& in, pb::NotifyRequest* out);
void to_proto(const NotifyReply& in, pb::NotifyReply* out);
void to_proto(const LookupStepRequest& in, pb::LookupStepRequest* out);
void to_proto(const LookupStepReply& in, pb::LookupStepReply* out);
void to_proto(const LookupRequest& in, pb::LookupRequest* out);
void to_proto(const LookupReply& in, pb::LookupReply* out);
void to_proto(const LeaveRequest& in, pb::LeaveRequest* out);
void to_proto(const NodeInfo& in, pb::NodeInfo* out);
void to_proto(const ValueMeta& in, pb::ValueMeta* out);
void to_proto(const StoreRequest& in, pb::StoreRequest* out);
void to_proto(const StoreReply& in, pb::StoreReply* out);
void to_proto(const FetchRequest& in, pb::FetchRequest* out);
void to_proto(const FetchReply& in, pb::FetchReply* out);
void to_proto(const DeleteRequest& in, pb::DeleteRequest* out);
void to_proto(const DeleteReply& in, pb::DeleteReply* out);
void to_proto(const SyncRequest& in, pb::SyncRequest* out);
void to_proto(const SyncReply& in, pb::SyncReply* out);
void to_proto(const ListKeysRequest& in, pb::ListKeysRequest* out);
void to_proto(const ListKeysReply& in, pb::ListKeysReply* out);

Result<NodeRef> from_proto(const pb::Node& in);
Result<Empty> from_proto(const pb::Empty& in);
Result<Neighbors> from_proto(const pb::Neighbors& in);
Result<NotifyRequest> from_proto(const pb::NotifyRequest& in);
Result<NotifyReply> from_proto(const pb::NotifyReply& in);
Result<LookupStepRequest> from_proto(const pb::LookupStepRequest& in);
Result<LookupStepReply> from_proto(const pb::LookupStepReply& in);
Result<LookupRequest> from_proto(const pb::LookupRequest& in);
Result<LookupReply> from_proto(const pb::LookupReply& in);
Result<LeaveRequest> from_proto(const pb::LeaveRequest& in);
Result<NodeInfo> from_proto(const pb::NodeInfo& in);
Result<ValueMeta> from_proto(const pb::ValueMeta& in);
Result<StoreRequest> from_proto(const pb::StoreRequest& in);
Result<StoreReply> from_proto(const pb::StoreReply& in);
Result<FetchRequest> from_proto(const pb::FetchRequest& in);
Result<FetchReply> from_proto(const pb::FetchReply& in);
Result<DeleteRequest> from_proto(const pb::DeleteRequest& in);
Result<DeleteReply> from_proto(const pb::DeleteReply& in);
Result<SyncRequest> from_proto(const pb::SyncRequest& in);
Result<SyncReply> from_proto(const pb::SyncReply& in);
Result<ListKeysRequest> from_proto(const pb::ListKeysRequest& in);
Result<ListKeysReply> from_proto(const pb::ListKeysReply& in);

}  // namespace chord::wire
