// A share record as read from the ring (search, fetch, every holder's update): any bytes at all
// under a share key. A record that parses must come back the same through its own JSON.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "share_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace chord::share;
  auto record = parse_record(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!record) return 0;
  auto again = parse_record(serialize(*record));
  if (!again || !(*again == *record)) std::abort();
  (void)set_holder(*record, "grpc://127.0.0.1:1", {}, 1700000000);
  return 0;
}
