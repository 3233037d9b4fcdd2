#include "uri.hpp"

#include <charconv>

#include <boost/url/parse.hpp>
#include <fmt/format.h>

namespace chord::wire {

std::string Endpoint::host_port() const {
  // IPv6 literals keep their brackets so that the result parses again.
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::string scheme_of(const std::string& uri) {
  auto pos = uri.find("://");
  return pos == std::string::npos ? std::string() : uri.substr(0, pos);
}

namespace {

// A node's URI needs a real port; a listening address may say 0 (any free port).
Result<Endpoint> parse(const std::string& uri, bool port_zero_allowed) {
  auto parsed = boost::urls::parse_uri(uri);
  if (!parsed) return make_error(Errc::invalid_argument, fmt::format("'{}' is not a URI: {}", uri, parsed.error().message()));
  Endpoint e;
  e.scheme = parsed->scheme();
  // A host name is plain text: percent-encoded bytes in it decode to a name that no resolver
  // takes and that host_port() cannot write back (found by fuzz_uri).
  if (parsed->host_type() == boost::urls::host_type::name && parsed->encoded_host().contains('%'))
    return make_error(Errc::invalid_argument, fmt::format("'{}': a host name may not be percent-encoded", uri));
  e.host = parsed->host_address();
  std::string path = parsed->path();
  if (!path.empty() && path.front() == '/') path.erase(0, 1);
  e.path = path;
  if (e.scheme == "inproc") return e;
  if (e.host.empty()) return make_error(Errc::invalid_argument, fmt::format("'{}' has no host", uri));
  if (!parsed->has_port() || parsed->port().empty())
    return make_error(Errc::invalid_argument, fmt::format("'{}' has no port", uri));
  auto n = parsed->port_number();
  if (n == 0 && !(port_zero_allowed && parsed->port() == "0"))
    return make_error(Errc::invalid_argument, fmt::format("'{}' has port 0 or a port out of range", uri));
  e.port = n;
  return e;
}

}  // namespace

Result<Endpoint> parse_endpoint(const std::string& uri) { return parse(uri, false); }

Result<Endpoint> parse_host_port(const std::string& text) {
  auto r = parse("tcp://" + text, true);
  if (!r) return make_error(Errc::invalid_argument, fmt::format("'{}' is not HOST:PORT", text));
  if (!r->path.empty()) return make_error(Errc::invalid_argument, fmt::format("'{}' is not HOST:PORT", text));
  return r;
}

Result<std::string> virtual_uri(const std::string& uri, unsigned index) {
  if (index == 0) return uri;
  auto ep = parse_endpoint(uri);
  if (!ep) return ep.error();
  if (ep->scheme == "amqp" || ep->scheme == "amqps")
    return fmt::format("{}://{}/{}-v{}", ep->scheme, ep->host_port(), ep->path, index);
  if (ep->scheme == "inproc") return fmt::format("{}-v{}", uri, index);
  if (ep->port + index > 65535)
    return make_error(Errc::invalid_argument,
                      fmt::format("virtual node {} of {} would need port {}", index, uri, ep->port + index));
  Endpoint v = *ep;
  v.port = static_cast<std::uint16_t>(ep->port + index);
  return fmt::format("{}://{}{}", ep->scheme, v.host_port(), ep->path.empty() ? "" : "/" + ep->path);
}

}  // namespace chord::wire
