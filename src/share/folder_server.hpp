#pragma once
// Serves Fetch with role SHARED: a file of the shared folder, read in chunks on a pool, checked
// against the index before the first byte and against its own stat after every chunk, so that a
// file changed while it is served ends the transfer with an error instead of mixed bytes.
#include <memory>

#include <boost/asio/thread_pool.hpp>

#include "chord/shared_folder.hpp"
#include "folder_index.hpp"

namespace chord::share {

class FolderServer final : public SharedFolder {
 public:
  // dir: the folder's canonical path (Sharer::create resolves it).
  FolderServer(std::filesystem::path dir, NodeRef self, Ring ring, std::size_t chunk_bytes);
  ~FolderServer() override;
  // Called on the node's executor whenever a scan finished.
  void update(std::shared_ptr<const FolderIndex> index) { index_ = std::move(index); }
  std::shared_ptr<const FolderIndex> index() const { return index_; }
  asio::awaitable<Result<FetchReply>> serve(const FetchRequest& req, ChunkSink& sink, Timeout timeout) override;
  boost::asio::thread_pool& pool() { return pool_; }

 private:
  std::filesystem::path dir_;
  NodeRef self_;
  Ring ring_;
  std::size_t chunk_bytes_;
  std::shared_ptr<const FolderIndex> index_ = std::make_shared<FolderIndex>();
  boost::asio::thread_pool pool_{2};  // hashing a scan and serving reads
};

}  // namespace chord::share
