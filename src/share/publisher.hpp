#pragma once
// Keeps the ring's share records true to one holder's folder: for each file an entry under the
// key of its name and under each word of it. Each record is rewritten with a conditional write
// (read, change this holder's entries, write if still at the version read), so holders that
// share a file or a word never undo each other's entries.
#include <chrono>
#include <map>
#include <string>

#include "chord/service.hpp"
#include "folder_index.hpp"
#include "share_record.hpp"

namespace chord::share {

class Publisher {
 public:
  Publisher(ChordService& via, std::string holder, Timeout timeout, std::chrono::seconds ttl)
      : via_(via), holder_(std::move(holder)), timeout_(timeout), ttl_(ttl) {}

  // Publishes `index`: with refresh, every key (their entries expire otherwise); without, only
  // the keys whose entries changed since the last publish. Stops starting keys at `deadline`.
  // Returns how many keys failed (they are tried again at the next publish).
  asio::awaitable<std::size_t> publish(const FolderIndex& index, bool refresh,
                                       std::chrono::steady_clock::time_point deadline);
  // Makes a publish in progress stop starting keys.
  void interrupt() { interrupted_ = true; }
  // Takes every entry of this holder out of the ring (a leave).
  asio::awaitable<std::size_t> withdraw(std::chrono::steady_clock::time_point deadline) {
    interrupted_ = false;
    const FolderIndex none;  // named: a temporary inside co_await is a g++ 12 hazard
    co_return co_await publish(none, true, deadline);
  }

 private:
  using Entries = std::map<std::string, Holding>;  // file name -> holding, under one key
  asio::awaitable<Result<void>> sync_key(const std::string& key, const Entries& mine);

  ChordService& via_;
  std::string holder_;
  Timeout timeout_;
  std::chrono::seconds ttl_;
  bool interrupted_ = false;
  std::map<std::string, Entries> published_;  // key -> this holder's entries as last written
};

}  // namespace chord::share
