#pragma once
// A hand-over point for a value's chunks between a producing coroutine and a consumer that
// reads them as a ChunkSource, on one executor. Used where one side pushes and the other pulls:
// the owner feeding its replicas while the value arrives, and the one-message-per-chunk
// transports feeding a store() with the chunks of separate requests.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/experimental/channel.hpp>

#include "chord/service.hpp"

namespace chord {

class ChunkPipe final : public ChunkSource {
 public:
  // buffered: chunks that may wait in the pipe (0: push returns only once the consumer took
  // the chunk). next() fails after timeout without a chunk; name says whose pipe in errors.
  ChunkPipe(asio::any_io_executor executor, std::size_t buffered, Timeout timeout, std::string name);

  // Hands over a chunk, or the end (nullopt). false: the pipe was closed, or nobody took the
  // chunk within timeout.
  asio::awaitable<bool> push(std::optional<std::string> chunk, Timeout timeout);
  // The same with a deadline shared by several pipes: one chunk fanned out to all replicas waits
  // once, not once per replica. A deadline already past still takes the chunk if there is room.
  asio::awaitable<bool> push_until(std::optional<std::string> chunk, std::chrono::steady_clock::time_point deadline);
  asio::awaitable<Result<std::optional<std::string>>> next() override;
  // Ends both sides: a pending or later push returns false, next() fails as abandoned. A
  // channel's close() alone leaves a pending send waiting for its timeout: the consumer that
  // stopped early (a store refused before its first chunk) held the sender up for a whole RPC
  // deadline. cancel() completes it at once.
  void close() {
    channel_.close();
    channel_.cancel();
  }

 private:
  Error abandoned() const;
  asio::experimental::channel<void(boost::system::error_code, std::optional<std::string>)> channel_;
  Timeout timeout_;
  std::string name_;
};

}  // namespace chord
