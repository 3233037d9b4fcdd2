#include "chord/tls.hpp"

#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "chord/secret_file.hpp"

namespace chord {

namespace {

Result<std::string> read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::invalid_argument, fmt::format("{} {}: cannot be read", what, path));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string openssl_reason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "not PEM";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
Bio bio_of(const std::string& pem) { return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free); }

}  // namespace

Result<std::shared_ptr<const TlsConfig>> TlsConfig::load(const TlsFiles& files) {
  if (files.empty()) return std::shared_ptr<const TlsConfig>();
  if (files.cert.empty() || files.key.empty() || files.ca.empty())
    return make_error(Errc::invalid_argument,
                      "TLS needs all three of --tls-cert, --tls-key and --tls-ca (a certificate, its key, and the CA "
                      "that signed every certificate of the ring)");
  auto config = std::make_shared<TlsConfig>();
  config->files = files;
  auto cert = read_file(files.cert, "TLS certificate");
  if (!cert) return cert.error();
  auto key = read_secret_file(files.key, "TLS key", 1);
  if (!key) return key.error();
  auto ca = read_file(files.ca, "TLS CA");
  if (!ca) return ca.error();
  config->cert_pem = std::move(*cert);
  config->key_pem = std::move(*key) + "\n";
  config->ca_pem = std::move(*ca);

  ERR_clear_error();
  std::unique_ptr<X509, decltype(&X509_free)> x509(PEM_read_bio_X509(bio_of(config->cert_pem).get(), nullptr, nullptr, nullptr), &X509_free);
  if (!x509) return make_error(Errc::invalid_argument, fmt::format("TLS certificate {}: {}", files.cert, openssl_reason()));
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      PEM_read_bio_PrivateKey(bio_of(config->key_pem).get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!pkey) return make_error(Errc::invalid_argument, fmt::format("TLS key {}: {}", files.key, openssl_reason()));
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) {
    ERR_clear_error();
    return make_error(Errc::invalid_argument,
                      fmt::format("TLS key {} is not the key of the certificate {}", files.key, files.cert));
  }
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  auto ca_bio = bio_of(config->ca_pem);
  int cas = 0;
  while (X509* c = PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store.get(), c);
    X509_free(c);
    ++cas;
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (cas == 0) return make_error(Errc::invalid_argument, fmt::format("TLS CA {}: no PEM certificate in it", files.ca));
  // A certificate file may carry intermediate CAs after the node's own: they complete the chain.
  auto free_stack = [](STACK_OF(X509)* s) { sk_X509_pop_free(s, X509_free); };
  std::unique_ptr<STACK_OF(X509), decltype(free_stack)> chain(sk_X509_new_null(), free_stack);
  auto cert_bio = bio_of(config->cert_pem);
  if (X509* leaf = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) X509_free(leaf);
  while (X509* c = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) sk_X509_push(chain.get(), c);
  ERR_clear_error();
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), &X509_STORE_CTX_free);
  if (X509_STORE_CTX_init(ctx.get(), store.get(), x509.get(), chain.get()) != 1)
    return make_error(Errc::internal, "TLS: cannot check the certificate's chain (out of memory?)");
  if (X509_verify_cert(ctx.get()) != 1)
    return make_error(Errc::invalid_argument,
                      fmt::format("TLS certificate {} does not chain to the CA {}: {}", files.cert, files.ca,
                                  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
  return std::shared_ptr<const TlsConfig>(std::move(config));
}

std::string transport_scheme(const std::string& transport, bool tls) {
  std::string plain = transport == "rest" ? "http" : transport;
  return tls ? plain + "s" : plain;
}

std::string transport_of_scheme(const std::string& scheme) {
  if (scheme == "http" || scheme == "https") return "rest";
  if (scheme == "grpcs" || scheme == "amqps") return scheme.substr(0, scheme.size() - 1);
  return scheme;
}

}  // namespace chord
