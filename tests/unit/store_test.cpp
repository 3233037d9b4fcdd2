#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "chord/sha256.hpp"
#include "chord/store.hpp"

using namespace chord;
namespace fs = std::filesystem;

namespace {

// A fresh directory for a disk store, removed afterwards.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("chord-store-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  TempDir() { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
  static inline int counter = 0;
};

std::unique_ptr<Store> store_of(const std::string& kind, const TempDir& dir) {
  return kind == "memory" ? make_memory_store() : make_disk_store(dir.path.string());
}
ValueMeta meta_of(const std::string& key, const std::string& value) {
  return ValueMeta{key, Ring(160).hash(key), value.size(), Sha256::of(value)};
}
}  // namespace

TEST_CASE("SHA-256 of a known input") {
  CHECK(to_hex(Sha256::of("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update("a");
  h.update("bc");
  CHECK(h.finish() == Sha256::of("abc"));
}

TEST_CASE("a value becomes visible only when committed whole") {
  auto kind = GENERATE(as<std::string>{}, "memory", "disk");
  INFO(kind);
  TempDir dir;
  auto store = store_of(kind, dir);
  auto m = meta_of("k", "hello world");
  auto w = store->begin(m);
  REQUIRE(w);
  REQUIRE((*w)->append("hello "));
  CHECK_FALSE(store->open(m.key_id));
  REQUIRE((*w)->append("world"));
  REQUIRE((*w)->commit());
  auto blob = store->open(m.key_id);
  REQUIRE(blob);
  CHECK(*blob->read(0, 100) == "hello world");
  CHECK(*blob->read(6, 3) == "wor");
  CHECK_FALSE(blob->read(12, 1));
  CHECK(store->count() == 1);
  CHECK(store->bytes() == 11);
}

TEST_CASE("a value with the wrong digest or size is refused and changes nothing") {
  auto kind = GENERATE(as<std::string>{}, "memory", "disk");
  INFO(kind);
  TempDir dir;
  auto store = store_of(kind, dir);
  auto m = meta_of("k", "right");
  {
    auto w = store->begin(m);
    REQUIRE((*w)->append("wrong"));
    auto r = (*w)->commit();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::data_loss);
  }
  {
    auto w = store->begin(m);
    REQUIRE((*w)->append("rig"));
    CHECK_FALSE((*w)->commit());
    CHECK_FALSE((*w)->append("htXX"));  // longer than announced
  }
  CHECK(store->count() == 0);
  CHECK(store->version() == 0);
}

TEST_CASE("a reader keeps its snapshot while the value is replaced") {
  auto kind = GENERATE(as<std::string>{}, "memory", "disk");
  INFO(kind);
  TempDir dir;
  auto store = store_of(kind, dir);
  auto m1 = meta_of("k", "first");
  auto w1 = store->begin(m1);
  REQUIRE((*w1)->append("first"));
  REQUIRE((*w1)->commit());
  auto snapshot = store->open(m1.key_id);
  auto m2 = meta_of("k", "second!");
  auto w2 = store->begin(m2);
  REQUIRE((*w2)->append("second!"));
  REQUIRE((*w2)->commit());
  CHECK(*snapshot->read(0, 100) == "first");
  CHECK(*store->open(m1.key_id)->read(0, 100) == "second!");
  CHECK(store->bytes() == 7);
  CHECK(store->erase(m1.key_id));
  CHECK_FALSE(store->erase(m1.key_id));
  CHECK(store->count() == 0);
}

TEST_CASE("a disk store keeps its values across a restart and ignores damaged files") {
  TempDir dir;
  auto m = meta_of("kept", "survives a restart");
  {
    auto store = make_disk_store(dir.path.string());
    auto w = store->begin(m);
    REQUIRE((*w)->append("survives a restart"));
    REQUIRE((*w)->commit());
    auto torn = store->begin(meta_of("torn", "never finished"));
    REQUIRE((*torn)->append("never"));
    // destroyed without commit: a crash mid-write
  }
  std::ofstream(dir.path / "0000000000000000000000000000000000000000.value") << "garbage";
  auto store = make_disk_store(dir.path.string());
  CHECK(store->count() == 1);
  auto blob = store->open(m.key_id);
  REQUIRE(blob);
  CHECK(blob->meta().key == "kept");
  CHECK(*blob->read(0, 100) == "survives a restart");
  // File names come from key ids, never from the key's text.
  for (const auto& e : fs::directory_iterator(dir.path))
    CHECK(e.path().filename().string().find("kept") == std::string::npos);
}
