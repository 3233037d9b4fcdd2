#include "chord/result.hpp"

namespace chord {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::unavailable: return "unavailable";
    case Errc::deadline_exceeded: return "deadline_exceeded";
    case Errc::not_found: return "not_found";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::too_large: return "too_large";
    case Errc::resource_exhausted: return "resource_exhausted";
    case Errc::not_ready: return "not_ready";
    case Errc::conflict: return "conflict";
    case Errc::precondition_failed: return "precondition_failed";
    case Errc::data_loss: return "data_loss";
    case Errc::cancelled: return "cancelled";
    case Errc::unauthenticated: return "unauthenticated";
    case Errc::internal: return "internal";
  }
  return "internal";
}

std::optional<Errc> errc_from_string(std::string_view name) {
  for (auto c : {Errc::unavailable, Errc::deadline_exceeded, Errc::not_found, Errc::invalid_argument, Errc::too_large,
                 Errc::resource_exhausted,
                 Errc::not_ready, Errc::conflict, Errc::precondition_failed, Errc::data_loss, Errc::cancelled,
                 Errc::unauthenticated, Errc::internal})
    if (to_string(c) == name) return c;
  return std::nullopt;
}

}  // namespace chord
