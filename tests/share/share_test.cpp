// Shared folders below the CLI: names and words, the record format, the folder scan, and
// publishers of several holders updating the same records at once on a simulated ring.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <boost/asio/co_spawn.hpp>

#include "chord/sha256.hpp"
#include "folder_index.hpp"
#include "publisher.hpp"
#include "share_client.hpp"
#include "share_name.hpp"
#include "sim_ring.hpp"
#include "sim_ring_run.hpp"

using namespace chord;
using namespace chord::share;
namespace fs = std::filesystem;

TEST_CASE("share: names with '/', '..', NUL, over 255 bytes or empty are refused") {
  CHECK(check_name("Lecture Notes 2024.pdf"));
  CHECK(check_name("a.b.c"));
  CHECK(check_name(std::string(255, 'x')));
  CHECK_FALSE(check_name(std::string(256, 'x')));
  CHECK_FALSE(check_name(""));
  CHECK_FALSE(check_name("."));
  CHECK_FALSE(check_name(".."));
  CHECK_FALSE(check_name("a..b"));
  CHECK_FALSE(check_name("dir/file"));
  CHECK_FALSE(check_name("/etc"));
  CHECK_FALSE(check_name(std::string("a\0b", 3)));
}

TEST_CASE("share: a name's words are its runs of letters and digits, lowercased, each once") {
  CHECK(words_of("Lecture Notes_2024-notes.PDF") == std::vector<std::string>{"lecture", "notes", "2024", "pdf"});
  CHECK(words_of("a b c").empty());  // one-letter words are not indexed
  CHECK(words_of("café menu") == std::vector<std::string>{"café", "menu"});  // UTF-8 stays whole
  std::string many;
  for (int i = 0; i < 100; ++i) many += "w" + std::to_string(i) + " ";
  CHECK(words_of(many).size() == kMaxWords);
}

TEST_CASE("share: a record survives its own JSON, and anything malformed is refused whole") {
  Record r;
  r.files["notes.txt"]["grpc://127.0.0.1:1"] = Holding{12, Sha256::of("x"), 1700000000, 1900000000};
  r.files["notes.txt"]["http://127.0.0.1:2"] = Holding{13, Sha256::of("y"), 1700000001, 1900000001};
  auto back = parse_record(serialize(r));
  REQUIRE(back);
  CHECK(*back == r);
  const std::string digest = to_hex(Sha256::of("x"));
  for (const std::string& bad :
       {std::string("[]"), std::string("{}"), std::string("{\"files\":[]}"), std::string("not json"),
        "{\"files\":{\"a/b\":{\"u\":{\"size\":1,\"sha256\":\"" + digest + "\",\"mtime\":1,\"expires\":2}}}}",
        "{\"files\":{\"ok\":{\"u\":{\"size\":-1,\"sha256\":\"" + digest + "\",\"mtime\":1,\"expires\":2}}}}",
        std::string("{\"files\":{\"ok\":{\"u\":{\"size\":1,\"sha256\":\"abc\",\"mtime\":1,\"expires\":2}}}}"),
        "{\"files\":{\"ok\":{\"u\":{\"size\":1,\"sha256\":\"" + digest + "\",\"expires\":2}}}}",
        "{\"files\":{\"ok\":{\"\":{\"size\":1,\"sha256\":\"" + digest + "\",\"mtime\":1,\"expires\":2}}}}"}) {
    INFO(bad);
    auto parsed = parse_record(bad);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("share: a holder rewrites only its own entries, and expired entries of anyone drop out") {
  Record r;
  const Holding h{5, Sha256::of("hello"), 10, 1000};
  CHECK(set_holder(r, "A", {{"x.txt", h}, {"y.txt", h}}, 100));
  CHECK(set_holder(r, "B", {{"x.txt", h}}, 100));
  CHECK(r.files.at("x.txt").size() == 2);
  CHECK_FALSE(set_holder(r, "B", {{"x.txt", h}}, 100));  // the same again: no change, no write
  CHECK(set_holder(r, "A", {{"y.txt", h}}, 100));         // A no longer has x.txt
  CHECK(r.files.at("x.txt").size() == 1);
  CHECK(r.files.at("x.txt").contains("B"));
  // At 1000 everything has expired: a holder's refresh clears the dead ones out.
  Holding fresh = h;
  fresh.expires = 2000;
  CHECK(set_holder(r, "C", {{"z.txt", fresh}}, 1000));
  CHECK(r.files.size() == 1);
  CHECK(r.files.contains("z.txt"));
  CHECK(live(r, 2000).files.empty());
}

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "chord-share-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()));
    path = pattern;
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& data) const { std::ofstream(path / name, std::ios::binary) << data; }
};

}  // namespace

TEST_CASE("share: the scan indexes regular files and links inside the folder, nothing else, and hashes only what changed") {
  TempDir dir, outside;
  dir.write("a.txt", "alpha");
  dir.write(".hidden", "not shared");
  outside.write("secret", "outside");
  fs::create_directory(dir.path / "subdir");
  fs::create_symlink(outside.path / "secret", dir.path / "escape");
  fs::create_symlink("a.txt", dir.path / "alias.txt");
  fs::create_symlink("../" + dir.path.filename().string() + "/a.txt", dir.path / "roundabout");  // leaves and comes back
  dir.write("two..dots", "refused name");
  auto first = scan_folder(dir.path, FolderIndex{});
  REQUIRE(first);
  std::vector<std::string> names;
  for (const auto& [name, f] : first->files) names.push_back(name);
  CHECK(names == std::vector<std::string>{"a.txt", "alias.txt", "roundabout"});
  CHECK(first->files.at("a.txt").sha256 == Sha256::of("alpha"));
  CHECK(first->files.at("alias.txt").sha256 == Sha256::of("alpha"));
  CHECK(first->skipped.contains("escape"));
  CHECK(first->skipped.contains("two..dots"));
  CHECK_FALSE(resolve_in_folder(dir.path, "escape"));
  CHECK_FALSE(resolve_in_folder(dir.path, "../" + outside.path.filename().string() + "/secret"));

  // An unchanged file keeps its digest without being read: a wrong digest planted in the previous
  // index survives; a changed file is hashed again.
  FolderIndex planted = *first;
  planted.files.at("a.txt").sha256 = Sha256::of("planted");
  auto again = scan_folder(dir.path, planted);
  REQUIRE(again);
  CHECK(again->files.at("a.txt").sha256 == Sha256::of("planted"));
  dir.write("a.txt", "alpha, longer now");
  auto changed = scan_folder(dir.path, planted);
  REQUIRE(changed);
  CHECK(changed->files.at("a.txt").sha256 == Sha256::of("alpha, longer now"));
}

namespace {

FolderIndex index_of(const std::vector<std::pair<std::string, std::string>>& files) {
  FolderIndex index;
  for (const auto& [name, data] : files)
    index.files[name] = SharedFile{name, "/nonexistent/" + name, data.size(), 1'700'000'000'000'000'000, 1, Sha256::of(data)};
  return index;
}

}  // namespace

TEST_CASE("share: holders publishing files with common words at once all land, and a withdrawal removes only its own") {
  sim::SimRing ring{sim::RingOptions{}};
  std::mt19937_64 rng(5);
  for (int i = 0; i < 6; ++i) REQUIRE(ring.join({ring.add()}, rng) == 0);
  REQUIRE(ring.stabilize(100, true));
  const auto& nodes = ring.nodes();
  const Timeout timeout(2000);
  std::vector<std::unique_ptr<Publisher>> publishers;
  std::vector<FolderIndex> indexes;
  for (int h = 0; h < 4; ++h) {
    publishers.push_back(std::make_unique<Publisher>(*nodes[static_cast<std::size_t>(h)], nodes[static_cast<std::size_t>(h)]->self().uri,
                                                     timeout, std::chrono::seconds(600)));
    // Every holder's names share "report" and "pdf"; "common.pdf" is on all of them.
    indexes.push_back(index_of({{"report-" + std::to_string(h) + ".pdf", "data " + std::to_string(h)}, {"common.pdf", "same"}}));
  }
  std::vector<std::size_t> failed(4, 99);
  for (std::size_t h = 1; h < 4; ++h)
    boost::asio::co_spawn(ring.io(), publishers[h]->publish(indexes[h], true, std::chrono::steady_clock::time_point::max()),
                          [&failed, h](std::exception_ptr, std::size_t n) { failed[h] = n; });
  failed[0] = ring.run(publishers[0]->publish(indexes[0], true, std::chrono::steady_clock::time_point::max()));
  CHECK(failed == std::vector<std::size_t>{0, 0, 0, 0});

  auto& via = *nodes[5];
  auto found = ring.run(search(via, {"report", "pdf"}, timeout));
  REQUIRE(found);
  REQUIRE(found->size() == 4);
  for (std::size_t h = 0; h < 4; ++h) {
    CHECK((*found)[h].name == "report-" + std::to_string(h) + ".pdf");
    CHECK((*found)[h].holders == std::vector<std::string>{nodes[h]->self().uri});
  }
  auto common = ring.run(search(via, {"common.pdf"}, timeout));
  REQUIRE(common);
  REQUIRE(common->size() == 1);
  CHECK(common->front().holders.size() == 4);

  CHECK(ring.run(publishers[2]->withdraw(std::chrono::steady_clock::time_point::max())) == 0);
  auto after = ring.run(search(via, {"pdf"}, timeout));
  REQUIRE(after);
  CHECK(after->size() == 4);  // common.pdf and three reports
  for (const auto& f : *after) {
    CHECK(f.name != "report-2.pdf");
    CHECK(std::find(f.holders.begin(), f.holders.end(), nodes[2]->self().uri) == f.holders.end());
  }
}
