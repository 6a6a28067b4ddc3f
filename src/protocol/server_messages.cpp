#include "protocol/server_messages.hpp"

#include <charconv>
#include <cmath>

#include "common/json_text.hpp"

namespace sig::protocol {

namespace {

void append_peer(std::string& out, PeerRef p) {
  out += R"({"userId":)";
  append_json_string(out, p.user_id);
  out += R"(,"displayName":)";
  append_json_string(out, p.display_name);
  out.push_back('}');
}

void append_number(std::string& out, double v) {
  char buf[32];
  std::to_chars_result r{};
  if (std::trunc(v) == v && std::fabs(v) < 9.007199254740992e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
  } else if (std::fabs(v) >= 1e15) {
    // Large magnitudes in scientific form: the shortest form may otherwise be a plain integer of
    // 20+ digits, which parsers that keep integers exact (simdjson: a big integer) refuse.
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v);
  }
  out.append(buf, r.ptr);
}

// `{"type":"...","<field>":` (the head) followed by one JSON string value and the closing brace.
std::string one_string_message(std::string_view head, std::string_view value) {
  std::string out(head);
  append_json_string(out, value);
  out.push_back('}');
  return out;
}

}  // namespace

std::string joined(const JoinedInfo& info) {
  std::string out;
  out.reserve(160 + info.participants.size() * 64);
  out += R"({"type":"joined","sessionId":)";
  append_json_string(out, info.session_id);
  out += R"(,"self":)";
  append_peer(out, info.self);
  out += R"(,"participants":[)";
  bool first = true;
  for (const auto& p : info.participants) {
    if (!first) out.push_back(',');
    first = false;
    append_peer(out, p);
  }
  out += R"(],"hostUserId":)";
  append_json_string(out, info.host_user_id);
  out += R"(,"status":)";
  out += info.started ? R"("started")" : R"("waiting")";
  if (info.started) {
    out += R"(,"startedAt":)";
    append_json_string(out, info.started_at);
  }
  out += R"(,"heartbeatIntervalMs":)";
  out += std::to_string(info.heartbeat_interval_ms);
  if (!info.ice_servers.empty()) {
    out += R"(,"iceServers":)";
    out += info.ice_servers;  // built by the server (domain/ice_servers.cpp), valid JSON
  }
  if (!info.ice_transport_policy.empty()) {
    out += R"(,"iceTransportPolicy":)";
    append_json_string(out, info.ice_transport_policy);
  }
  if (!info.resume_id.empty()) {
    out += R"(,"resumeId":)";
    append_json_string(out, info.resume_id);
  }
  out += info.resumed ? R"(,"resumed":true})" : R"(,"resumed":false})";
  return out;
}

std::string ice_servers(std::string_view array_json) {
  std::string out = R"({"type":"ice-servers","iceServers":)";
  out += array_json;
  out.push_back('}');
  return out;
}

std::string participant_joined(PeerRef who) {
  std::string out = R"({"type":"participant-joined","participant":)";
  append_peer(out, who);
  out.push_back('}');
  return out;
}

std::string participant_left(std::string_view user_id) {
  return one_string_message(R"({"type":"participant-left","userId":)", user_id);
}

std::string participant_reconnecting(std::string_view user_id) {
  return one_string_message(R"({"type":"participant-reconnecting","userId":)", user_id);
}

std::string participant_reconnected(std::string_view user_id) {
  return one_string_message(R"({"type":"participant-reconnected","userId":)", user_id);
}

std::string session_started(std::string_view started_at) {
  return one_string_message(R"({"type":"session-started","startedAt":)", started_at);
}

std::string session_ended(std::string_view reason) {
  return one_string_message(R"({"type":"session-ended","reason":)", reason);
}

std::string heartbeat_ack(std::optional<double> ts) {
  if (!ts) return R"({"type":"heartbeat-ack"})";
  std::string out = R"({"type":"heartbeat-ack","ts":)";
  append_number(out, *ts);
  out.push_back('}');
  return out;
}

std::string error(ErrorCode code, std::string_view message, std::string_view to_user_id) {
  std::string out = R"({"type":"error","code":)";
  append_json_string(out, to_string(code));
  out += R"(,"message":)";
  append_json_string(out, message);
  if (!to_user_id.empty()) {
    out += R"(,"toUserId":)";
    append_json_string(out, to_user_id);
  }
  out.push_back('}');
  return out;
}

std::string from_user_suffix(std::string_view user_id) {
  std::string out = R"(,"fromUserId":)";
  append_json_string(out, user_id);
  out.push_back('}');
  return out;
}

std::string relayed(std::string_view message, std::string_view from_suffix) {
  std::size_t end = message.size();
  while (end > 0 && message[end - 1] != '}')
    --end;  // white space after the object
  std::string out;
  if (end == 0) return out;
  out.reserve(end - 1 + from_suffix.size());
  out.append(message.data(), end - 1);
  out.append(from_suffix);
  return out;
}

}  // namespace sig::protocol
