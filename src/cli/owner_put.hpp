#pragma once
// Where a client's put sends the value's bytes. The access node relays every byte it is given to
// the key's owner, which costs a big value a receive and a send more on the ring's CPU than
// sending it to the owner; so a big put asks --via for the owner and sends it there. The owner
// acts as any access node would (a key that moved meanwhile is routed on), so the route changes
// where the bytes travel, never what is stored.
#include <cstdint>
#include <functional>

#include "chord/service.hpp"

namespace chord::cli {

// Values from this size go to their owner. Below it, the lookup and the new connection they cost
// first are about what the relay spares: CLI puts on rings of 8 (k = 3), through --via against
// to the owner, medians: 1 MiB on gRPC 30.6 / 32.9 ms (a new channel), 4 MiB on gRPC 53 / 52,
// REST 43.4 / 39.9, AMQP 85.2 / 77.3; 16 MiB on gRPC 118 / 105, REST 107 / 88, AMQP 191 / 163.
inline constexpr std::uint64_t kOwnerPutBytes = std::uint64_t{4} << 20;

// How long the owner has to answer a ping before the value goes through --via instead.
inline constexpr Timeout kOwnerProbe{1000};

struct PutRoute {
  ChordService& via;
  NodeRef via_node;       // the access node as it names itself
  Connector& connector;   // reaches the owner by its advertised URI
  bool to_owner = true;   // false: through --via whatever the size (put --through-via)
};

// Stores req's value. At kOwnerPutBytes and more, and without a condition, at the owner that
// --via names; through --via when the owner is --via, or does not answer a ping from this client
// within kOwnerProbe (a URI this host cannot route to, a broker that refuses its login), or
// failed the store as a peer does (unavailable, deadline exceeded): then restart() rewinds the
// source and it goes through --via from its first byte. A conditional put goes through --via: a retry after an owner that applied
// it and then fell silent would fail its own condition.
asio::awaitable<Result<StoreReply>> put_value(const PutRoute& route, const StoreRequest& req, ChunkSource& source,
                                              const std::function<void()>& restart, Timeout timeout);

}  // namespace chord::cli
