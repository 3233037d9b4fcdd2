#include "chord/key_id.hpp"

#include <fmt/format.h>

#include "chord/utf8.hpp"

namespace chord {

Result<Id> key_id_of(const Ring& ring, std::size_t max_key_bytes, const std::string& key,
                     const std::optional<Id>& key_id) {
  if (key.size() > max_key_bytes)
    return make_error(Errc::too_large, fmt::format("key of {} bytes is over the {} byte limit", key.size(),
                                                   max_key_bytes));
  if (!is_utf8(key)) return make_error(Errc::invalid_argument, "a key must be UTF-8 text");
  if (key.empty()) {
    if (!key_id) return make_error(Errc::invalid_argument, "neither a key nor a key id was given");
    if (!ring.contains(*key_id))
      return make_error(Errc::invalid_argument, fmt::format("key id is outside this {}-bit ring", ring.bits()));
    return *key_id;
  }
  Id id = ring.hash(key);
  if (key_id && *key_id != id)
    return make_error(Errc::invalid_argument,
                      fmt::format("key id {} is not the id of key '{}' ({})", ring.hex(*key_id), key, ring.hex(id)));
  return id;
}

}  // namespace chord
