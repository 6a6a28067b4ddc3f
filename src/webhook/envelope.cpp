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
    key(out, "connectedSeconds");
    out += seconds_text(domain::connected_as_of(a, event.at));
    key(out, "connected");
    out += connected ? "true" : "false";
    out += '}';
  }
  out += ']';
}

}  // namespace

std::string envelope_json(const domain::PlatformEvent& event, std::uint64_t dropped_before) {
  std::string out = "{";
  string_field(out, "type", domain::to_string(event.type));
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
      string_field(out, "reason", domain::to_string(event.left_reason.value_or(domain::LeftReason::left)));
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
