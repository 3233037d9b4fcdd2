#pragma once
// Secrets kept in files (the cluster key, the client token): read whole, a trailing newline
// dropped, refused when another user could read the file or when the secret is too short.
#include <cstddef>
#include <string>
#include <string_view>

#include "chord/result.hpp"

namespace chord {

// what names the secret in errors ("cluster key"); min_bytes is its shortest length.
Result<std::string> read_secret_file(const std::string& path, std::string_view what, std::size_t min_bytes);

// The client token a caller presents, as an Authorization value: "Bearer <token>".
std::string bearer(std::string_view token);
// True when no token is required (expected empty) or authorization is "Bearer <expected>";
// compared in constant time.
bool bearer_matches(std::string_view expected, std::string_view authorization);

}  // namespace chord
