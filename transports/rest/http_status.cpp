#include "http_status.hpp"

#include <boost/json.hpp>

namespace chord::rest {

http::status status_of(Errc code) {
  switch (code) {
    case Errc::unavailable: return http::status::bad_gateway;  // a peer behind this node failed
    case Errc::deadline_exceeded: return http::status::gateway_timeout;
    case Errc::not_found: return http::status::not_found;
    case Errc::invalid_argument: return http::status::bad_request;
    case Errc::too_large: return http::status::payload_too_large;
    case Errc::resource_exhausted: return http::status::service_unavailable;
    case Errc::not_ready: return http::status::service_unavailable;
    case Errc::conflict: return http::status::conflict;
    case Errc::precondition_failed: return http::status::precondition_failed;
    case Errc::data_loss: return http::status::unprocessable_entity;  // the body is not what it claims
    case Errc::cancelled: return http::status::service_unavailable;
    case Errc::unauthenticated: return http::status::unauthorized;
    case Errc::internal: return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

std::string error_body(const Error& e) {
  return boost::json::serialize(boost::json::object{{"code", to_string(e.code)}, {"message", e.message}});
}

Errc errc_of(unsigned status, const std::string& body, std::string* message) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.as_object();
    if (message && o.contains("message") && o.at("message").is_string()) *message = o.at("message").as_string().c_str();
    if (o.contains("code") && o.at("code").is_string())
      if (auto c = errc_from_string(o.at("code").as_string().c_str())) return *c;
  }
  switch (status) {
    case 400: return Errc::invalid_argument;
    case 401: case 403: return Errc::unauthenticated;
    case 404: case 405: return Errc::not_found;
    case 409: return Errc::conflict;
    case 422: return Errc::data_loss;
    case 413: return Errc::too_large;
    case 503: return Errc::unavailable;
    case 504: return Errc::deadline_exceeded;
    default: return Errc::internal;
  }
}

}  // namespace chord::rest
