#pragma once
// What a node serves for Fetch with role SHARED: the files of its shared folder (serve --share),
// by name, straight from this node. The node knows only this interface; the folder's index,
// watch and publishing live in src/share.
#include "chord/service.hpp"

namespace chord {

class SharedFolder {
 public:
  virtual ~SharedFolder() = default;
  // Streams [req.offset, req.offset + req.length) of the file named req.key; the header carries
  // the whole file's size and SHA-256 as indexed.
  virtual asio::awaitable<Result<FetchReply>> serve(const FetchRequest& req, ChunkSink& sink, Timeout timeout) = 0;
};

}  // namespace chord
