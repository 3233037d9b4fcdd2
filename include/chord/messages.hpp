#pragma once
// Domain form of every message of chord.v1 (proto/chord/v1/chord.proto). The engine speaks
// these; src/wire converts them to and from protobuf for the network transports.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chord/id.hpp"
#include "chord/node_uri.hpp"

namespace chord {

struct NodeRef {
  Id id;
  NodeUri uri;
  friend bool operator==(const NodeRef&, const NodeRef&) = default;
};

using Digest = std::array<std::uint8_t, 32>;  // SHA-256 of a value

// The version of a value or of a delete: a hybrid logical clock reading (milliseconds since the
// epoch << 16, plus a counter) of the owner that accepted the write, then that node's id. Two
// writes of one key are always ordered, without synchronised clocks: a node's clock never goes
// back and never falls behind a version it has seen. Zero: not versioned yet (a client's write).
struct Version {
  std::uint64_t hlc = 0;
  Id writer;
  bool zero() const { return hlc == 0; }
  std::uint64_t millis() const { return hlc >> 16; }
  friend auto operator<=>(const Version&, const Version&) = default;
  friend bool operator==(const Version&, const Version&) = default;
};

struct Empty {};

// Answer of GetPredecessor: stabilize needs both the successor's predecessor and its
// successor list, so one round trip carries both.
struct Neighbors {
  std::optional<NodeRef> predecessor;
  std::vector<NodeRef> successors;
};

struct NotifyRequest {
  NodeRef candidate;  // "I think I might be your predecessor"
};
struct NotifyReply {
  // Not taken as predecessor: the known node closest after the candidate, its better successor.
  std::optional<NodeRef> closer;
};

// One step of an iterative find_successor.
struct LookupStepRequest {
  Id key_id;
  // Nodes the caller found dead during this lookup: the asked node routes around them even if
  // it has not noticed yet (bounded by the node's configuration).
  std::vector<Id> exclude;
  // The last step names at most this many nodes of its successor list (0: all of them).
  unsigned max_nodes = 0;
};
struct LookupStepReply {
  // done: key_id is in (asked node, its successor]; nodes is the asked node's successor list,
  // the owner first. Otherwise nodes are the asked node's closest preceding nodes of key_id,
  // the closest first, for the caller to try in order.
  bool done = false;
  std::vector<NodeRef> nodes;
};

struct LookupRequest {
  std::string key;              // hashed by the node when key_id is absent
  std::optional<Id> key_id;
};
struct LookupReply {
  Id key_id;
  NodeRef owner;
  std::vector<NodeRef> successors;  // the owner's successors as the answering node knew them
  std::uint32_t hops = 0;           // remote lookup steps taken
  std::vector<NodeRef> path;        // nodes asked, the access node first
};

struct LeaveRequest {
  NodeRef leaving;
  std::optional<NodeRef> predecessor;  // the leaving node's, for its successor
  std::vector<NodeRef> successors;     // the leaving node's, for its predecessor
};

struct FingerEntry {
  std::uint32_t index = 0;  // 1-based, as in the paper
  Id start;
  NodeRef node;
};

struct NodeInfo {
  NodeRef self;
  std::uint32_t bits = 0;
  std::optional<NodeRef> predecessor;
  std::vector<NodeRef> successors;
  std::vector<FingerEntry> fingers;  // only the entries that differ from the one before
  std::uint64_t keys = 0;
  std::uint64_t bytes = 0;
  std::string transport;
};

// Why a value is being stored or fetched, which decides what the receiver does with it.
enum class Role : std::uint8_t {
  client = 0,   // from a user: the access node finds the owner and forwards
  primary = 1,  // to the owner: store and replicate to the next k-1 successors
  replica = 2,  // to a successor of the owner: store only
  handoff = 3,  // ownership moved (join, leave): store only; the receiver replicates later
  shared = 4,   // fetch only: a file of the holder's shared folder, by name, straight from it
};

struct ValueMeta {
  std::string key;
  Id key_id;
  std::uint64_t size = 0;
  Digest sha256{};
  Version version;
  // A tombstone: the key was deleted at `version`. It has no bytes, is replicated like a value,
  // and outranks every older version until it is purged after the grace period.
  bool deleted = false;
};

struct StoreRequest {
  ValueMeta meta;
  Role role = Role::client;
  // The sender gave the key alone: the node derives meta.key_id from it (the wire cannot: it
  // does not know the ring's m).
  bool derive_key_id = false;
  // Apply only if the key is at this version now; a zero version: only if it does not exist.
  std::optional<Version> if_version{};
  // The sender's wall clock (ms) past which it has stopped waiting; 0: no limit (see the proto).
  std::uint64_t not_after_ms = 0;
};
struct StoreReply {
  NodeRef owner;
  std::uint64_t bytes = 0;
  Digest sha256{};
  std::uint32_t copies = 0;  // how many nodes hold it now
  Version version;           // what the owner gave it
};

struct FetchRequest {
  std::string key;
  std::optional<Id> key_id;
  Role role = Role::client;
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length;  // absent: to the end
  // A later range of a read whose first range came at this version (see chord.proto).
  std::optional<Version> version{};
};
struct FetchReply {
  ValueMeta meta;
  NodeRef holder;  // the node the bytes came from
};

struct DeleteRequest {
  std::string key;
  std::optional<Id> key_id;
  Role role = Role::client;
  Version version;  // set by the owner for its replicas: the tombstone's version
  std::optional<Version> if_version{};  // as in StoreRequest
  std::uint64_t not_after_ms = 0;       // as in StoreRequest
};
struct DeleteReply {
  NodeRef owner;
  bool existed = false;
  Version version;           // the tombstone's
  std::uint32_t copies = 0;  // how many nodes hold the tombstone
};

struct KeyDigest {
  Id key_id;
  Digest sha256{};
  Version version;
  friend bool operator==(const KeyDigest&, const KeyDigest&) = default;
};
// The owner offers the versions it holds (values and tombstones); the replica answers with what
// it lacks or holds older (the owner pushes those) and what it holds newer (the owner pulls
// those: it missed a write while it was away).
struct SyncRequest {
  NodeRef owner;
  std::vector<KeyDigest> keys;
  // With a range, keys is everything the owner holds in (from, to]: the replica also names as
  // newer what it holds there that the owner lacks (an owner back with an empty store).
  std::optional<Id> range_from, range_to;
};
struct SyncReply {
  std::vector<Id> missing;
  std::vector<Id> newer;
};

struct ListKeysRequest {
  std::uint32_t limit = 0;  // 0: the node's bound
};
struct ListKeysReply {
  std::vector<ValueMeta> keys;
  bool truncated = false;
};

}  // namespace chord
