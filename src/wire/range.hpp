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

// The header of a range's reply; invalid_argument for a reply without one or a malformed one.
Result<FetchReply> header_of(const pb::FetchChunk& reply);

}  // namespace chord::wire
