#pragma once
// A version as users see and give it: "<hlc>-<writer id in hex>" (what put, get, ls and the HTTP
// API's ETag show, and what put --if-version and If-Match take); "" when there is none.
#include <string>
#include <string_view>

#include "chord/id.hpp"
#include "chord/messages.hpp"
#include "chord/result.hpp"

namespace chord {

std::string version_text(const Version& v, const Ring& ring);
// Also takes "0" (and "absent"): the zero version, "the key does not exist".
Result<Version> parse_version(std::string_view text, const Ring& ring);

}  // namespace chord
