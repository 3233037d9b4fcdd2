#pragma once
// Errors over HTTP, for the REST transport and the user API alike: a status plus a JSON body
// {"code","message"} whose code is the Errc's name, so that a client gets the exact error back.
#include <string>

#include <boost/beast/http/status.hpp>

#include "chord/result.hpp"

namespace chord::rest {

namespace http = boost::beast::http;

http::status status_of(Errc code);
std::string error_body(const Error& e);
// The error a non-2xx response carries: its JSON code when there is one, else the status's.
Errc errc_of(unsigned status, const std::string& body, std::string* message);

}  // namespace chord::rest
