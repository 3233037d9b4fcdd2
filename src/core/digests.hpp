#pragma once
// The OpenSSL 3 digests of the ring, fetched from the provider once. EVP_sha1() and EVP_sha256()
// hand out legacy objects that every EVP_DigestInit looks up again in the provider store (a lock
// and a search): more than the hash of a URI costs, and a lookup step checks the id of every
// node its answer names.
#include <openssl/evp.h>

namespace chord::digests {

const EVP_MD* sha1();
const EVP_MD* sha256();

}  // namespace chord::digests
