#include "range.hpp"

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "chord/chunks.hpp"

namespace chord::wire {

asio::awaitable<Result<void>> fetch_range(ChordService& node, FetchRequest req, std::size_t chunk_bytes, Timeout timeout,
                                          pb::FetchChunk* out) {
  req.length = std::min<std::uint64_t>(req.length.value_or(chunk_bytes), chunk_bytes);
  StringSink sink(chunk_bytes);
  auto got = co_await node.fetch(req, sink, timeout);
  if (!got) co_return got.error();
  to_proto(*got, out->mutable_header());
  out->set_data(std::move(sink.data()));
  co_return Result<void>{};
}

Result<FetchReply> header_of(const pb::FetchRequest& req, const pb::FetchChunk& reply) {
  if (!reply.has_header()) return make_error(Errc::invalid_argument, "a reply without a header");
  auto header = from_proto(reply.header());
  if (!header) return header;
  std::uint64_t left = req.offset() < header->meta.size ? header->meta.size - req.offset() : 0;
  std::uint64_t got = reply.data().size();
  bool fits = req.has_length() ? got == std::min(left, req.length()) : got <= left && (got > 0 || left == 0);
  if (!fits)
    return make_error(Errc::invalid_argument,
                      fmt::format("{} bytes at offset {} of a {}-byte value, asked for {}", got, req.offset(),
                                  header->meta.size, req.has_length() ? std::to_string(req.length()) : "a chunk"));
  return header;
}

}  // namespace chord::wire
