#include "publisher.hpp"

#include <random>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chord/chunks.hpp"
#include "chord/sha256.hpp"
#include "share_client.hpp"
#include "share_name.hpp"

namespace chord::share {

namespace {

bool same_files(const std::map<std::string, Holding>& a, const std::map<std::string, Holding>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
           return x.first == y.first && x.second.same_file(y.second);
         });
}

}  // namespace

asio::awaitable<std::size_t> Publisher::publish(const FolderIndex& index, bool refresh,
                                                std::chrono::steady_clock::time_point deadline) {
  std::map<std::string, Entries> wanted;
  for (const auto& [name, f] : index.files) {
    const Holding h{f.size, f.sha256, f.mtime_ns / 1'000'000'000, 0};  // expires: stamped as it is written
    wanted[file_key(name)][name] = h;
    for (const auto& w : words_of(name)) wanted[word_key(w)][name] = h;
  }
  for (const auto& [key, entries] : published_) wanted.try_emplace(key);  // keys to empty
  std::size_t failed = 0;
  for (const auto& [key, entries] : wanted) {
    auto was = published_.find(key);
    const bool unchanged = was != published_.end() ? same_files(was->second, entries) : entries.empty();
    if (unchanged && !refresh) continue;
    if (interrupted_ || std::chrono::steady_clock::now() >= deadline) {
      ++failed;
      continue;
    }
    auto r = co_await sync_key(key, entries);
    if (!r) {
      ++failed;
      spdlog::warn("share: could not update '{}': {}", key, r.error().message);
      continue;
    }
    if (entries.empty()) published_.erase(key);
    else published_[key] = entries;
  }
  co_return failed;
}

asio::awaitable<Result<void>> Publisher::sync_key(const std::string& key, const Entries& mine) {
  std::minstd_rand jitter(std::random_device{}());
  Error last = make_error(Errc::precondition_failed, "no attempt");
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (attempt > 0) {
      // Another holder wrote the record between this one's read and write: read it again after
      // a pause that grows and differs between holders, so that the two do not collide again.
      asio::steady_timer pause(co_await asio::this_coro::executor,
                               std::chrono::milliseconds(5 + jitter() % (10u << attempt)));
      co_await pause.async_wait(asio::use_awaitable);
    }
    auto read = co_await read_record(via_, key, timeout_);
    Record record;
    Version at;
    if (read) {
      record = std::move(read->record);
      at = read->version;
    } else if (read.error().code == Errc::invalid_argument) {
      // A record no holder can read is replaced: keeping it would stop every holder for good.
      spdlog::warn("share: replacing '{}': {}", key, read.error().message);
      StringSink header_only(0);
      const FetchRequest probe{key, std::nullopt, Role::client, 0, 0};
      auto h = co_await via_.fetch(probe, header_only, timeout_);
      if (!h) co_return h.error();
      at = h->meta.version;
    } else {
      co_return read.error();
    }
    // The TTL runs from this write, not from the start of the publish: a publish of many keys
    // that waits on contended ones must not let its first entries lapse before the next.
    const auto now = unix_now();
    Entries stamped = mine;
    for (auto& [name, h] : stamped) h.expires = now + ttl_.count();
    const bool changed = set_holder(record, holder_, stamped, now);
    if (!changed) co_return Result<void>{};
    Result<void> written;
    if (record.files.empty()) {
      if (at.zero()) co_return Result<void>{};
      const DeleteRequest req{key, std::nullopt, Role::client, {}, at};
      auto r = co_await via_.remove(req, timeout_);
      if (!r) written = r.error();
    } else {
      std::string body = serialize(record);
      ValueMeta meta{key, {}, body.size(), Sha256::of(body), {}, false};
      StringSource source(std::move(body), 1 << 20);
      const StoreRequest req{meta, Role::client, true, at};
      auto r = co_await via_.store(req, source, timeout_);
      if (!r) written = r.error();
    }
    if (written) co_return written;
    if (written.error().code != Errc::precondition_failed) co_return written;
    last = written.error();
  }
  co_return make_error(last.code, fmt::format("'{}' kept changing under 8 attempts: {}", key, last.message));
}

}  // namespace chord::share
