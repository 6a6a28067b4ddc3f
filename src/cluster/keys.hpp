#pragma once
// The Redis layout of the several-node mode (docs/deployment.md, "Redis layout").
#include <string>
#include <string_view>

namespace sig::cluster::keys {

inline std::string cat(std::string_view a, std::string_view b) {
  std::string s;
  s.reserve(a.size() + b.size());
  s.append(a);
  s.append(b);
  return s;
}

// The session directory entry: hash (hostUserId, participants JSON, durationSeconds, status,
// createdAt, startedAt, endedAt, endReason, joinSeq).
inline std::string dir(std::string_view session_id) {
  return cat("session:dir:", session_id);
}
// The user story's hash: userId -> connection id (`<node-id>:<counter>`). TTL 1800 s.
inline std::string ws(std::string_view session_id) {
  return cat("session:ws:", session_id);
}
// Beside it: userId -> `<seq>|<displayName>` of the connected participant. Same TTL.
inline std::string peers(std::string_view session_id) {
  return cat("session:peers:", session_id);
}
// Beside it: userId -> the resumeId of its incarnation (docs/protocol.md, "Resume"). Same TTL.
inline std::string resume(std::string_view session_id) {
  return cat("session:resume:", session_id);
}
// Attendance: userId -> JSON {"n","f","l","c","t","s","r"} (docs/deployment.md). No TTL while the
// session lives (like the directory entry it belongs to); expires with the ended entry after the
// retention (GET and session.ended need it after the presence keys are gone); deleted with it.
inline std::string attendance(std::string_view session_id) {
  return cat("session:attendance:", session_id);
}
// The user story's string: epoch milliseconds of the last heartbeat. TTL 45 s.
inline std::string heartbeat(std::string_view session_id, std::string_view user_id) {
  return cat(cat("session:heartbeat:", session_id), cat(":", user_id));
}
inline std::string heartbeat_prefix(std::string_view session_id) {
  return cat(cat("session:heartbeat:", session_id), ":");
}
// A node's liveness: refreshed every third of --node-ttl, expires after it.
inline std::string alive(std::string_view node_id) {
  return cat(cat("signaling:node:", node_id), ":alive");
}

// Pub/sub: directed delivery to one node, and one channel per session for its events.
inline std::string node_channel(std::string_view node_id) {
  return cat("signaling:node:", node_id);
}
inline constexpr std::string_view kSessionChannelPrefix = "signaling:session:";
inline std::string session_channel(std::string_view session_id) {
  return cat(kSessionChannelPrefix, session_id);
}
inline constexpr std::string_view kDirPrefix = "session:dir:";

// The node of a connection id `<node-id>:<counter>`.
inline std::string_view node_of(std::string_view connection_id) {
  const auto colon = connection_id.rfind(':');
  return colon == std::string_view::npos ? std::string_view{} : connection_id.substr(0, colon);
}

}  // namespace sig::cluster::keys
