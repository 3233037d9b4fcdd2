#include "chord/secret_file.hpp"

#include <fstream>
#include <iterator>
#include <sys/stat.h>

#include <fmt/format.h>
#include <openssl/crypto.h>

namespace chord {

Result<std::string> read_secret_file(const std::string& path, std::string_view what, std::size_t min_bytes) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return make_error(Errc::invalid_argument, fmt::format("{} {}: cannot be read", what, path));
  if (!S_ISREG(st.st_mode)) return make_error(Errc::invalid_argument, fmt::format("{} {}: not a file", what, path));
  if (st.st_mode & S_IROTH)
    return make_error(Errc::invalid_argument,
                      fmt::format("{} {}: readable by every user of this machine (chmod o-r {})", what, path, path));
  std::ifstream in(path, std::ios::binary);
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return make_error(Errc::invalid_argument, fmt::format("{} {}: cannot be read", what, path));
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.size() < min_bytes)
    return make_error(Errc::invalid_argument,
                      fmt::format("{} {}: {} bytes, at least {} are needed (openssl rand -hex 32 > {})", what, path,
                                  secret.size(), min_bytes, path));
  return secret;
}

std::string bearer(std::string_view token) { return fmt::format("Bearer {}", token); }

bool bearer_matches(std::string_view expected, std::string_view authorization) {
  if (expected.empty()) return true;
  constexpr std::string_view scheme = "Bearer ";
  if (!authorization.starts_with(scheme)) return false;
  auto given = authorization.substr(scheme.size());
  return given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

}  // namespace chord
