#pragma once
// The value stored under a share key: for each file name, its holders and what each holds.
// Every holder rewrites only its own entries (a conditional write, so that two holders updating
// one record at once both land) and each entry expires unless its holder refreshes it: a holder
// that died drops out without anyone removing it.
//
//   {"files":{"notes.txt":{"grpc://10.0.0.2:7000":{"size":12,"sha256":"<hex>","mtime":1764300000,
//                                                  "expires":1764300300}}}}
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "chord/messages.hpp"
#include "chord/result.hpp"

namespace chord::share {

struct Holding {
  std::uint64_t size = 0;
  Digest sha256{};
  std::int64_t mtime = 0;    // seconds since the epoch, as the holder's file system has it
  std::int64_t expires = 0;  // seconds since the epoch: past it, readers ignore the entry
  bool same_file(const Holding& o) const { return size == o.size && sha256 == o.sha256 && mtime == o.mtime; }
  bool operator==(const Holding&) const = default;
};

using Holders = std::map<std::string, Holding>;  // holder URI -> what it holds

struct Record {
  std::map<std::string, Holders> files;  // file name -> holders
  bool operator==(const Record&) const = default;
};

// A record read from the ring is outside input: anything malformed is refused whole.
Result<Record> parse_record(std::string_view text);
std::string serialize(const Record& record);

// Makes `holder`'s entries in the record exactly `mine` (file name -> holding) and drops every
// entry that expired by `now`. Returns whether the record changed.
bool set_holder(Record& record, const std::string& holder, const std::map<std::string, Holding>& mine, std::int64_t now);

// The record without expired entries (and names left with no holder).
Record live(Record record, std::int64_t now);

std::int64_t unix_now();

}  // namespace chord::share
