#include "share_record.hpp"

#include <chrono>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "chord/sha256.hpp"
#include "share_name.hpp"

namespace chord::share {
namespace json = boost::json;

namespace {

Error malformed(std::string what) { return make_error(Errc::invalid_argument, "a malformed share record: " + what); }

Result<std::int64_t> integer(const json::object& o, std::string_view field) {
  auto* v = o.if_contains(field);
  if (!v) return malformed(fmt::format("no '{}'", field));
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v->as_uint64());
  return malformed(fmt::format("'{}' is not an integer", field));
}

Result<Holding> holding_from(const json::value& v) {
  if (!v.is_object()) return malformed("a holder's entry is not an object");
  const auto& o = v.as_object();
  Holding h;
  auto size = integer(o, "size");
  auto mtime = integer(o, "mtime");
  auto expires = integer(o, "expires");
  if (!size) return size.error();
  if (!mtime) return mtime.error();
  if (!expires) return expires.error();
  if (*size < 0) return malformed("a negative size");
  h.size = static_cast<std::uint64_t>(*size);
  h.mtime = *mtime;
  h.expires = *expires;
  auto* digest = o.if_contains("sha256");
  if (!digest || !digest->is_string()) return malformed("no 'sha256'");
  auto d = digest_from_hex(digest->as_string());
  if (!d) return malformed("'sha256' is not 64 hex digits");
  h.sha256 = *d;
  return h;
}

}  // namespace

Result<Record> parse_record(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return malformed(ec.message());
  if (!doc.is_object()) return malformed("not an object");
  auto* files = doc.as_object().if_contains("files");
  if (!files || !files->is_object()) return malformed("no 'files' object");
  Record out;
  for (const auto& [name, holders] : files->as_object()) {
    if (auto ok = check_name(name); !ok) return malformed(ok.error().message);
    if (!holders.is_object()) return malformed(fmt::format("the holders of '{}' are not an object", std::string_view(name)));
    auto& into = out.files[std::string(name)];
    for (const auto& [uri, entry] : holders.as_object()) {
      if (uri.empty()) return malformed("a holder with an empty URI");
      auto h = holding_from(entry);
      if (!h) return h.error();
      into[std::string(uri)] = *h;
    }
  }
  return out;
}

std::string serialize(const Record& record) {
  json::object files;
  for (const auto& [name, holders] : record.files) {
    json::object hs;
    for (const auto& [uri, h] : holders)
      hs[uri] = json::object{{"size", h.size}, {"sha256", to_hex(h.sha256)}, {"mtime", h.mtime}, {"expires", h.expires}};
    files[name] = std::move(hs);
  }
  return json::serialize(json::object{{"files", std::move(files)}});
}

bool set_holder(Record& record, const std::string& holder, const std::map<std::string, Holding>& mine, std::int64_t now) {
  Record before = record;
  for (auto& [name, holders] : record.files) holders.erase(holder);
  for (const auto& [name, h] : mine) record.files[name][holder] = h;
  record = live(std::move(record), now);
  return !(record == before);
}

Record live(Record record, std::int64_t now) {
  for (auto it = record.files.begin(); it != record.files.end();) {
    std::erase_if(it->second, [now](const auto& entry) { return entry.second.expires <= now; });
    it = it->second.empty() ? record.files.erase(it) : std::next(it);
  }
  return record;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace chord::share
