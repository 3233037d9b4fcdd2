// The cluster key's proofs: what verify() takes and what it refuses, and that replay protection
// stays exact when the node can remember fewer nonces than it is sent.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "chord/cluster_key.hpp"

using chord::ClusterKey;
using chord::Errc;

namespace {
const std::string kSecret(40, 'k');

std::string write_file(const std::string& name, const std::string& text, std::filesystem::perms mode) {
  auto path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path, std::ios::binary) << text;
  std::filesystem::permissions(path, mode);
  return path;
}
}  // namespace

TEST_CASE("a proof is taken once, for its own method, body and key") {
  const ClusterKey key(kSecret);
  const std::string proof = key.sign("Notify", "body bytes");
  CHECK(key.verify("Notify", "body bytes", proof));
  auto again = key.verify("Notify", "body bytes", proof);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::unauthenticated);
  CHECK_THAT(again.error().message, Catch::Contains("replay"));

  const std::string fresh = key.sign("Notify", "body bytes");
  CHECK_FALSE(key.verify("Leave", "body bytes", fresh));
  CHECK_FALSE(key.verify("Notify", "other bytes", fresh));
  CHECK_FALSE(ClusterKey(std::string(40, 'x')).verify("Notify", "body bytes", fresh));
  // A refusal for a mismatch does not spend the nonce: the right call still goes through.
  CHECK(key.verify("Notify", "body bytes", fresh));
}

TEST_CASE("malformed proofs are refused as unauthenticated") {
  const ClusterKey key(kSecret);
  const std::string good = key.sign("Ping", "");
  const std::vector<std::string> bad = {
      "", "v1", "v1...", "v2" + good.substr(2), good.substr(0, good.size() - 1), good + "0",
      "v1.x." + good.substr(good.find('.', 3) + 1), "v1.-1.00000000000000000000000000000000." + std::string(64, '0'),
      std::string(10000, '.')};
  for (const auto& proof : bad) {
    auto r = key.verify("Ping", "", proof);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::unauthenticated);
  }
}

TEST_CASE("with room for 4 nonces, none of 12 proofs can be replayed") {
  const ClusterKey key(kSecret, 4);
  std::vector<std::string> proofs;
  // A millisecond apart: a node refuses proofs no newer than the last one it had to forget.
  for (int i = 0; i < 12; ++i) {
    proofs.push_back(key.sign("GetPredecessor", ""));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (const auto& p : proofs) CHECK(key.verify("GetPredecessor", "", p));
  for (const auto& p : proofs) CHECK_FALSE(key.verify("GetPredecessor", "", p));
}

TEST_CASE("a key file must be long enough and not readable by others") {
  using std::filesystem::perms;
  auto open_to_all = write_file("chord-key-test-a", std::string(64, 'a'), perms::owner_read | perms::owner_write | perms::others_read);
  auto r = ClusterKey::load(open_to_all);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("chmod o-r"));

  auto short_key = write_file("chord-key-test-b", std::string(31, 'b') + "\n", perms::owner_read | perms::owner_write);
  r = ClusterKey::load(short_key);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("at least 32"));

  CHECK_FALSE(ClusterKey::load("/nonexistent/chord.key"));

  // The trailing newline an editor or `openssl rand -hex 32 >` leaves is not part of the key.
  auto good = write_file("chord-key-test-c", kSecret + "\n", perms::owner_read | perms::owner_write);
  auto loaded = ClusterKey::load(good);
  REQUIRE(loaded);
  CHECK(ClusterKey(kSecret).verify("Ping", "", (*loaded)->sign("Ping", "")));
  for (const auto& p : {open_to_all, short_key, good}) std::remove(p.c_str());
}
