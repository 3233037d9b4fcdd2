#include "values.hpp"

#include "chord/id.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace chord::cli {

Result<std::uint64_t> parse_size(const std::string& text) {
  std::size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(text, &used);
  } catch (const std::exception&) {
    return make_error(Errc::invalid_argument, fmt::format("'{}' is not a size (e.g. 4096, 64KiB, 8MiB, 1GiB)", text));
  }
  std::string unit = text.substr(used);
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB" || unit == "K" || unit == "k") mult = 1ull << 10;
  else if (unit == "MiB" || unit == "M" || unit == "m") mult = 1ull << 20;
  else if (unit == "GiB" || unit == "G" || unit == "g") mult = 1ull << 30;
  else if (unit == "KB" || unit == "kB") mult = 1000;
  else if (unit == "MB") mult = 1000 * 1000;
  else if (unit == "GB") mult = 1000ull * 1000 * 1000;
  else return make_error(Errc::invalid_argument, fmt::format("'{}': unknown unit '{}' (B, KiB, MiB, GiB, KB, MB, GB)", text, unit));
  if (n > UINT64_MAX / mult) return make_error(Errc::invalid_argument, fmt::format("'{}' is too large", text));
  return static_cast<std::uint64_t>(n) * mult;
}

Progress::Progress(std::string label, std::uint64_t total)
    : label_(std::move(label)), total_(total), tty_(isatty(STDERR_FILENO) && total >= (4u << 20)),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

Progress::~Progress() {
  if (tty_) draw(true);
}

void Progress::add(std::uint64_t bytes) {
  done_ += bytes;
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_ = now;
  draw(false);
}

void Progress::draw(bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double mib = 1 << 20;
  std::fprintf(stderr, "\r\033[K%s %3.0f%%  %.1f MiB / %.1f MiB  %.1f MB/s%s", label_.c_str(),
               total_ ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 100.0,
               static_cast<double>(done_) / mib, static_cast<double>(total_) / mib,
               secs > 0 ? static_cast<double>(done_) / 1e6 / secs : 0.0, final ? "\n" : "");
  std::fflush(stderr);
}

std::size_t chunk_bytes_for(std::uint64_t size) {
  return static_cast<std::size_t>(std::clamp<std::uint64_t>(size / 4, 256 << 10, 1 << 20));
}

Result<std::unique_ptr<FileSource>> FileSource::open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return make_error(Errc::invalid_argument, fmt::format("{}: not a readable regular file", path));
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(Errc::invalid_argument, fmt::format("{}: {}", path, ec.message()));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return make_error(Errc::invalid_argument, fmt::format("{}: {}", path, std::strerror(errno)));
  return std::unique_ptr<FileSource>(new FileSource(f, path, size, chunk_bytes_for(size)));
}

FileSource::~FileSource() { std::fclose(file_); }

void FileSource::rewind() { std::rewind(file_); }

Result<Digest> FileSource::sha256() {
  rewind();
  Sha256 h;
  std::string buf(chunk_, '\0');
  std::uint64_t total = 0;
  while (auto n = std::fread(buf.data(), 1, buf.size(), file_)) {
    h.update(std::string_view(buf.data(), n));
    total += n;
  }
  if (std::ferror(file_) || total != size_)
    return make_error(Errc::internal, fmt::format("{}: read failed or the file changed size", path_));
  rewind();
  return h.finish();
}

asio::awaitable<Result<std::optional<std::string>>> FileSource::next() {
  std::string buf(chunk_, '\0');
  auto n = std::fread(buf.data(), 1, buf.size(), file_);
  if (n == 0) {
    if (std::ferror(file_)) co_return make_error(Errc::internal, fmt::format("{}: {}", path_, std::strerror(errno)));
    co_return std::optional<std::string>{};
  }
  buf.resize(n);
  if (progress_) progress_->add(n);
  co_return std::optional<std::string>(std::move(buf));
}

DummySource::DummySource(const std::string& key, std::uint64_t size)
    : seed_(Ring(160).hash(key).low64() ^ size), size_(size), chunk_(chunk_bytes_for(size)) {}

std::string DummySource::block(std::uint64_t offset, std::size_t n) const {
  // Cheap, reproducible, not compressible: 64-bit words of a counter run through splitmix64.
  // Whole words as fixed-size stores, the tail apart: a bench put generates its value inside the
  // timed part, where a variable-length copy per word was a tenth of an in-process put's time.
  auto word = [&](std::uint64_t index) {
    std::uint64_t z = seed_ + index * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  std::string out(n, '\0');
  const std::uint64_t first = offset / 8;  // offsets are whole words: chunks are multiples of 8
  const std::size_t whole = n / 8;
  char* p = out.data();
  for (std::size_t i = 0; i < whole; ++i) {
    const std::uint64_t z = word(first + i);
    std::memcpy(p + i * 8, &z, 8);
  }
  if (const std::size_t tail = n % 8) {
    const std::uint64_t z = word(first + whole);
    std::memcpy(p + whole * 8, &z, tail);
  }
  return out;
}

Digest DummySource::sha256() {
  Sha256 h;
  for (std::uint64_t off = 0; off < size_; off += chunk_) h.update(block(off, static_cast<std::size_t>(std::min<std::uint64_t>(chunk_, size_ - off))));
  return h.finish();
}

asio::awaitable<Result<std::optional<std::string>>> DummySource::next() {
  if (pos_ >= size_) co_return std::optional<std::string>{};
  auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_, size_ - pos_));
  auto data = block(pos_, n);
  pos_ += n;
  if (progress_) progress_->add(n);
  co_return std::optional<std::string>(std::move(data));
}

ValueSink::ValueSink(Target target, std::string path, std::string label)
    : target_(target), path_(std::move(path)), label_(std::move(label)) {}

ValueSink::~ValueSink() = default;

asio::awaitable<Result<void>> ValueSink::begin(const FetchReply& header) {
  header_ = header;
  progress_ = std::make_unique<Progress>(label_, header.meta.size);
  if (target_ == Target::file) {
    std::fflush(stdout);  // -o - shares stdout with what this process printed
    co_return file_.open(path_);
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> ValueSink::write(std::string chunk) {
  hash_.update(chunk);
  bytes_ += chunk.size();
  progress_->add(chunk.size());
  if (target_ == Target::file) co_return file_.write(chunk);
  if (target_ == Target::stdout_ && std::fwrite(chunk.data(), 1, chunk.size(), stdout) != chunk.size())
    co_return make_error(Errc::internal, fmt::format("writing the value failed: {}", std::strerror(errno)));
  co_return Result<void>{};
}

Result<void> ValueSink::finish() {
  progress_.reset();
  if (!header_) return make_error(Errc::internal, "no value arrived");
  if (bytes_ != header_->meta.size)
    return make_error(Errc::data_loss, fmt::format("got {} of {} bytes", bytes_, header_->meta.size));
  if (hash_.finish() != header_->meta.sha256) return make_error(Errc::data_loss, "the value does not match its SHA-256");
  if (target_ == Target::stdout_) std::fflush(stdout);
  if (target_ == Target::file) return file_.commit();
  return {};
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at <= text.size();) {
    auto comma = std::min(text.find(',', at), text.size());
    out.push_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

}  // namespace chord::cli
