#pragma once
// Where the bytes of a client's put and get travel. The access node relays every byte between
// the client and the key's holder, which costs a big value a receive and a send more on the
// ring's CPU (and a lookup and a quorum check per range on REST and AMQP); so a big value goes
// between the client and the holder that --via names. The holder is called as any access node
// would be (role CLIENT: a key that moved meanwhile is routed on, a read still checks its quorum),
// so the route changes where the bytes travel, never what is stored or read.
#include <cstdint>
#include <functional>

#include "chord/service.hpp"

namespace chord::cli {

// Values from this size go between the client and their holder. Below it, the lookup (of a put)
// and the new connection they cost first are about what the relay spares: CLI puts on rings of 8
// (k = 3), through --via against to the owner, medians: 1 MiB on gRPC 30.6 / 32.9 ms (a new
// channel), 4 MiB on gRPC 53 / 52, REST 43.4 / 39.9, AMQP 85.2 / 77.3; 16 MiB on gRPC 118 / 105,
// REST 107 / 88, AMQP 191 / 163.
inline constexpr std::uint64_t kHolderBytes = std::uint64_t{4} << 20;

// How long the holder has to answer a ping before the value goes through --via instead.
inline constexpr Timeout kHolderProbe{1000};

struct Route {
  ChordService& via;
  NodeRef via_node;       // the access node as it names itself
  Connector& connector;   // reaches a holder by its advertised URI
  bool to_holder = true;  // false: through --via whatever the size (--through-via)
};

// Stores req's value. At kHolderBytes and more, and without a condition, at the owner that --via
// names; through --via when the owner is --via, or does not answer a ping from this client within
// kHolderProbe (a URI this host cannot route to, a broker that refuses its login), or failed the
// store as a peer does (unavailable, deadline exceeded): then restart() rewinds the source and it
// goes through --via from its first byte. A conditional put goes through --via: a retry after an
// owner that applied it and then fell silent would fail its own condition.
asio::awaitable<Result<StoreReply>> put_value(const Route& route, const StoreRequest& req, ChunkSource& source,
                                              const std::function<void()>& restart, Timeout timeout);

// Fetches key's value into sink: its first kHolderBytes through --via, whose reply names the
// holder that sent them and the value's size and digest; the rest from that holder, or, where it
// is --via or does not answer a ping within kHolderProbe, through --via. A holder that fails as a
// peer mid-way leaves the rest to --via, from the byte reached; a holder or --via that then
// announces another content (the key was written meanwhile) fails the get as `conflict`.
asio::awaitable<Result<FetchReply>> get_value(const Route& route, const std::string& key, ChunkSink& sink,
                                              Timeout timeout);

}  // namespace chord::cli
