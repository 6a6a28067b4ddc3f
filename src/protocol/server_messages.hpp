#pragma once
// The messages the server sends (docs/protocol.md section 2), written straight into strings.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/codes.hpp"

namespace sig::protocol {

struct PeerRef {
  std::string_view user_id;
  std::string_view display_name;
};

struct JoinedInfo {
  std::string_view session_id;
  PeerRef self;
  std::span<const PeerRef> participants;
  std::string_view host_user_id;
  bool started = false;
  std::string_view started_at;  // ISO-8601, when started
  long long heartbeat_interval_ms = 15000;
  std::string_view ice_servers;           // a JSON array of RTCIceServer; empty: no iceServers field
  std::string_view ice_transport_policy;  // "all" or "relay"; empty: no iceTransportPolicy field
  std::string_view resume_id;             // empty: no resumeId field
  bool resumed = false;                   // this joined resumes the connection named by resumeId
};

std::string joined(const JoinedInfo& info);
std::string participant_joined(PeerRef who);
std::string participant_left(std::string_view user_id);
// A participant's connection was lost; it keeps its place for the resume window.
std::string participant_reconnecting(std::string_view user_id);
// It came back with its resumeId: nothing else changes (no left, no joined).
std::string participant_reconnected(std::string_view user_id);
std::string session_started(std::string_view started_at);
std::string session_ended(std::string_view reason);
// {"type":"ice-servers","iceServers":<array>}: fresh TURN credentials before the old ones expire.
std::string ice_servers(std::string_view array_json);
std::string heartbeat_ack(std::optional<double> ts);
std::string error(ErrorCode code, std::string_view message, std::string_view to_user_id = {});

// The tail the server appends to a relayed message: `,"fromUserId":"<id>"}`. Computed once per
// connection.
std::string from_user_suffix(std::string_view user_id);

// The relayed form of a client's message: its bytes up to the closing brace, then the suffix.
// The message must be a JSON object that a parser accepted; trailing white space is dropped.
std::string relayed(std::string_view message, std::string_view from_suffix);

}  // namespace sig::protocol
