#pragma once
// TLS between nodes and from clients (issue 14): every transport takes the same three PEM files,
// a certificate, its private key and the CA that signed every certificate of the ring, and
// verifies both ends against that CA (mutual TLS). A node with them serves grpcs://, https://
// or amqps:// and its clients reach those schemes.
#include <memory>
#include <string>

#include "chord/result.hpp"

namespace chord {

struct TlsFiles {
  std::string cert;  // this end's certificate chain (PEM)
  std::string key;   // its private key (PEM); the file must not be readable by others
  std::string ca;    // the CA every peer's certificate must chain to (PEM)
  bool empty() const { return cert.empty() && key.empty() && ca.empty(); }
};

struct TlsConfig {
  TlsFiles files;  // for libraries that take paths (rabbitmq-c)
  std::string cert_pem;
  std::string key_pem;
  std::string ca_pem;
  // Reads and checks the three files: each parses, the key is the certificate's, and the
  // certificate chains to the CA, so that a mistake shows at start and not at the first call.
  // All three or none: an empty TlsFiles gives null.
  static Result<std::shared_ptr<const TlsConfig>> load(const TlsFiles& files);
};

// The scheme a transport's URIs take with TLS on or off: grpc/grpcs, http/https, amqp/amqps.
std::string transport_scheme(const std::string& transport, bool tls);
// The transport a URI scheme names, either way: grpc, rest, amqp (inproc and others as they are).
std::string transport_of_scheme(const std::string& scheme);

}  // namespace chord
