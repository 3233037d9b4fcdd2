#include "share_client.hpp"

#include <algorithm>
#include <random>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "chord/chunks.hpp"
#include "chord/sha256.hpp"
#include "share_name.hpp"

namespace chord::share {
namespace json = boost::json;

asio::awaitable<Result<ReadRecord>> read_record(ChordService& via, const std::string& key, Timeout timeout) {
  const FetchRequest req{key, std::nullopt, Role::client, 0, std::nullopt};
  std::optional<StringSink> sink;
  Result<FetchReply> r = make_error(Errc::internal, "unread");
  // A record is rewritten often (every holder, every refresh): a read that a write overtook
  // (conflict) is simply read again.
  for (int attempt = 0; attempt < 4; ++attempt) {
    sink.emplace(kMaxRecordBytes);
    r = co_await via.fetch(req, *sink, timeout);
    if (r || r.error().code != Errc::conflict) break;
  }
  if (!r) {
    if (r.error().code == Errc::not_found) co_return ReadRecord{};
    co_return r.error();
  }
  auto record = parse_record(sink->data());
  if (!record) co_return make_error(record.error().code, fmt::format("'{}': {}", key, record.error().message));
  co_return ReadRecord{std::move(*record), r->meta.version};
}

namespace {

void add_found(std::map<std::pair<std::string, Digest>, FoundFile>& found, const std::string& name, const Holders& holders) {
  for (const auto& [uri, h] : holders) {
    auto& f = found[{name, h.sha256}];
    f.name = name;
    f.size = h.size;
    f.sha256 = h.sha256;
    f.mtime = std::max(f.mtime, h.mtime);
    if (std::find(f.holders.begin(), f.holders.end(), uri) == f.holders.end()) f.holders.push_back(uri);
  }
}

}  // namespace

asio::awaitable<Result<std::vector<FoundFile>>> search(ChordService& via, const std::vector<std::string>& query,
                                                       Timeout timeout) {
  const auto now = unix_now();
  std::vector<std::string> words;
  for (const auto& arg : query)
    for (auto& w : words_of(arg))
      if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(std::move(w));
  std::map<std::pair<std::string, Digest>, FoundFile> found;
  // Every word's entry, intersected: a name must be under each of them.
  std::optional<Record> all;
  for (const auto& w : words) {
    const std::string key = word_key(w);  // named: no temporaries inside co_await (g++ 12)
    auto r = co_await read_record(via, key, timeout);
    if (!r) co_return r.error();
    Record entry = live(std::move(r->record), now);
    if (!all) {
      all = std::move(entry);
      continue;
    }
    std::erase_if(all->files, [&](const auto& f) { return !entry.files.contains(f.first); });
  }
  if (all)
    for (const auto& [name, holders] : all->files) add_found(found, name, holders);
  // And the exact names: a name with no word of two letters is found this way only.
  for (const auto& arg : query) {
    if (!check_name(arg)) continue;
    const std::string key = file_key(arg);
    auto r = co_await read_record(via, key, timeout);
    if (!r) co_return r.error();
    const Record exact = live(std::move(r->record), now);
    if (auto it = exact.files.find(arg); it != exact.files.end()) add_found(found, arg, it->second);
  }
  std::vector<FoundFile> out;
  for (auto& [key, f] : found) {
    std::sort(f.holders.begin(), f.holders.end());
    out.push_back(std::move(f));
  }
  std::stable_sort(out.begin(), out.end(), [](const FoundFile& a, const FoundFile& b) {
    return a.name != b.name ? a.name < b.name : a.holders.size() > b.holders.size();
  });
  co_return out;
}

json::object to_json(const std::vector<FoundFile>& files) {
  json::array list;
  for (const auto& f : files) {
    json::array holders;
    for (const auto& h : f.holders) holders.emplace_back(h);
    list.emplace_back(json::object{{"name", f.name}, {"size", f.size}, {"sha256", to_hex(f.sha256)}, {"mtime", f.mtime},
                                   {"holders", std::move(holders)}});
  }
  return json::object{{"files", std::move(list)}};
}

asio::awaitable<Result<Fetched>> fetch_file(Connector& peers, ChordService& via, const std::string& name,
                                            ChunkSink& sink, const FetchOptions& options) {
  if (auto ok = check_name(name); !ok) co_return ok.error();
  const std::string record_key = file_key(name);
  auto read = co_await read_record(via, record_key, options.timeout);
  if (!read) co_return read.error();
  const Record record = live(std::move(read->record), unix_now());
  auto it = record.files.find(name);
  if (it == record.files.end()) co_return make_error(Errc::not_found, fmt::format("no node shares '{}'", name));
  std::map<std::pair<std::string, Digest>, FoundFile> grouped;
  add_found(grouped, name, it->second);
  const FoundFile* pick = nullptr;
  for (const auto& [content, f] : grouped) {
    if (options.sha256 ? f.sha256 == *options.sha256
                       : (!pick || f.holders.size() > pick->holders.size() ||
                          (f.holders.size() == pick->holders.size() && f.mtime > pick->mtime)))
      pick = &f;
  }
  if (!pick) co_return make_error(Errc::not_found, fmt::format("no node shares '{}' with SHA-256 {}", name, to_hex(*options.sha256)));
  auto note = [&](const std::string& line) {
    if (options.note) options.note(line);
  };
  ResumingSink resuming(sink, ResumingSink::Content{pick->size, pick->sha256}, options.bytes_per_second);
  std::vector<std::string> failures;
  // In random order: every client starting with the same holder would load it alone.
  std::vector<std::string> holders = pick->holders;
  std::shuffle(holders.begin(), holders.end(), std::mt19937(std::random_device{}()));
  for (const auto& holder : holders) {
    note(resuming.offset() == 0 ? fmt::format("fetching '{}' ({} bytes) from {}", name, pick->size, holder)
                                : fmt::format("going on from {} at byte {}", holder, resuming.offset()));
    auto client = peers.connect(holder);
    if (!client) {
      failures.push_back(fmt::format("{}: {}", holder, client.error().message));
      note(fmt::format("{} failed: {}", holder, client.error().message));
      continue;
    }
    const FetchRequest req{name, std::nullopt, Role::shared, resuming.offset(),
                           options.header_only ? std::optional<std::uint64_t>(0) : std::nullopt};
    auto r = co_await (*client)->fetch(req, resuming, options.timeout);
    if (r && options.header_only && resuming.begun()) co_return Fetched{resuming.from(), 0, pick->sha256};
    if (r && resuming.offset() == pick->size) co_return Fetched{resuming.from(), resuming.offset(), pick->sha256};
    if (resuming.local_error()) co_return *resuming.local_error();
    const std::string why = r ? fmt::format("ended at byte {} of {}", resuming.offset(), pick->size) : r.error().message;
    failures.push_back(fmt::format("{}: {}", holder, why));
    note(fmt::format("{} failed: {}", holder, why));
  }
  std::string all;
  for (const auto& f : failures) all += (all.empty() ? "" : "; ") + f;
  co_return make_error(Errc::unavailable, fmt::format("every holder of '{}' failed ({})", name, all));
}

}  // namespace chord::share
