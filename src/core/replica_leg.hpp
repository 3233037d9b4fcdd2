#pragma once
// One replica's copy of a value being written, fed chunk by chunk: the owner's replication of a
// put and the read repair of a stale holder both stream through it.
#include <memory>
#include <optional>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "chord/chunk_pipe.hpp"
#include "chord/service.hpp"

namespace chord {

// The writer pushes each chunk it takes into the pipe while the replica's store() pulls from it.
struct ReplicaLeg {
  // buffered: chunks the writer may run ahead of this replica.
  ReplicaLeg(asio::any_io_executor ex, NodeRef t, Timeout timeout, std::size_t buffered = 1)
      : target(std::move(t)), pipe(ex, buffered, timeout, fmt::format("replica stream to {}", target.uri)),
        done(ex, asio::steady_timer::time_point::max()) {}
  NodeRef target;
  ChunkPipe pipe;
  asio::steady_timer done;  // cancelled once result is set
  // Shared by the legs of one write, cancelled as each ends: the writer waits for whichever
  // ends next, not for the legs in order.
  std::shared_ptr<asio::steady_timer> any_done;
  std::optional<Result<StoreReply>> result;
  bool fed = true;  // still taking chunks
};

inline asio::awaitable<void> run_leg(std::shared_ptr<ChordService> client, std::shared_ptr<ReplicaLeg> leg,
                                     StoreRequest req, Timeout timeout) {
  leg->result = co_await client->store(req, leg->pipe, timeout);
  leg->pipe.close();
  leg->done.cancel();
  if (leg->any_done) leg->any_done->cancel();
}

}  // namespace chord
