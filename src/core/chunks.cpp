#include "chord/chunks.hpp"

#include "chord/blocking.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

namespace chord {

BlobSource::BlobSource(std::shared_ptr<const Blob> blob, std::size_t chunk_bytes, std::uint64_t offset,
                       std::uint64_t length, boost::asio::thread_pool* io)
    : blob_(std::move(blob)), io_(io), chunk_bytes_(chunk_bytes), pos_(offset) {
  const auto size = blob_->meta().size;
  pos_ = std::min(pos_, size);
  end_ = length >= size - pos_ ? size : pos_ + length;
}

asio::awaitable<Result<std::optional<std::string>>> BlobSource::next() {
  if (pos_ >= end_) co_return std::optional<std::string>{};
  auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes_, end_ - pos_));
  const auto at = pos_;
  auto data = co_await run_blocking(io_, [&] { return blob_->read(at, n); });
  if (!data) co_return data.error();
  pos_ += data->size();
  if (data->empty()) co_return make_error(Errc::internal, "stored value ended early");
  co_return std::optional<std::string>(std::move(*data));
}

asio::awaitable<Result<std::optional<std::string>>> StringSource::next() {
  if (pos_ >= data_.size()) co_return std::optional<std::string>{};
  auto n = std::min(chunk_, data_.size() - pos_);
  if (pos_ == 0 && n == data_.size()) {  // the whole value in one chunk: handed over, not copied
    pos_ = n;
    co_return std::optional<std::string>(std::exchange(data_, {}));
  }
  std::string chunk = data_.substr(pos_, n);
  pos_ += n;
  co_return std::optional<std::string>(std::move(chunk));
}

asio::awaitable<Result<void>> StringSink::begin(const FetchReply& header) {
  // The limit is on what arrives, not on the value: a sink may receive one range of it.
  header_ = header;
  data_.reserve(std::min<std::uint64_t>(header.meta.size, max_));
  co_return Result<void>{};
}

asio::awaitable<Result<void>> StringSink::write(std::string chunk) {
  if (data_.size() + chunk.size() > max_) co_return make_error(Errc::too_large, fmt::format("more than the {} bytes this sink takes", max_));
  data_.append(chunk);
  co_return Result<void>{};
}

asio::awaitable<Result<std::optional<std::string>>> PeekedSource::next() {
  if (handed_ < taken_.size()) co_return std::optional<std::string>(std::move(taken_[handed_++]));
  if (ended_) co_return std::optional<std::string>{};
  co_return co_await inner_.next();
}

asio::awaitable<Result<std::optional<std::string>>> RewindableSource::next() {
  if (handed_ < kept_.size()) co_return std::optional<std::string>(kept_[handed_++]);
  if (ended_) co_return std::optional<std::string>{};
  auto r = co_await inner_.next();
  if (!r) {
    whole_ = false;  // the stream itself broke: another peer would get no further
  } else if (!*r) {
    ended_ = whole_;
  } else {
    ++handed_;
    if (whole_ && kept_bytes_ + (*r)->size() <= keep_) {
      kept_bytes_ += (*r)->size();
      kept_.push_back(**r);
    } else if (whole_) {
      whole_ = false;
      kept_ = {};
    }
  }
  co_return r;
}

bool RewindableSource::rewind() {
  if (!whole_) return false;
  handed_ = 0;
  return true;
}

asio::awaitable<Result<void>> CountingSink::begin(const FetchReply& header) {
  started_ = true;
  co_return co_await inner_.begin(header);
}

asio::awaitable<Result<void>> CountingSink::write(std::string chunk) {
  co_return co_await inner_.write(std::move(chunk));
}

asio::awaitable<Result<void>> ResumingSink::begin(const FetchReply& h) {
  if (!expect_) expect_ = Content{h.meta.size, h.meta.sha256};
  if (h.meta.size != expect_->size || h.meta.sha256 != expect_->sha256)
    co_return make_error(Errc::conflict, fmt::format("{} holds another version of '{}' now", h.holder.uri, h.meta.key));
  from_ = h.holder.uri;
  if (std::exchange(begun_, true)) co_return Result<void>{};
  start_ = std::chrono::steady_clock::now();
  auto r = co_await inner_.begin(h);
  if (!r) local_error_ = r.error();
  co_return r;
}

asio::awaitable<Result<void>> ResumingSink::write(std::string chunk) {
  offset_ += chunk.size();
  auto r = co_await inner_.write(std::move(chunk));
  if (!r) local_error_ = r.error();
  if (r && rate_ > 0) {
    const auto due = start_ + std::chrono::microseconds(offset_ * 1'000'000 / rate_);
    if (due > std::chrono::steady_clock::now()) {
      asio::steady_timer wait(co_await asio::this_coro::executor, due);
      co_await wait.async_wait(asio::use_awaitable);
    }
  }
  co_return r;
}

}  // namespace chord
