#include "cluster/codec.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "common/utf8.hpp"

namespace sig::cluster {

using json = nlohmann::json;

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

template <typename T>
bool to_number(std::string_view s, T& out) {
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc{} && p == end;
}

std::string_view status_text(domain::Status s) {
  return domain::to_string(s);
}

// Our JSON is built from strings checked as UTF-8 (by nlohmann's parser, a verified token, the
// admin API or the checks below); `replace` is the last resort so that dump() can never throw.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A time stamp field: absent is fine (nullopt in `out`), present must parse.
bool stored_time(const Fields& dir, std::string_view name, std::optional<domain::WallTime>& out,
                 std::string* why) {
  out.reset();
  const auto* t = field(dir, name);
  if (t == nullptr) return true;
  out = parse_iso8601(*t);
  if (!out && why != nullptr) *why = std::string(name) + " is not a time stamp of the years 2000..2199";
  return out.has_value();
}

std::nullopt_t fail(std::string* why, std::string_view reason) {
  if (why != nullptr) *why = std::string(reason);
  return std::nullopt;
}

}  // namespace

std::optional<domain::WallTime> parse_iso8601(std::string_view t) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  if (!digits(t, 0, 4, y) || t.size() < 20 || t[4] != '-' || !digits(t, 5, 2, mo) || t[7] != '-' ||
      !digits(t, 8, 2, d) || t[10] != 'T' || !digits(t, 11, 2, h) || t[13] != ':' || !digits(t, 14, 2, mi) ||
      t[16] != ':' || !digits(t, 17, 2, sec)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  if (t[pos] == '.') {
    if (!digits(t, pos + 1, 3, ms)) return std::nullopt;
    pos += 4;
  }
  if (pos + 1 != t.size() || t[pos] != 'Z') return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  if (y < kMinStoredYear - 1 || y > kMaxStoredYear) return std::nullopt;  // timegm's range, safely
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const std::time_t secs = timegm(&tm);
  // Judged after timegm, which normalises (31 February, second 60): what is accepted formats back
  // to a time stamp that is accepted again.
  constexpr std::time_t kFirst = 946'684'800;  // 2000-01-01T00:00:00Z
  constexpr std::time_t kEnd = 7'258'118'400;  // 2200-01-01T00:00:00Z
  static_assert(kMinStoredYear == 2000 && kMaxStoredYear == 2199);
  if (secs < kFirst || secs >= kEnd) return std::nullopt;
  return domain::WallTime(std::chrono::seconds(secs)) + std::chrono::milliseconds(ms);
}

std::string participants_json(const std::vector<domain::Identity>& participants) {
  json a = json::array();
  for (const auto& p : participants)
    a.push_back({{"userId", p.user_id}, {"displayName", p.display_name}});
  return dump(a);
}

std::optional<std::vector<domain::Identity>> parse_participants(std::string_view text) {
  const json a = json::parse(text, nullptr, false);
  if (!a.is_array()) return std::nullopt;
  std::vector<domain::Identity> out;
  for (const auto& p : a) {
    if (!p.is_object() || !p.contains("userId") || !p["userId"].is_string()) return std::nullopt;
    domain::Identity id{p["userId"].get<std::string>(), ""};
    if (p.contains("displayName") && p["displayName"].is_string())
      id.display_name = p["displayName"].get<std::string>();
    out.push_back(std::move(id));
  }
  return out;
}

Fields fields_of(const redis::Reply& reply) {
  Fields out;
  if (!reply.is_array()) return out;
  for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    out.emplace_back(reply.elements[i].str, reply.elements[i + 1].str);
  }
  return out;
}

const std::string* field(const Fields& fields, std::string_view name) {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::optional<domain::SessionSnapshot> record_from_fields(std::string_view session_id, const Fields& dir,
                                                          domain::WallTime now, std::uint64_t* join_seq,
                                                          std::string* why) {
  if (join_seq != nullptr) *join_seq = 0;
  if (why != nullptr) why->clear();
  if (!utf8::valid(session_id)) return fail(why, "the session id is not valid UTF-8");
  const auto* participants = field(dir, "participants");
  if (participants == nullptr) return fail(why, "no participants field");
  // nlohmann's parser refuses invalid UTF-8 (and lone surrogate escapes): the ids and display
  // names it gives are valid.
  auto list = parse_participants(*participants);
  if (!list) return fail(why, "participants is not a JSON list of {userId, displayName}");
  domain::SessionSnapshot r;
  r.session_id = std::string(session_id);
  r.spec.participants = std::move(*list);
  if (const auto* host = field(dir, "hostUserId")) {
    if (!utf8::valid(*host)) return fail(why, "hostUserId is not valid UTF-8");
    r.spec.host_user_id = *host;
  }
  if (const auto* d = field(dir, "durationSeconds")) {
    long long secs = 0;
    if (!to_number(*d, secs) || secs < 0 || secs > domain::kMaxSessionDurationSeconds) {
      return fail(why, "durationSeconds is not an integer from 0 to " +
                           std::to_string(domain::kMaxSessionDurationSeconds));
    }
    r.spec.duration = std::chrono::seconds(secs);
  }
  if (const auto* p = field(dir, "iceTransportPolicy"); p != nullptr && !p->empty()) {
    r.spec.ice_transport_policy = domain::ice_transport_policy_from(*p);
    if (!r.spec.ice_transport_policy) return fail(why, "iceTransportPolicy is not all or relay");
  }
  std::optional<domain::WallTime> created;
  if (!stored_time(dir, "createdAt", created, why) || !stored_time(dir, "startedAt", r.started_at, why) ||
      !stored_time(dir, "endedAt", r.ended_at, why)) {
    return std::nullopt;
  }
  r.created_at = created.value_or(now);
  if (const auto* s = field(dir, "status")) {
    if (*s == "started") r.status = domain::Status::started;
    if (*s == "ended") r.status = domain::Status::ended;
  }
  if (const auto* e = field(dir, "endReason")) {
    if (*e == "completed") r.end_reason = domain::EndReason::completed;
    if (*e == "timeout") r.end_reason = domain::EndReason::timeout;
    if (*e == "host_ended") r.end_reason = domain::EndReason::host_ended;
  }
  if (r.status == domain::Status::started && !r.started_at) r.started_at = r.created_at;
  if (join_seq != nullptr) {
    if (const auto* j = field(dir, "joinSeq")) {
      std::uint64_t v = 0;
      if (to_number(*j, v)) *join_seq = v;
    }
  }
  return r;
}

Fields fields_of_record(const domain::SessionSnapshot& r) {
  Fields f{{"hostUserId", r.spec.host_user_id},
           {"participants", participants_json(r.spec.participants)},
           {"durationSeconds", std::to_string(r.spec.duration.count())},
           {"status", std::string(status_text(r.status))},
           {"createdAt", format_iso8601(r.created_at)}};
  if (r.started_at) f.emplace_back("startedAt", format_iso8601(*r.started_at));
  if (r.ended_at) f.emplace_back("endedAt", format_iso8601(*r.ended_at));
  if (r.end_reason) f.emplace_back("endReason", std::string(domain::to_string(*r.end_reason)));
  if (r.spec.ice_transport_policy)
    f.emplace_back("iceTransportPolicy", std::string(domain::to_string(*r.spec.ice_transport_policy)));
  return f;
}

std::string peer_value(std::uint64_t seq, std::string_view display_name) {
  std::string v = std::to_string(seq);
  v.push_back('|');
  v.append(display_name);
  return v;
}

std::vector<domain::RosterEntry> roster_from(const Fields& ws, const Fields& peers,
                                             std::vector<std::string>* skipped) {
  std::vector<domain::RosterEntry> out;
  out.reserve(ws.size());
  auto skip = [&](std::string_view user, std::string_view reason) {
    if (skipped != nullptr) skipped->push_back(utf8::printable(user) + ": " + std::string(reason));
  };
  for (const auto& [user, conn] : ws) {
    if (user.empty() || !utf8::valid(user)) {
      skip(user, "user id empty or not valid UTF-8");
      continue;
    }
    if (conn.empty() || !utf8::valid(conn)) {
      skip(user, "connection id empty or not valid UTF-8");
      continue;
    }
    domain::RosterEntry e{{user, user}, conn, 0};
    if (const auto* p = field(peers, user)) {
      const auto bar = p->find('|');
      if (bar != std::string::npos) {
        std::uint64_t seq = 0;
        if (to_number(std::string_view(*p).substr(0, bar), seq)) e.seq = seq;
        e.identity.display_name = p->substr(bar + 1);
      }
    }
    if (!utf8::valid(e.identity.display_name)) {
      skip(user, "display name not valid UTF-8");
      continue;
    }
    out.push_back(std::move(e));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return out;
}

std::string encode_joined(const domain::RosterEntry& m, bool resumed) {
  json j{{"e", "joined"},
         {"userId", m.identity.user_id},
         {"displayName", m.identity.display_name},
         {"connection", m.connection_id},
         {"seq", m.seq}};
  if (resumed) j["resumed"] = true;
  return dump(j);
}

std::string encode_reconnecting(std::string_view user_id, std::string_view connection_id) {
  return dump(json{{"e", "reconnecting"}, {"userId", user_id}, {"connection", connection_id}});
}

std::string encode_left(std::string_view user_id, std::string_view connection_id) {
  return dump(json{{"e", "left"}, {"userId", user_id}, {"connection", connection_id}});
}

std::string encode_changed() {
  return R"({"e":"changed"})";
}
std::string encode_deleted() {
  return R"({"e":"deleted"})";
}

std::optional<Event> decode_event(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("e") || !j["e"].is_string()) return std::nullopt;
  const auto e = j["e"].get<std::string>();
  auto str = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string{};
  };
  Event ev;
  if (e == "joined" || e == "left" || e == "reconnecting") {
    ev.kind = e == "joined" ? Event::Kind::joined
              : e == "left" ? Event::Kind::left
                            : Event::Kind::reconnecting;
    ev.resumed = j.contains("resumed") && j["resumed"].is_boolean() && j["resumed"].get<bool>();
    ev.member.identity.user_id = str("userId");
    ev.member.identity.display_name = str("displayName");
    ev.member.connection_id = str("connection");
    if (j.contains("seq") && j["seq"].is_number_unsigned()) ev.member.seq = j["seq"].get<std::uint64_t>();
    if (ev.member.identity.user_id.empty() || ev.member.connection_id.empty()) return std::nullopt;
    return ev;
  }
  if (e == "changed") return Event{Event::Kind::changed, {}, false};
  if (e == "deleted") return Event{Event::Kind::deleted, {}, false};
  return std::nullopt;
}

std::string encode_relay(std::string_view session_id, std::string_view connection_id,
                         std::string_view from_user_id, std::string_view payload) {
  std::string out;
  out.reserve(session_id.size() + connection_id.size() + from_user_id.size() + payload.size() + 36);
  for (const auto part : {session_id, connection_id, from_user_id}) {
    out.append(std::to_string(part.size())).push_back(':');
    out.append(part);
  }
  out.append(payload);
  return out;
}

std::optional<Relay> decode_relay(std::string_view frame) {
  auto take = [&frame](std::string_view& out) {
    const auto colon = frame.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 10) return false;
    std::size_t n = 0;
    if (!to_number(frame.substr(0, colon), n) || frame.size() - colon - 1 < n) return false;
    out = frame.substr(colon + 1, n);
    frame.remove_prefix(colon + 1 + n);
    return true;
  };
  Relay r;
  if (!take(r.session_id) || !take(r.connection_id) || !take(r.from_user_id) || frame.empty())
    return std::nullopt;
  r.payload = frame;
  if (!utf8::valid(r.session_id) || !utf8::valid(r.connection_id) || !utf8::valid(r.from_user_id) ||
      !utf8::valid(r.payload))
    return std::nullopt;
  return r;
}

}  // namespace sig::cluster
