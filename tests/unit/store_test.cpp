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
ValueMeta meta_of(const std::string& key, const std::string& value, std::uint64_t hlc = 1) {
  return ValueMeta{key, Ring(160).hash(key), value.size(), Sha256::of(value), Version{hlc, Ring(160).hash("w")}, false};
}
Result<void> write(Store& store, const ValueMeta& meta, const std::string& value) {
  auto w = store.begin(meta);
  if (!w) return w.error();
  if (auto r = (*w)->append(value); !r) return r;
  return (*w)->commit();
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

TEST_CASE("a value written in uneven chunks reads back the same from any offset and length") {
  auto kind = GENERATE(as<std::string>{}, "memory", "disk");
  INFO(kind);
  TempDir dir;
  auto store = store_of(kind, dir);
  // Runs of small chunks (which a memory store joins into one piece) between large ones.
  std::string value;
  for (int i = 0; i < 600000; ++i) value += static_cast<char>('a' + i * 7 % 26);
  auto m = meta_of("uneven", value);
  auto w = store->begin(m);
  REQUIRE(w);
  for (std::size_t at = 0, i = 0; at < value.size(); ++i) {
    const std::size_t n = i % 40 == 39 ? 150000 : i * 37 % 3001 + 1;
    REQUIRE((*w)->append(std::string_view(value).substr(at, n)));
    at += n;
  }
  REQUIRE((*w)->commit());
  auto blob = store->open(m.key_id);
  REQUIRE(blob);
  for (std::size_t offset = 0; offset <= value.size(); offset += 997)
    for (std::size_t length : {0, 1, 5, 60, 1000, 70000, 200000, 700000}) {
      INFO("offset " << offset << ", length " << length);
      auto r = blob->read(offset, length);
      REQUIRE(r);
      CHECK(*r == value.substr(offset, length));
    }
  CHECK_FALSE(blob->read(value.size() + 1, 1));
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
  auto m2 = meta_of("k", "second!", 2);
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

TEST_CASE("a store keeps the newest version: older and equal ones are refused and change nothing") {
  auto kind = GENERATE(as<std::string>{}, "memory", "disk");
  INFO(kind);
  TempDir dir;
  auto store = store_of(kind, dir);
  REQUIRE(write(*store, meta_of("k", "v5", 5), "v5"));
  for (std::uint64_t older : {4u, 5u}) {
    auto r = write(*store, meta_of("k", "stale", older), "stale");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::conflict);
  }
  CHECK(*store->open(Ring(160).hash("k"))->read(0, 10) == "v5");
  // Two writers streaming at once: the older commits last and is refused at commit.
  auto newer = store->begin(meta_of("k", "v7", 7));
  auto older = store->begin(meta_of("k", "v6", 6));
  REQUIRE(newer);
  REQUIRE(older);
  REQUIRE((*newer)->append("v7"));
  REQUIRE((*older)->append("v6"));
  REQUIRE((*newer)->commit());
  auto late = (*older)->commit();
  REQUIRE_FALSE(late);
  CHECK(late.error().code == Errc::conflict);
  CHECK(*store->open(Ring(160).hash("k"))->read(0, 10) == "v7");
}

TEST_CASE("a tombstone outranks older versions, is listed but not counted, and survives a restart") {
  auto kind = GENERATE(as<std::string>{}, "memory", "disk");
  INFO(kind);
  TempDir dir;
  const Id id = Ring(160).hash("gone");
  {
    auto store = store_of(kind, dir);
    REQUIRE(write(*store, meta_of("gone", "value", 3), "value"));
    auto tomb = meta_of("gone", "", 4);
    tomb.deleted = true;
    REQUIRE(write(*store, tomb, ""));
    CHECK(store->count() == 0);
    CHECK(store->bytes() == 0);
    REQUIRE(store->list().size() == 1);
    CHECK(store->list()[0].deleted);
    auto back = write(*store, meta_of("gone", "value", 3), "value");  // a late copy of the old value
    REQUIRE_FALSE(back);
    CHECK(back.error().code == Errc::conflict);
    if (kind == "memory") return;
  }
  auto reopened = make_disk_store(dir.path.string());
  auto blob = reopened->open(id);
  REQUIRE(blob);
  CHECK(blob->meta().deleted);
  CHECK(blob->meta().version.hlc == 4);
  CHECK(blob->meta().version.writer == Ring(160).hash("w"));
  CHECK(reopened->count() == 0);
}
