#include "domain/types.hpp"

namespace sig::domain {

const Identity* SessionSpec::find(std::string_view user_id) const {
  for (const auto& p : participants) {
    if (p.user_id == user_id) return &p;
  }
  return nullptr;
}

std::string_view to_string(Status s) noexcept {
  switch (s) {
    case Status::waiting: return "waiting";
    case Status::started: return "started";
    case Status::ended: return "ended";
  }
  return "unknown";
}

std::string_view to_string(EndReason r) noexcept {
  switch (r) {
    case EndReason::completed: return "completed";
    case EndReason::timeout: return "timeout";
    case EndReason::host_ended: return "host_ended";
  }
  return "unknown";
}

std::string_view to_string(IceTransportPolicy p) noexcept {
  return p == IceTransportPolicy::relay ? "relay" : "all";
}

std::optional<IceTransportPolicy> ice_transport_policy_from(std::string_view text) noexcept {
  if (text == "all") return IceTransportPolicy::all;
  if (text == "relay") return IceTransportPolicy::relay;
  return std::nullopt;
}

}  // namespace sig::domain
