#pragma once
// Ready-made ends of a streamed value, shared by the engine, the transports and the CLI.
#include <cstdint>
#include <memory>
#include <string>

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

// Counts what passes through, so that a caller knows whether a failed transfer can be retried
// elsewhere (nothing consumed / nothing delivered yet).
class CountingSource final : public ChunkSource {
 public:
  explicit CountingSource(ChunkSource& inner) : inner_(inner) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override;
  std::uint64_t chunks() const { return chunks_; }

 private:
  ChunkSource& inner_;
  std::uint64_t chunks_ = 0;
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

}  // namespace chord
