#pragma once
// What a client of shared folders does through any node of the ring: read the records, search
// them by words and exact names, and download a file straight from a holder, going on from the
// next holder where one fails. The CLI and the HTTP API both use it.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "chord/service.hpp"
#include "share_record.hpp"

namespace chord::share {

// A record as read, with the version a conditional write of it must name (empty: there is none).
struct ReadRecord {
  Record record;
  Version version;
};
inline constexpr std::uint64_t kMaxRecordBytes = 16u << 20;
asio::awaitable<Result<ReadRecord>> read_record(ChordService& via, const std::string& key, Timeout timeout);

// One file found: a name and one content of it (holders that disagree on the bytes are two).
struct FoundFile {
  std::string name;
  std::uint64_t size = 0;
  Digest sha256{};
  std::int64_t mtime = 0;  // the newest among its holders
  std::vector<std::string> holders;
};

// Files whose names hold every word of the query, plus any whose name is one of the query's
// arguments exactly. Sorted by name, then by most holders.
asio::awaitable<Result<std::vector<FoundFile>>> search(ChordService& via, const std::vector<std::string>& query,
                                                       Timeout timeout);
boost::json::object to_json(const std::vector<FoundFile>& files);

struct FetchOptions {
  Timeout timeout{10000};
  std::optional<Digest> sha256;  // which content, where holders disagree; default: most holders
  std::uint64_t bytes_per_second = 0;  // 0: as fast as it goes
  std::function<void(const std::string&)> note;  // a line on each holder tried and each failure
  bool header_only = false;  // the holder's header (size, digest) and none of the bytes: HTTP HEAD
};
struct Fetched {
  std::string from;  // the holder that sent the last byte
  std::uint64_t bytes = 0;
  Digest sha256{};
};
// Streams the file into sink (begin once, then every byte in order); the caller checks the
// digest as it finishes the sink.
asio::awaitable<Result<Fetched>> fetch_file(Connector& peers, ChordService& via, const std::string& name,
                                            ChunkSink& sink, const FetchOptions& options);

}  // namespace chord::share
