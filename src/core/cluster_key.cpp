#include "chord/cluster_key.hpp"

#include <charconv>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "chord/secret_file.hpp"
#include "chord/sha256.hpp"
#include "digests.hpp"

namespace chord {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error refused(std::string_view method, std::string_view why) {
  return make_error(Errc::unauthenticated, fmt::format("{} needs the ring's cluster key: {}", method, why));
}

}  // namespace

Result<std::shared_ptr<const ClusterKey>> ClusterKey::load(const std::string& path) {
  auto secret = read_secret_file(path, "cluster key", kMinBytes);
  if (!secret) return secret.error();
  return std::shared_ptr<const ClusterKey>(std::make_shared<ClusterKey>(std::move(*secret)));
}

ClusterKey::ClusterKey(std::string secret, std::size_t remembered)
    : secret_(std::move(secret)), remembered_(std::max<std::size_t>(remembered, 1)) {}

std::string ClusterKey::mac(std::string_view method, std::int64_t ms, std::string_view nonce,
                            std::string_view body) const {
  const std::string signed_text =
      fmt::format("chord.v1\n{}\n{}\n{}\n{}", method, ms, nonce, to_hex(Sha256::of(body)));
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(digests::sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), out, &n);
  return hex_of_bytes(std::span<const std::uint8_t>(out, n));
}

std::string ClusterKey::sign(std::string_view method, std::string_view body) const {
  std::uint8_t raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no random bytes for a nonce");
  const std::string nonce = hex_of_bytes(raw);
  const std::int64_t ms = now_ms();
  return fmt::format("v1.{}.{}.{}", ms, nonce, mac(method, ms, nonce, body));
}

Result<void> ClusterKey::verify(std::string_view method, std::string_view body, std::string_view proof) const {
  if (proof.empty()) return refused(method, "the call carries no proof of it");
  // v1.<ms>.<nonce: 32 hex>.<mac: 64 hex>
  auto dot1 = proof.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : proof.find('.', dot1 + 1);
  auto dot3 = dot2 == std::string_view::npos ? dot2 : proof.find('.', dot2 + 1);
  if (proof.substr(0, dot1) != "v1" || dot3 == std::string_view::npos)
    return refused(method, "the proof is malformed");
  const auto ms_text = proof.substr(dot1 + 1, dot2 - dot1 - 1);
  const auto nonce = proof.substr(dot2 + 1, dot3 - dot2 - 1);
  const auto given = proof.substr(dot3 + 1);
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(ms_text.data(), ms_text.data() + ms_text.size(), ms);
  if (ec != std::errc() || end != ms_text.data() + ms_text.size() || nonce.size() != 32 || given.size() != 64)
    return refused(method, "the proof is malformed");
  const std::string expected = mac(method, ms, nonce, body);
  if (CRYPTO_memcmp(expected.data(), given.data(), expected.size()) != 0)
    return refused(method, "the proof does not match (another key, or a changed request)");
  const std::int64_t now = now_ms();
  const std::int64_t window = std::chrono::duration_cast<std::chrono::milliseconds>(kWindow).count();
  if (ms < now - window || ms > now + window)
    return refused(method, fmt::format("the proof is {} ms from this node's clock, more than the {} s allowed",
                                       ms - now, kWindow.count()));
  std::lock_guard lock(mu_);
  while (!by_age_.empty() && by_age_.front().first < now - window) {
    seen_.erase(by_age_.front().second);
    by_age_.pop_front();
  }
  if (ms <= forgotten_until_ms_) return refused(method, "the proof is older than the replays this node remembers");
  std::string id(nonce);
  if (!seen_.insert(id).second) return refused(method, "the proof was used before (a replay)");
  // Kept in order of arrival, which is near enough to the order of timestamps within the window.
  by_age_.emplace_back(ms, std::move(id));
  if (by_age_.size() > remembered_) {
    forgotten_until_ms_ = std::max(forgotten_until_ms_, by_age_.front().first);
    seen_.erase(by_age_.front().second);
    by_age_.pop_front();
  }
  return {};
}

}  // namespace chord
