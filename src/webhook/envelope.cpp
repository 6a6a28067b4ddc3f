#include "webhook/envelope.hpp"

#include "common/json_text.hpp"
#include "common/time.hpp"

namespace sig::webhook {
namespace {

void key(std::string& out, std::string_view name) {
  if (out.back() != '{') out += ',';
  append_json_string(out, name);
  out += ':';
}

void string_field(std::string& out, std::string_view name, std::string_view value) {
  key(out, name);
  append_json_string(out, value);
}

void time_field(std::string& out, std::string_view name, const std::optional<domain::WallTime>& t) {
  key(out, name);
  if (t) {
    append_json_string(out, format_iso8601(*t));
  } else {
    out += "null";
  }
}

// Milliseconds as seconds with three decimals ("12.345"), without going through a double.
std::string seconds_text(std::chrono::milliseconds d) {
  const auto ms = d.count() < 0 ? 0 : d.count();
  std::string frac = std::to_string(ms % 1000);
  frac.insert(0, 3 - frac.size(), '0');
  return std::to_string(ms / 1000) + "." + frac;
}

void attendance(std::string& out, const domain::PlatformEvent& event) {
  key(out, "attendance");
  out += '[';
  bool first = true;
  for (const auto& a : event.attendance) {
    if (!first) out += ',';
    first = false;
    out += '{';
    string_field(out, "userId", a.user_id);
    string_field(out, "displayName", a.display_name);
    time_field(out, "firstJoinedAt", a.first_joined);
    // An interval still open (a participant connected as the session ends) counts up to the
    // event's time; the domain normally closes them first (participant.left, session_ended).
    const bool connected = a.connected_since.has_value();
    time_field(out, "lastLeftAt", connected ? std::nullopt : a.last_left);
    key(out, "connections");
    out += std::to_string(a.connections);
    auto total = a.connected;
    if (connected && event.at > *a.connected_since) {
      total += std::chrono::duration_cast<std::chrono::milliseconds>(event.at - *a.connected_since);
    }
    key(out, "connectedSeconds");
    out += seconds_text(total);
    key(out, "connected");
    out += connected ? "true" : "false";
    out += '}';
  }
  out += ']';
}

}  // namespace

std::string_view type_name(domain::EventType type) noexcept {
  switch (type) {
    case domain::EventType::session_started: return "session.started";
    case domain::EventType::session_ended: return "session.ended";
    case domain::EventType::participant_joined: return "participant.joined";
    case domain::EventType::participant_left: return "participant.left";
    case domain::EventType::participant_reconnecting: return "participant.reconnecting";
    case domain::EventType::participant_reconnected: return "participant.reconnected";
  }
  return "unknown";
}

std::string_view left_reason_name(domain::LeftReason reason) noexcept {
  switch (reason) {
    case domain::LeftReason::left: return "left";
    case domain::LeftReason::disconnected: return "disconnected";
    case domain::LeftReason::heartbeat_timeout: return "heartbeat_timeout";
    case domain::LeftReason::removed: return "removed";
    case domain::LeftReason::replaced: return "replaced";
    case domain::LeftReason::session_ended: return "session_ended";
  }
  return "unknown";
}

std::string envelope_json(const domain::PlatformEvent& event, std::uint64_t dropped_before) {
  std::string out = "{";
  string_field(out, "type", type_name(event.type));
  string_field(out, "timestamp", format_iso8601(event.at));
  key(out, "data");
  out += '{';
  string_field(out, "sessionId", event.session_id);
  switch (event.type) {
    case domain::EventType::session_started:
      time_field(out, "startedAt", event.started_at ? event.started_at : std::optional(event.at));
      break;
    case domain::EventType::session_ended:
      string_field(out, "reason", event.end_reason);
      time_field(out, "startedAt", event.started_at);
      time_field(out, "endedAt", event.ended_at ? event.ended_at : std::optional(event.at));
      attendance(out, event);
      break;
    case domain::EventType::participant_left:
      string_field(out, "userId", event.user_id);
      string_field(out, "displayName", event.display_name);
      string_field(out, "reason", left_reason_name(event.left_reason.value_or(domain::LeftReason::left)));
      break;
    case domain::EventType::participant_joined:
    case domain::EventType::participant_reconnecting:
    case domain::EventType::participant_reconnected:
      string_field(out, "userId", event.user_id);
      string_field(out, "displayName", event.display_name);
      break;
  }
  out += '}';
  if (dropped_before > 0) {
    key(out, "droppedBefore");
    out += std::to_string(dropped_before);
  }
  out += '}';
  return out;
}

}  // namespace sig::webhook
