#include "data_dir_age.hpp"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace chord::cli {

namespace fs = std::filesystem;

namespace {
fs::path stamp_of(const std::string& dir) { return fs::path(dir) / "last-up"; }
}  // namespace

Result<void> check_data_dir_age(const std::string& dir, std::chrono::seconds grace) {
  std::error_code ec;
  const auto at = fs::last_write_time(stamp_of(dir), ec);
  if (ec) return {};  // a new data dir, or one from before the stamp: nothing to judge by
  const auto down = std::chrono::duration_cast<std::chrono::seconds>(fs::file_time_type::clock::now() - at);
  if (down <= grace) return {};
  return make_error(Errc::invalid_argument,
                    fmt::format("data dir {} was last used {} s ago, longer than --tombstone-grace ({} s): values "
                                "deleted meanwhile could come back. Move it away and start with an empty data dir "
                                "(the ring still holds its keys), or raise --tombstone-grace on every node",
                                dir, down.count(), grace.count()));
}

void mark_data_dir_up(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream(stamp_of(dir), std::ios::trunc) << "chordnode\n";
  fs::last_write_time(stamp_of(dir), fs::file_time_type::clock::now(), ec);
}

}  // namespace chord::cli
