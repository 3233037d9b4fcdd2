#include "range.hpp"

#include <algorithm>

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

Result<FetchReply> header_of(const pb::FetchChunk& reply) {
  if (!reply.has_header()) return make_error(Errc::invalid_argument, "a reply without a header");
  return from_proto(reply.header());
}

}  // namespace chord::wire
