#pragma once
// The id a request names: SHA-1 of its key, or the key id itself when no key is given. Shared by
// lookups (the ring) and values (the storage layer), so both refuse the same bad input alike.
#include <cstddef>
#include <optional>
#include <string>

#include "chord/id.hpp"
#include "chord/result.hpp"

namespace chord {

Result<Id> key_id_of(const Ring& ring, std::size_t max_key_bytes, const std::string& key,
                     const std::optional<Id>& key_id);

}  // namespace chord
