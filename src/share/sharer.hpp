#pragma once
// serve --share DIR: indexes the folder, serves its files to fetches with role SHARED, publishes
// them in the ring, and keeps all of it current: inotify wakes it on a change (a rescan after
// the folder settles), a timer republishes every entry before its TTL runs out and rescans in
// case an event was lost. On leave it takes its entries out; after a crash they expire.
#include <chrono>
#include <filesystem>
#include <memory>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "chord/node.hpp"
#include "folder_server.hpp"
#include "publisher.hpp"

namespace chord::share {

struct ShareOptions {
  std::filesystem::path dir;
  std::chrono::seconds ttl{300};                // an entry's life; republished every ttl / 3
  std::chrono::milliseconds settle{300};        // quiet time after a change before the rescan
  Timeout timeout{5000};                        // each call into the ring
};

class Sharer : public std::enable_shared_from_this<Sharer> {
 public:
  // Checks the folder and sets up the watch; installs the file server on the node.
  static Result<std::shared_ptr<Sharer>> create(std::shared_ptr<Node> node, ShareOptions options);
  ~Sharer();
  // Starts indexing and publishing (once the node is in the ring).
  void start();
  // Stops the loop and takes this node's entries out of the ring, until `deadline`.
  asio::awaitable<void> withdraw(std::chrono::steady_clock::time_point deadline);

 private:
  Sharer(std::shared_ptr<Node> node, ShareOptions options, int inotify_fd);
  asio::awaitable<void> run();
  asio::awaitable<void> watch();
  asio::awaitable<void> rescan();

  std::shared_ptr<Node> node_;
  ShareOptions options_;
  std::shared_ptr<FolderServer> server_;
  Publisher publisher_;
  asio::posix::stream_descriptor events_;
  asio::steady_timer wake_;
  bool changed_ = false;
  bool stopped_ = false;
  bool running_ = false;  // the loop is inside a publish: withdraw waits for it
  std::map<std::string, std::string> skipped_;  // what the log already said
};

}  // namespace chord::share
