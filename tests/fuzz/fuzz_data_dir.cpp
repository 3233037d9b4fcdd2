// A --data-dir as a node finds it at start: value files written by this or an older version,
// or damaged. The input becomes one value file; the store opens the directory, lists what it
// holds and reads each value back. A damaged file is skipped, never a crash.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "chord/store.hpp"

namespace {
const std::filesystem::path& directory() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("chord-fuzz-data-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fs = std::filesystem;
  const auto& dir = directory();
  for (auto& e : fs::directory_iterator(dir)) fs::remove_all(e.path());
  {
    std::ofstream out(dir / "00000000000000000000000000000000000000aa.value", std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::unique_ptr<chord::Store> store;
  try {
    store = chord::make_disk_store(dir.string());
  } catch (const std::exception&) {
    return 0;  // refused as a whole, with a message: fine
  }
  for (const auto& meta : store->list()) {
    if (auto blob = store->open(meta.key_id)) (void)blob->read(0, 1 << 16);
  }
  return 0;
}
