#include "chord/version_text.hpp"

#include <charconv>

#include <fmt/format.h>

namespace chord {

std::string version_text(const Version& v, const Ring& ring) {
  return v.zero() ? std::string() : fmt::format("{}-{}", v.hlc, ring.hex(v.writer));
}

Result<Version> parse_version(std::string_view text, const Ring& ring) {
  if (text == "0" || text == "absent") return Version{};
  auto bad = [&] {
    return make_error(Errc::invalid_argument,
                      fmt::format("'{}' is not a version: expected <hlc>-<writer id in hex> as put and get print it, "
                                  "or 0 for \"does not exist\"",
                                  text));
  };
  const auto dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0) return bad();
  Version v;
  auto [end, ec] = std::from_chars(text.data(), text.data() + dash, v.hlc);
  if (ec != std::errc() || end != text.data() + dash || v.hlc == 0) return bad();
  auto writer = ring.parse_hex(text.substr(dash + 1));
  if (!writer) return bad();
  v.writer = *writer;
  return v;
}

}  // namespace chord
