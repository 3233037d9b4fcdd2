#include "digests.hpp"

namespace chord::digests {

namespace {
// Kept for the process. Without the provider's implementation (a FIPS-only build may lack
// SHA-1), the legacy object still works, at the old cost.
const EVP_MD* fetched(const char* name, const EVP_MD* legacy) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md ? md : legacy;
}
}  // namespace

const EVP_MD* sha1() {
  static const EVP_MD* md = fetched("SHA1", EVP_sha1());
  return md;
}

const EVP_MD* sha256() {
  static const EVP_MD* md = fetched("SHA256", EVP_sha256());
  return md;
}

}  // namespace chord::digests
