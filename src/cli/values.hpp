#pragma once
// What the client commands stream: files, generated dummy values, stdout, with a progress line
// on a terminal.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "chord/service.hpp"
#include "chord/sha256.hpp"

#include "output_file.hpp"

namespace chord::cli {

// "4096", "64KiB", "8MiB", "1GiB" (powers of 1024), "10MB" (powers of 1000).
Result<std::uint64_t> parse_size(const std::string& text);
// "a,b,c" -> {"a", "b", "c"}; empty items are kept, so that a stray comma is reported as such.
std::vector<std::string> split_list(const std::string& text);

// Prints "label  42%  108.0 MiB / 256.0 MiB  312.4 MB/s" on stderr when it is a terminal.
class Progress {
 public:
  Progress(std::string label, std::uint64_t total);
  ~Progress();
  void add(std::uint64_t bytes);

 private:
  void draw(bool final);
  std::string label_;
  std::uint64_t total_, done_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

// A local file, read in chunks. size() and sha256() read it once beforehand (the header of a
// stored value carries its digest).
// The chunk size a client sends a value of size bytes in. Each node forwards a chunk as soon as
// it has it (access node -> owner -> replicas), so a value of a few chunks crosses the hops as a
// pipeline where one chunk crosses them one after the other: a quarter of the value, from 64 KiB
// (a small value is one message) to 1 MiB (past 4 MiB, fewer calls matter more).
std::size_t chunk_bytes_for(std::uint64_t size);

class FileSource final : public ChunkSource {
 public:
  static Result<std::unique_ptr<FileSource>> open(const std::string& path);
  ~FileSource() override;
  std::uint64_t size() const { return size_; }
  Result<Digest> sha256();
  void rewind();
  void show_progress(Progress* p) { progress_ = p; }
  asio::awaitable<Result<std::optional<std::string>>> next() override;

 private:
  FileSource(std::FILE* f, std::string path, std::uint64_t size, std::size_t chunk)
      : file_(f), path_(std::move(path)), size_(size), chunk_(chunk) {}
  std::FILE* file_;
  std::string path_;
  std::uint64_t size_;
  std::size_t chunk_;
  Progress* progress_ = nullptr;
};

// Generated content of a given size, the same for the same key and size.
class DummySource final : public ChunkSource {
 public:
  DummySource(const std::string& key, std::uint64_t size);
  std::uint64_t size() const { return size_; }
  Digest sha256();  // generates it once to hash it
  void rewind() { pos_ = 0; }
  void show_progress(Progress* p) { progress_ = p; }
  asio::awaitable<Result<std::optional<std::string>>> next() override;

 private:
  std::string block(std::uint64_t offset, std::size_t n) const;
  std::uint64_t seed_;
  std::uint64_t size_;
  std::size_t chunk_;
  std::uint64_t pos_ = 0;
  Progress* progress_ = nullptr;
};

// Writes a fetched value to a file (see OutputFile: a regular file is replaced only when the
// digest matches), to stdout, or nowhere, hashing it on the way.
class ValueSink final : public ChunkSink {
 public:
  enum class Target { file, stdout_, discard };
  ValueSink(Target target, std::string path = {}, std::string label = "get");
  ~ValueSink() override;
  asio::awaitable<Result<void>> begin(const FetchReply& header) override;
  asio::awaitable<Result<void>> write(std::string chunk) override;
  // Checks the digest and, for a file, moves it into place.
  Result<void> finish();
  std::uint64_t bytes() const { return bytes_; }
  const std::optional<FetchReply>& header() const { return header_; }

 private:
  Target target_;
  std::string path_;
  std::string label_;  // of the progress bar
  OutputFile file_;
  Sha256 hash_;
  std::uint64_t bytes_ = 0;
  std::optional<FetchReply> header_;
  std::unique_ptr<Progress> progress_;
};

}  // namespace chord::cli
