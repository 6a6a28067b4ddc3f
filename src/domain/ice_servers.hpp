#pragma once
// The ICE servers the server hands to its clients (`iceServers` of `joined` and `ice-servers`):
// STUN URIs as they are, TURN URIs with short-lived credentials of the TURN REST API (see
// auth/turn_credentials.hpp), in the W3C RTCIceServer shape, ready for RTCPeerConnection.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.hpp"
#include "domain/types.hpp"

namespace sig::domain {

struct IceSettings {
  std::vector<std::string> stun_uris;  // stun:host[:port] or stuns:host[:port]
  std::vector<std::string> turn_uris;  // turn:/turns:host[:port][?transport=udp|tcp]
  std::string turn_secret;             // coturn's static-auth-secret; required with turn_uris
  Millis turn_ttl{std::chrono::hours(4)};
  IceTransportPolicy default_policy = IceTransportPolicy::all;

  bool empty() const noexcept { return stun_uris.empty() && turn_uris.empty(); }
  // When a connected participant gets fresh TURN credentials: at 80 % of the TTL, so that a
  // client that allocates a relay late (an ICE restart, a new peer) still holds valid ones.
  // Zero: never (no TURN configured).
  Millis refresh_after() const noexcept;
};

// Why `uri` is not a STUN (turn == false) or TURN (turn == true) URI of RFC 7064 / RFC 7065,
// or nothing when it is one. Host names, IPv4 and bracketed IPv6 literals; ports 1..65535.
std::optional<std::string> check_ice_uri(std::string_view uri, bool turn);

// The JSON array of RTCIceServer for `user_id` at wall time `now`: one entry with every STUN
// URI, then one entry with every TURN URI and credentials that expire at now + turn_ttl.
// Empty text when nothing is configured (then `joined` has no iceServers field).
std::string ice_servers_json(const IceSettings& settings, std::string_view user_id, WallTime now);

}  // namespace sig::domain
