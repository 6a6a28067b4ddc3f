#include "cluster/replies.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/utf8.hpp"

namespace sig::cluster {

using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

// Stored times: the years codec.hpp allows (kMinStoredYear..kMaxStoredYear).
constexpr std::int64_t kMinMs = 946'684'800'000LL;    // 2000-01-01
constexpr std::int64_t kMaxMs = 7'258'118'400'000LL;  // 2200-01-01
// A connected time beyond two centuries is not one.
constexpr std::int64_t kMaxDurationMs = kMaxMs - kMinMs;

// An integral JSON number (cjson writes 13-digit integers as such, larger ones maybe as 1.2e+13).
std::optional<std::int64_t> integral(const json& j) {
  if (j.is_number_integer()) return j.get<std::int64_t>();
  if (j.is_number_float()) {
    const double d = j.get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15) return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

std::optional<domain::WallTime> time_of(std::int64_t ms) {
  if (ms < kMinMs || ms >= kMaxMs) return std::nullopt;
  return domain::WallTime(std::chrono::duration_cast<domain::WallTime::duration>(milliseconds(ms)));
}

// A time field: absent/false -> none (true), a valid time -> it (true), anything else -> false.
bool optional_time(const json& obj, const char* key, std::optional<domain::WallTime>& out) {
  out.reset();
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null() || (it->is_boolean() && !it->get<bool>())) return true;
  const auto ms = integral(*it);
  if (!ms) return false;
  out = time_of(*ms);
  return out.has_value();
}

std::int64_t ms_of(domain::WallTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

std::optional<bool> flag(const redis::Reply& r) {
  if (!r.is_integer() || (r.integer != 0 && r.integer != 1)) return std::nullopt;
  return r.integer == 1;
}

std::string utf8_or_empty(const redis::Reply& r) {
  return r.is_string() && utf8::valid(r.str) ? r.str : std::string();
}

std::vector<std::string> users_of(const redis::Reply& r) {
  std::vector<std::string> out;
  for (const auto& e : r.elements) {
    if (e.is_string() && !e.str.empty() && utf8::valid(e.str)) out.push_back(e.str);
  }
  return out;
}

}  // namespace

std::optional<domain::AttendanceRecord> parse_attendance(std::string_view user_id, std::string_view text) {
  if (user_id.empty() || !utf8::valid(user_id)) return std::nullopt;
  const auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  domain::AttendanceRecord r;
  r.user_id = std::string(user_id);
  if (const auto n = j.find("n"); n != j.end() && n->is_string()) r.display_name = n->get<std::string>();
  if (r.display_name.empty()) r.display_name = r.user_id;
  const auto f = j.find("f");
  if (f == j.end()) return std::nullopt;
  const auto first = integral(*f);
  if (!first) return std::nullopt;
  const auto first_time = time_of(*first);
  if (!first_time) return std::nullopt;
  r.first_joined = *first_time;
  if (!optional_time(j, "l", r.last_left) || !optional_time(j, "s", r.connected_since)) return std::nullopt;
  const auto c = j.find("c");
  const auto count = c == j.end() ? std::optional<std::int64_t>(0) : integral(*c);
  if (!count || *count < 0 || *count > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  r.connections = static_cast<std::uint32_t>(*count);
  const auto t = j.find("t");
  const auto total = t == j.end() ? std::optional<std::int64_t>(0) : integral(*t);
  if (!total || *total < 0 || *total > kMaxDurationMs) return std::nullopt;
  r.connected = milliseconds(*total);
  if (r.connected_since) r.last_left.reset();  // connected: no departure to show
  return r;
}

std::string attendance_json(const domain::AttendanceRecord& r) {
  json j{{"n", r.display_name},
         {"f", ms_of(r.first_joined)},
         {"l", r.last_left ? json(ms_of(*r.last_left)) : json(false)},
         {"c", r.connections},
         {"t", r.connected.count()},
         {"s", r.connected_since ? json(ms_of(*r.connected_since)) : json(false)},
         {"r", false}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<domain::AttendanceRecord> attendance_from(const Fields& hash, std::vector<std::string>* skipped) {
  std::vector<domain::AttendanceRecord> out;
  out.reserve(hash.size());
  for (const auto& [user, value] : hash) {
    auto r = parse_attendance(user, value);
    if (!r || !utf8::valid(r->display_name)) {
      if (skipped != nullptr) skipped->push_back(utf8::printable(user) + ": attendance entry not valid");
      continue;
    }
    out.push_back(std::move(*r));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.first_joined != b.first_joined ? a.first_joined < b.first_joined : a.user_id < b.user_id;
  });
  return out;
}

std::optional<LeaveReply> decode_leave(const redis::Reply& reply) {
  if (reply.is_integer()) {  // the reply before attendance: removed only
    const auto removed = flag(reply);
    if (!removed) return std::nullopt;
    return LeaveReply{*removed, {}, std::nullopt};
  }
  if (!reply.is_array() || reply.elements.size() != 3) return std::nullopt;
  const auto removed = flag(reply.elements[0]);
  if (!removed || !reply.elements[2].is_integer()) return std::nullopt;
  LeaveReply out{*removed, utf8_or_empty(reply.elements[1]), std::nullopt};
  if (reply.elements[2].integer != 0) out.closed_at = time_of(reply.elements[2].integer);
  return out;
}

std::optional<LostReply> decode_lost(const redis::Reply& reply) {
  if (!reply.is_array() || reply.elements.size() != 2) return std::nullopt;
  const auto changed = flag(reply.elements[0]);
  if (!changed) return std::nullopt;
  return LostReply{*changed, utf8_or_empty(reply.elements[1])};
}

std::optional<EndReply> decode_end(const redis::Reply& reply, std::vector<std::string>* skipped) {
  if (!reply.is_array() || reply.elements.empty()) return std::nullopt;
  const auto changed = flag(reply.elements[0]);
  if (!changed) return std::nullopt;
  EndReply out;
  if (!*changed) return out;
  if (reply.elements.size() != 4 || !reply.elements[1].is_array() || !reply.elements[2].is_array())
    return std::nullopt;
  out.changed = true;
  out.attendance = attendance_from(fields_of(reply.elements[1]), skipped);
  // Who was there: session:peers (`<seq>|<name>`), as a roster without connection ids.
  Fields ws;
  const auto peers = fields_of(reply.elements[2]);
  for (const auto& [user, value] : peers)
    ws.emplace_back(user, "-");
  out.present = roster_from(ws, peers, skipped);
  for (auto& e : out.present)
    e.connection_id.clear();
  if (reply.elements[3].is_string() && !reply.elements[3].str.empty())
    out.started_at = parse_iso8601(reply.elements[3].str);
  return out;
}

std::optional<RestoreReply> decode_restore(const redis::Reply& reply) {
  if (reply.is_integer()) return RestoreReply{reply.integer == 1, {}, {}};
  if (!reply.is_array() || reply.elements.empty()) return std::nullopt;
  const auto applied = flag(reply.elements[0]);
  if (!applied) return std::nullopt;
  RestoreReply out{*applied, {}, {}};
  if (reply.elements.size() >= 3) {
    out.resumed = users_of(reply.elements[1]);
    out.rejoined = users_of(reply.elements[2]);
  }
  return out;
}

}  // namespace sig::cluster
