#include "share_name.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace chord::share {

Result<void> check_name(std::string_view name) {
  if (name.empty()) return make_error(Errc::invalid_argument, "an empty file name");
  if (name.size() > kMaxNameBytes)
    return make_error(Errc::invalid_argument, fmt::format("a file name of {} bytes (at most {})", name.size(), kMaxNameBytes));
  if (name.find('\0') != std::string_view::npos)
    return make_error(Errc::invalid_argument, "a file name with a NUL byte");
  if (name.find('/') != std::string_view::npos)
    return make_error(Errc::invalid_argument, fmt::format("'{}': a shared file's name has no '/'", name));
  if (name.find("..") != std::string_view::npos)
    return make_error(Errc::invalid_argument, fmt::format("'{}': a shared file's name has no '..'", name));
  if (name == ".") return make_error(Errc::invalid_argument, "'.' is not a file name");
  return {};
}

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (word.size() >= 2 && words.size() < kMaxWords && std::find(words.begin(), words.end(), word) == words.end())
      words.push_back(word);
    word.clear();
  };
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) word += c;
    else if (c >= 'A' && c <= 'Z') word += static_cast<char>(c - 'A' + 'a');
    else flush();
  }
  flush();
  return words;
}

std::string file_key(std::string_view name) { return fmt::format("share:file:{}", name); }
std::string word_key(std::string_view word) { return fmt::format("share:word:{}", word); }

}  // namespace chord::share
