#pragma once
// One replica's copy of a value being written: fed chunk by chunk (the owner's replication of a
// put that streams in, the read repair of a stale holder), or sent whole (a value that came in one
// message, as every value up to a chunk does).
#include <memory>
#include <optional>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "chord/chunk_pipe.hpp"
#include "chord/chunks.hpp"
#include "chord/service.hpp"

namespace chord {

// Streamed, the writer pushes each chunk it takes into the pipe while the replica's store() pulls
// from it. Whole, the replica's store() takes the value at once: no pipe, no hand-over per chunk,
// and the call leaves without waiting for the owner's own copy.
struct ReplicaLeg {
  // buffered: chunks the writer may run ahead of this replica.
  ReplicaLeg(asio::any_io_executor ex, NodeRef t, Timeout timeout, std::size_t buffered = 1)
      : target(std::move(t)), done(ex, asio::steady_timer::time_point::max()) {
    pipe.emplace(ex, buffered, timeout, fmt::format("replica stream to {}", target.uri));
  }
  ReplicaLeg(asio::any_io_executor ex, NodeRef t, std::string whole)
      : target(std::move(t)), value(StringSource::whole(std::move(whole))), done(ex, asio::steady_timer::time_point::max()) {}
  // Stops the leg: a streamed one's pipe ends, a whole one not yet sent is not sent.
  void abandon() {
    if (pipe) pipe->close();
    abandoned = true;
  }
  ChunkSource& source() { return pipe ? static_cast<ChunkSource&>(*pipe) : *value; }
  NodeRef target;
  std::optional<ChunkPipe> pipe;      // streamed
  std::optional<StringSource> value;  // whole
  asio::steady_timer done;  // cancelled once result is set
  // Shared by the legs of one write, cancelled as each ends: the writer waits for whichever
  // ends next, not for the legs in order.
  std::shared_ptr<asio::steady_timer> any_done;
  std::optional<Result<StoreReply>> result;
  bool fed = true;  // still taking chunks
  bool abandoned = false;
};

inline asio::awaitable<void> run_leg(std::shared_ptr<ChordService> client, std::shared_ptr<ReplicaLeg> leg,
                                     StoreRequest req, Timeout timeout) {
  if (leg->abandoned) leg->result = make_error(Errc::cancelled, "the owner refused the value");
  else leg->result = co_await client->store(req, leg->source(), timeout);
  if (leg->pipe) leg->pipe->close();
  leg->done.cancel();
  if (leg->any_done) leg->any_done->cancel();
}

}  // namespace chord
