#include "convert.hpp"

#include <fmt/format.h>

#include "chord/sha256.hpp"

namespace chord::wire {
namespace {

Error malformed(std::string_view what) { return make_error(Errc::invalid_argument, fmt::format("malformed message: {}", what)); }

Result<Id> id_from(const std::string& bytes, std::string_view field) {
  auto id = Id::from_bytes(bytes);
  if (!id) return malformed(fmt::format("{} must be {} bytes, got {}", field, Id::kBytes, bytes.size()));
  return *id;
}

Result<std::optional<Id>> optional_id_from(const std::string& bytes, std::string_view field) {
  if (bytes.empty()) return std::optional<Id>{};
  auto id = id_from(bytes, field);
  if (!id) return id.error();
  return std::optional<Id>(*id);
}

Result<Digest> digest_from(const std::string& bytes, std::string_view field) {
  auto d = digest_from_bytes(bytes);
  if (!d) return malformed(fmt::format("{} must be 32 bytes, got {}", field, bytes.size()));
  return *d;
}

template <class Repeated>
Result<std::vector<NodeRef>> nodes_from(const Repeated& list) {
  std::vector<NodeRef> out;
  out.reserve(static_cast<std::size_t>(list.size()));
  for (const auto& n : list) {
    auto r = from_proto(n);
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

template <class Repeated>
void nodes_to(const std::vector<NodeRef>& in, Repeated* out) {
  out->Reserve(static_cast<int>(in.size()));
  for (const auto& n : in) to_proto(n, out->Add());
}

Result<std::optional<NodeRef>> optional_node_from(bool present, const pb::Node& n) {
  if (!present) return std::optional<NodeRef>{};
  auto r = from_proto(n);
  if (!r) return r.error();
  return std::optional<NodeRef>(std::move(*r));
}

std::string digest_bytes(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

void version_to(const Version& v, pb::Version* out) {
  if (v.zero()) return;
  out->set_hlc(v.hlc);
  out->set_writer(v.writer.to_bytes());
}

Result<Version> version_from(bool present, const pb::Version& in) {
  if (!present || (in.hlc() == 0 && in.writer().empty())) return Version{};
  auto writer = id_from(in.writer(), "version writer");
  if (!writer) return writer.error();
  return Version{in.hlc(), *writer};
}

// Present and empty is a condition too: "only if the key does not exist".
Result<std::optional<Version>> if_version_from(bool present, const pb::Version& in) {
  if (!present) return std::optional<Version>{};
  auto v = version_from(true, in);
  if (!v) return v.error();
  return std::optional<Version>(*v);
}

Result<Role> role_from(pb::Role r) {
  switch (r) {
    case pb::ROLE_CLIENT: return Role::client;
    case pb::ROLE_PRIMARY: return Role::primary;
    case pb::ROLE_REPLICA: return Role::replica;
    case pb::ROLE_HANDOFF: return Role::handoff;
    case pb::ROLE_SHARED: return Role::shared;
    default: return malformed(fmt::format("unknown role {}", static_cast<int>(r)));
  }
}

}  // namespace

// ---- domain -> protobuf ----

void to_proto(const NodeRef& in, pb::Node* out) {
  out->set_id(in.id.to_bytes());
  out->set_uri(in.uri.str());
}
void to_proto(const Empty&, pb::Empty*) {}
void to_proto(const Neighbors& in, pb::Neighbors* out) {
  if (in.predecessor) to_proto(*in.predecessor, out->mutable_predecessor());
  nodes_to(in.successors, out->mutable_successors());
}
void to_proto(const NotifyRequest& in, pb::NotifyRequest* out) { to_proto(in.candidate, out->mutable_candidate()); }
void to_proto(const NotifyReply& in, pb::NotifyReply* out) {
  if (in.closer) to_proto(*in.closer, out->mutable_closer());
}
void to_proto(const LookupStepRequest& in, pb::LookupStepRequest* out) {
  out->set_key_id(in.key_id.to_bytes());
  for (const auto& id : in.exclude) out->add_exclude(id.to_bytes());
  out->set_max_nodes(in.max_nodes);
}
void to_proto(const LookupStepReply& in, pb::LookupStepReply* out) {
  out->set_done(in.done);
  nodes_to(in.nodes, out->mutable_nodes());
}
void to_proto(const LookupRequest& in, pb::LookupRequest* out) {
  out->set_key(in.key);
  if (in.key_id) out->set_key_id(in.key_id->to_bytes());
}
void to_proto(const LookupReply& in, pb::LookupReply* out) {
  out->set_key_id(in.key_id.to_bytes());
  to_proto(in.owner, out->mutable_owner());
  nodes_to(in.successors, out->mutable_successors());
  out->set_hops(in.hops);
  nodes_to(in.path, out->mutable_path());
}
void to_proto(const LeaveRequest& in, pb::LeaveRequest* out) {
  to_proto(in.leaving, out->mutable_leaving());
  if (in.predecessor) to_proto(*in.predecessor, out->mutable_predecessor());
  nodes_to(in.successors, out->mutable_successors());
}
void to_proto(const NodeInfo& in, pb::NodeInfo* out) {
  to_proto(in.self, out->mutable_self());
  out->set_bits(in.bits);
  if (in.predecessor) to_proto(*in.predecessor, out->mutable_predecessor());
  nodes_to(in.successors, out->mutable_successors());
  for (const auto& f : in.fingers) {
    auto* e = out->add_fingers();
    e->set_index(f.index);
    e->set_start(f.start.to_bytes());
    to_proto(f.node, e->mutable_node());
  }
  out->set_keys(in.keys);
  out->set_bytes(in.bytes);
  out->set_transport(in.transport);
}
void to_proto(const ValueMeta& in, pb::ValueMeta* out) {
  out->set_key(in.key);
  out->set_key_id(in.key_id.to_bytes());
  out->set_size(in.size);
  out->set_sha256(digest_bytes(in.sha256));
  if (!in.version.zero()) version_to(in.version, out->mutable_version());
  out->set_deleted(in.deleted);
}
void to_proto(const StoreRequest& in, pb::StoreRequest* out) {
  to_proto(in.meta, out->mutable_meta());
  out->set_role(static_cast<pb::Role>(in.role));
  if (in.if_version) version_to(*in.if_version, out->mutable_if_version());
  out->set_not_after_ms(in.not_after_ms);
}
void to_proto(const StoreReply& in, pb::StoreReply* out) {
  to_proto(in.owner, out->mutable_owner());
  out->set_bytes(in.bytes);
  out->set_sha256(digest_bytes(in.sha256));
  out->set_copies(in.copies);
  if (!in.version.zero()) version_to(in.version, out->mutable_version());
}
void to_proto(const FetchRequest& in, pb::FetchRequest* out) {
  out->set_key(in.key);
  if (in.key_id) out->set_key_id(in.key_id->to_bytes());
  out->set_role(static_cast<pb::Role>(in.role));
  out->set_offset(in.offset);
  if (in.length) out->set_length(*in.length);
  if (in.version) version_to(*in.version, out->mutable_version());
}
void to_proto(const FetchReply& in, pb::FetchReply* out) {
  to_proto(in.meta, out->mutable_meta());
  to_proto(in.holder, out->mutable_holder());
}
void to_proto(const DeleteRequest& in, pb::DeleteRequest* out) {
  out->set_key(in.key);
  if (in.key_id) out->set_key_id(in.key_id->to_bytes());
  out->set_role(static_cast<pb::Role>(in.role));
  if (!in.version.zero()) version_to(in.version, out->mutable_version());
  if (in.if_version) version_to(*in.if_version, out->mutable_if_version());
  out->set_not_after_ms(in.not_after_ms);
}
void to_proto(const DeleteReply& in, pb::DeleteReply* out) {
  to_proto(in.owner, out->mutable_owner());
  out->set_existed(in.existed);
  if (!in.version.zero()) version_to(in.version, out->mutable_version());
  out->set_copies(in.copies);
}
void to_proto(const SyncRequest& in, pb::SyncRequest* out) {
  to_proto(in.owner, out->mutable_owner());
  if (in.range_from && in.range_to) {
    out->set_range_from(in.range_from->to_bytes());
    out->set_range_to(in.range_to->to_bytes());
  }
  for (const auto& k : in.keys) {
    auto* d = out->add_keys();
    d->set_key_id(k.key_id.to_bytes());
    d->set_sha256(digest_bytes(k.sha256));
    if (!k.version.zero()) version_to(k.version, d->mutable_version());
  }
}
void to_proto(const SyncReply& in, pb::SyncReply* out) {
  for (const auto& id : in.missing) out->add_missing(id.to_bytes());
  for (const auto& id : in.newer) out->add_newer(id.to_bytes());
}
void to_proto(const ListKeysRequest& in, pb::ListKeysRequest* out) { out->set_limit(in.limit); }
void to_proto(const ListKeysReply& in, pb::ListKeysReply* out) {
  for (const auto& m : in.keys) to_proto(m, out->add_keys());
  out->set_truncated(in.truncated);
}

// ---- protobuf -> domain ----

Result<NodeRef> from_proto(const pb::Node& in) {
  auto id = id_from(in.id(), "node id");
  if (!id) return id.error();
  if (in.uri().empty()) return malformed("node without a URI");
  return NodeRef{*id, in.uri()};
}
Result<Empty> from_proto(const pb::Empty&) { return Empty{}; }
Result<Neighbors> from_proto(const pb::Neighbors& in) {
  auto pred = optional_node_from(in.has_predecessor(), in.predecessor());
  if (!pred) return pred.error();
  auto succ = nodes_from(in.successors());
  if (!succ) return succ.error();
  return Neighbors{std::move(*pred), std::move(*succ)};
}
Result<NotifyRequest> from_proto(const pb::NotifyRequest& in) {
  if (!in.has_candidate()) return malformed("notify without a candidate");
  auto c = from_proto(in.candidate());
  if (!c) return c.error();
  return NotifyRequest{std::move(*c)};
}
Result<NotifyReply> from_proto(const pb::NotifyReply& in) {
  auto closer = optional_node_from(in.has_closer(), in.closer());
  if (!closer) return closer.error();
  return NotifyReply{std::move(*closer)};
}
Result<LookupStepRequest> from_proto(const pb::LookupStepRequest& in) {
  auto key = id_from(in.key_id(), "key_id");
  if (!key) return key.error();
  LookupStepRequest out{*key, {}, in.max_nodes()};
  for (const auto& e : in.exclude()) {
    auto id = id_from(e, "exclude");
    if (!id) return id.error();
    out.exclude.push_back(*id);
  }
  return out;
}
Result<LookupStepReply> from_proto(const pb::LookupStepReply& in) {
  auto nodes = nodes_from(in.nodes());
  if (!nodes) return nodes.error();
  return LookupStepReply{in.done(), std::move(*nodes)};
}
Result<LookupRequest> from_proto(const pb::LookupRequest& in) {
  auto id = optional_id_from(in.key_id(), "key_id");
  if (!id) return id.error();
  return LookupRequest{in.key(), *id};
}
Result<LookupReply> from_proto(const pb::LookupReply& in) {
  auto key = id_from(in.key_id(), "key_id");
  if (!key) return key.error();
  if (!in.has_owner()) return malformed("lookup reply without an owner");
  auto owner = from_proto(in.owner());
  if (!owner) return owner.error();
  auto succ = nodes_from(in.successors());
  if (!succ) return succ.error();
  auto path = nodes_from(in.path());
  if (!path) return path.error();
  return LookupReply{*key, std::move(*owner), std::move(*succ), in.hops(), std::move(*path)};
}
Result<LeaveRequest> from_proto(const pb::LeaveRequest& in) {
  if (!in.has_leaving()) return malformed("leave without the leaving node");
  auto leaving = from_proto(in.leaving());
  if (!leaving) return leaving.error();
  auto pred = optional_node_from(in.has_predecessor(), in.predecessor());
  if (!pred) return pred.error();
  auto succ = nodes_from(in.successors());
  if (!succ) return succ.error();
  return LeaveRequest{std::move(*leaving), std::move(*pred), std::move(*succ)};
}
Result<NodeInfo> from_proto(const pb::NodeInfo& in) {
  NodeInfo out;
  if (!in.has_self()) return malformed("node info without the node");
  auto self = from_proto(in.self());
  if (!self) return self.error();
  out.self = std::move(*self);
  out.bits = in.bits();
  auto pred = optional_node_from(in.has_predecessor(), in.predecessor());
  if (!pred) return pred.error();
  out.predecessor = std::move(*pred);
  auto succ = nodes_from(in.successors());
  if (!succ) return succ.error();
  out.successors = std::move(*succ);
  for (const auto& f : in.fingers()) {
    auto start = id_from(f.start(), "finger start");
    if (!start) return start.error();
    auto node = from_proto(f.node());
    if (!node) return node.error();
    out.fingers.push_back(FingerEntry{f.index(), *start, std::move(*node)});
  }
  out.keys = in.keys();
  out.bytes = in.bytes();
  out.transport = in.transport();
  return out;
}
Result<ValueMeta> from_proto(const pb::ValueMeta& in) {
  auto id = id_from(in.key_id(), "key_id");
  if (!id) return id.error();
  auto digest = digest_from(in.sha256(), "sha256");
  if (!digest) return digest.error();
  auto version = version_from(in.has_version(), in.version());
  if (!version) return version.error();
  return ValueMeta{in.key(), *id, in.size(), *digest, *version, in.deleted()};
}
Result<StoreRequest> from_proto(const pb::StoreRequest& in) {
  if (!in.has_meta()) return malformed("store without the value's metadata");
  const bool derive = in.meta().key_id().empty() && !in.meta().key().empty();
  pb::ValueMeta given = in.meta();
  if (derive) given.set_key_id(std::string(Id::kBytes, '\0'));  // filled in by the node
  auto meta = from_proto(given);
  if (!meta) return meta.error();
  auto role = role_from(in.role());
  if (!role) return role.error();
  auto condition = if_version_from(in.has_if_version(), in.if_version());
  if (!condition) return condition.error();
  return StoreRequest{std::move(*meta), *role, derive, *condition, in.not_after_ms()};
}
Result<StoreReply> from_proto(const pb::StoreReply& in) {
  auto owner = from_proto(in.owner());
  if (!owner) return owner.error();
  auto digest = digest_from(in.sha256(), "sha256");
  if (!digest) return digest.error();
  auto version = version_from(in.has_version(), in.version());
  if (!version) return version.error();
  return StoreReply{std::move(*owner), in.bytes(), *digest, in.copies(), *version};
}
Result<FetchRequest> from_proto(const pb::FetchRequest& in) {
  auto id = optional_id_from(in.key_id(), "key_id");
  if (!id) return id.error();
  auto role = role_from(in.role());
  if (!role) return role.error();
  std::optional<std::uint64_t> length;
  if (in.has_length()) length = in.length();
  std::optional<Version> version;
  if (in.has_version()) {
    auto v = version_from(true, in.version());
    if (!v) return v.error();
    if (!v->zero()) version = *v;
  }
  return FetchRequest{in.key(), *id, *role, in.offset(), length, version};
}
Result<FetchReply> from_proto(const pb::FetchReply& in) {
  auto meta = from_proto(in.meta());
  if (!meta) return meta.error();
  auto holder = from_proto(in.holder());
  if (!holder) return holder.error();
  return FetchReply{std::move(*meta), std::move(*holder)};
}
Result<DeleteRequest> from_proto(const pb::DeleteRequest& in) {
  auto id = optional_id_from(in.key_id(), "key_id");
  if (!id) return id.error();
  auto role = role_from(in.role());
  if (!role) return role.error();
  auto version = version_from(in.has_version(), in.version());
  if (!version) return version.error();
  auto condition = if_version_from(in.has_if_version(), in.if_version());
  if (!condition) return condition.error();
  return DeleteRequest{in.key(), *id, *role, *version, *condition, in.not_after_ms()};
}
Result<DeleteReply> from_proto(const pb::DeleteReply& in) {
  auto owner = from_proto(in.owner());
  if (!owner) return owner.error();
  auto version = version_from(in.has_version(), in.version());
  if (!version) return version.error();
  return DeleteReply{std::move(*owner), in.existed(), *version, in.copies()};
}
Result<SyncRequest> from_proto(const pb::SyncRequest& in) {
  auto owner = from_proto(in.owner());
  if (!owner) return owner.error();
  SyncRequest out{std::move(*owner), {}, std::nullopt, std::nullopt};
  if (!in.range_from().empty() || !in.range_to().empty()) {
    auto from = id_from(in.range_from(), "range_from");
    if (!from) return from.error();
    auto to = id_from(in.range_to(), "range_to");
    if (!to) return to.error();
    out.range_from = *from;
    out.range_to = *to;
  }
  out.keys.reserve(static_cast<std::size_t>(in.keys_size()));
  for (const auto& k : in.keys()) {
    auto id = id_from(k.key_id(), "key_id");
    if (!id) return id.error();
    auto digest = digest_from(k.sha256(), "sha256");
    if (!digest) return digest.error();
    auto version = version_from(k.has_version(), k.version());
    if (!version) return version.error();
    out.keys.push_back(KeyDigest{*id, *digest, *version});
  }
  return out;
}
Result<SyncReply> from_proto(const pb::SyncReply& in) {
  SyncReply out;
  for (const auto& m : in.missing()) {
    auto id = id_from(m, "missing");
    if (!id) return id.error();
    out.missing.push_back(*id);
  }
  for (const auto& m : in.newer()) {
    auto id = id_from(m, "newer");
    if (!id) return id.error();
    out.newer.push_back(*id);
  }
  return out;
}
Result<ListKeysRequest> from_proto(const pb::ListKeysRequest& in) { return ListKeysRequest{in.limit()}; }
Result<ListKeysReply> from_proto(const pb::ListKeysReply& in) {
  ListKeysReply out;
  for (const auto& m : in.keys()) {
    auto meta = from_proto(m);
    if (!meta) return meta.error();
    out.keys.push_back(std::move(*meta));
  }
  out.truncated = in.truncated();
  return out;
}

}  // namespace chord::wire
