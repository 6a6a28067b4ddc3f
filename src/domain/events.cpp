#include "domain/events.hpp"

#include <algorithm>

#include "domain/types.hpp"

namespace sig::domain {

std::string_view to_string(EventType t) noexcept {
  switch (t) {
    case EventType::session_started: return "session.started";
    case EventType::session_ended: return "session.ended";
    case EventType::participant_joined: return "participant.joined";
    case EventType::participant_left: return "participant.left";
    case EventType::participant_reconnecting: return "participant.reconnecting";
    case EventType::participant_reconnected: return "participant.reconnected";
  }
  return "unknown";
}

std::string_view to_string(LeftReason r) noexcept {
  switch (r) {
    case LeftReason::left: return "left";
    case LeftReason::disconnected: return "disconnected";
    case LeftReason::heartbeat_timeout: return "heartbeat_timeout";
    case LeftReason::removed: return "removed";
    case LeftReason::replaced: return "replaced";
    case LeftReason::session_ended: return "session_ended";
  }
  return "unknown";
}

LeftReason left_reason(LeaveCause cause) noexcept {
  switch (cause) {
    case LeaveCause::left: return LeftReason::left;
    case LeaveCause::closed: return LeftReason::disconnected;
    case LeaveCause::heartbeat_timeout: return LeftReason::heartbeat_timeout;
    case LeaveCause::replaced: return LeftReason::replaced;
    case LeaveCause::removed: return LeftReason::removed;
  }
  return LeftReason::disconnected;
}

std::chrono::milliseconds connected_as_of(const AttendanceRecord& r, WallTime now) noexcept {
  auto total = r.connected;
  // A wall clock stepped back since the interval opened counts nothing rather than a negative.
  if (r.connected_since && now > *r.connected_since)
    total += std::chrono::duration_cast<std::chrono::milliseconds>(now - *r.connected_since);
  return total;
}

}  // namespace sig::domain
