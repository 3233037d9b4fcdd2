#pragma once
// Names of shared files and the ring keys their records live under. A name travels as a key and
// becomes a file name on another machine, so only plain names of one folder level pass.
#include <string>
#include <string_view>
#include <vector>

#include "chord/result.hpp"

namespace chord::share {

inline constexpr std::size_t kMaxNameBytes = 255;  // NAME_MAX of Linux file systems
inline constexpr std::size_t kMaxWords = 32;       // words of one name that get an index entry

// Refuses an empty name, one over 255 bytes, or one with '/', NUL or "..".
Result<void> check_name(std::string_view name);

// The words a name is found by: runs of letters, digits and non-ASCII bytes (UTF-8 stays whole),
// ASCII lowercased, of 2 bytes or more, each once, in order, at most kMaxWords.
std::vector<std::string> words_of(std::string_view text);

// The record of the holders of one file name, and the index entry of one word.
std::string file_key(std::string_view name);
std::string word_key(std::string_view word);

}  // namespace chord::share
