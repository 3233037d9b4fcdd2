#pragma once
// One range of a value in one message each way: a FetchRange on gRPC, every Fetch call on REST
// and AMQP. The server side asks the node for the range; the client side reads the reply's header.
#include <cstddef>

#include "chord/service.hpp"
#include "convert.hpp"

namespace chord::wire {

// Fills out with req's range (at most chunk_bytes of it; a request without a length asks for a
// chunk) and the value's header, or says why the node could not.
asio::awaitable<Result<void>> fetch_range(ChordService& node, FetchRequest req, std::size_t chunk_bytes, Timeout timeout,
                                          pb::FetchChunk* out);

// The header of the reply to a range's request, checked against it: invalid_argument for a reply
// without a header, a malformed one, or data other than the range asked for (from the offset to
// the value's end, at most the length asked; a server gives at most a chunk to a request without
// one). A peer that sends short or long ranges must fail the fetch, not splice the value wrong.
Result<FetchReply> header_of(const pb::FetchRequest& req, const pb::FetchChunk& reply);

}  // namespace chord::wire
