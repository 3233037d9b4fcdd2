#pragma once
// Keys are text: protobuf refuses a string field that is not UTF-8, and JSON cannot carry one.
#include <string_view>

namespace chord {

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
bool is_utf8(std::string_view s);

}  // namespace chord
