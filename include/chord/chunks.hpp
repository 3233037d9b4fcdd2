#pragma once
// Ready-made ends of a streamed value, shared by the engine, the transports and the CLI.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chord/service.hpp"
#include "chord/store.hpp"

namespace chord {

// Reads [offset, offset + length) of a stored value in chunks of at most chunk_bytes, on the
// store's I/O pool when it has one (Store::io_pool).
class BlobSource final : public ChunkSource {
 public:
  BlobSource(std::shared_ptr<const Blob> blob, std::size_t chunk_bytes, std::uint64_t offset = 0,
             std::uint64_t length = UINT64_MAX, boost::asio::thread_pool* io = nullptr);
  asio::awaitable<Result<std::optional<std::string>>> next() override;

 private:
  std::shared_ptr<const Blob> blob_;
  boost::asio::thread_pool* io_;
  std::size_t chunk_bytes_;
  std::uint64_t pos_;
  std::uint64_t end_;
};

// Hands out an in-memory value in chunks.
class StringSource final : public ChunkSource {
 public:
  StringSource(std::string data, std::size_t chunk_bytes) : data_(std::move(data)), chunk_(chunk_bytes) {}
  // All of data as one chunk (handed over, not copied): a value that came in one message.
  static StringSource whole(std::string data) {
    const std::size_t n = std::max<std::size_t>(data.size(), 1);
    return StringSource(std::move(data), n);
  }
  asio::awaitable<Result<std::optional<std::string>>> next() override;

 private:
  std::string data_;
  std::size_t chunk_;
  std::size_t pos_ = 0;
};

// Collects a fetched value (or a range of it) in memory, refusing more than max_bytes.
class StringSink final : public ChunkSink {
 public:
  explicit StringSink(std::uint64_t max_bytes = UINT64_MAX) : max_(max_bytes) {}
  asio::awaitable<Result<void>> begin(const FetchReply& header) override;
  asio::awaitable<Result<void>> write(std::string chunk) override;
  const std::optional<FetchReply>& header() const { return header_; }
  std::string& data() { return data_; }

 private:
  std::uint64_t max_;
  std::optional<FetchReply> header_;
  std::string data_;
};

// Keeps the chunks it hands out, up to keep_bytes of them, so that a stream sent to a peer that
// then failed can be sent again to another: a put whose owner went silent after the first chunks
// left goes to the next holder. A longer value is not kept past keep_bytes (it would hold the
// whole value in memory), nor is a stream whose own source failed; rewind() then says no.
class RewindableSource final : public ChunkSource {
 public:
  RewindableSource(ChunkSource& inner, std::uint64_t keep_bytes) : inner_(inner), keep_(keep_bytes) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override;
  // Any chunk handed out since the start (or the last rewind).
  bool started() const { return handed_ > 0; }
  // Starts the stream over from its first chunk; false if it can only go on.
  bool rewind();

 private:
  ChunkSource& inner_;
  std::uint64_t keep_;
  std::vector<std::string> kept_;
  std::uint64_t kept_bytes_ = 0;
  std::size_t handed_ = 0;  // chunks handed out since the start; the first of them come from kept_
  bool whole_ = true;       // kept_ holds every chunk taken from inner_
  bool ended_ = false;      // inner_ has said the stream is over
};

// The chunks a reader looked ahead at (and the end, if it came), then the rest of inner: the
// owner of a put reads a value's start before it knows whether the value came whole.
class PeekedSource final : public ChunkSource {
 public:
  PeekedSource(ChunkSource& inner, std::vector<std::string> taken, bool ended)
      : inner_(inner), taken_(std::move(taken)), ended_(ended) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override;

 private:
  ChunkSource& inner_;
  std::vector<std::string> taken_;
  std::size_t handed_ = 0;
  bool ended_;
};

class CountingSink final : public ChunkSink {
 public:
  explicit CountingSink(ChunkSink& inner) : inner_(inner) {}
  asio::awaitable<Result<void>> begin(const FetchReply& header) override;
  asio::awaitable<Result<void>> write(std::string chunk) override;
  bool started() const { return started_; }

 private:
  ChunkSink& inner_;
  bool started_ = false;
};

// Passes one value's bytes to the caller's sink across several fetches (holders of a shared
// file; the access node, then the holder it read from): the first header opens the sink, every
// later one must announce the same size and digest (or it is `conflict`), and each fetch goes on
// from offset(). Keeps to a byte rate when asked.
class ResumingSink final : public ChunkSink {
 public:
  struct Content {
    std::uint64_t size = 0;
    Digest sha256{};
  };
  // expect: the content the value must have; none: the first header's.
  explicit ResumingSink(ChunkSink& inner, std::optional<Content> expect = std::nullopt,
                        std::uint64_t bytes_per_second = 0)
      : inner_(inner), expect_(expect), rate_(bytes_per_second) {}
  asio::awaitable<Result<void>> begin(const FetchReply& header) override;
  asio::awaitable<Result<void>> write(std::string chunk) override;
  std::uint64_t offset() const { return offset_; }
  bool begun() const { return begun_; }
  const std::string& from() const { return from_; }  // the holder of the last header
  // A failure on this side (the caller's sink): no other holder would do better.
  const std::optional<Error>& local_error() const { return local_error_; }

 private:
  ChunkSink& inner_;
  std::optional<Content> expect_;
  std::uint64_t rate_;
  std::optional<Error> local_error_;
  std::uint64_t offset_ = 0;
  bool begun_ = false;
  std::string from_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace chord
