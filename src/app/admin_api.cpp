#include "app/admin_api.hpp"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "common/utf8.hpp"
#include "protocol/codes.hpp"
#include "protocol/query.hpp"

namespace sig::app {

using json = nlohmann::json;
using net::HttpRequest;
using net::HttpResponse;

namespace {

// Every string in our JSON was checked as UTF-8 where it came in (the request, the token, Redis),
// so dump() has nothing to throw about; `replace` is the last resort that keeps it so should a
// check ever be missed (a U+FFFD in an answer, not a dead process).
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

HttpResponse reply(unsigned status, const json& body) {
  return {status, "application/json", dump(body), {}};
}

HttpResponse problem(protocol::ErrorCode code, std::string_view message = {}) {
  return {protocol::http_status_for(code), "application/json", protocol::http_error_body(code, message), {}};
}

HttpResponse admin_error(domain::AdminError e) {
  switch (e) {
    case domain::AdminError::not_found:
      return problem(protocol::ErrorCode::not_found, "no such session or participant");
    case domain::AdminError::invalid_state: return problem(protocol::ErrorCode::invalid_state);
    case domain::AdminError::invalid_body: return problem(protocol::ErrorCode::invalid_body);
  }
  return problem(protocol::ErrorCode::internal);
}

json optional_time(const std::optional<domain::WallTime>& t) {
  return t ? json(format_iso8601(*t)) : json(nullptr);
}

// Splits "a/b/c" into its first segment and the rest.
std::pair<std::string_view, std::string_view> first_segment(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) return {s, {}};
  return {s.substr(0, slash), s.substr(slash + 1)};
}

std::optional<domain::SessionSpec> parse_spec(const json& body, std::string& why) {
  if (!body.is_object()) {
    why = "the body must be a JSON object";
    return std::nullopt;
  }
  domain::SessionSpec spec;
  const auto host = body.find("hostUserId");
  if (host == body.end() || !host->is_string()) {
    why = "hostUserId must be a string";
    return std::nullopt;
  }
  spec.host_user_id = host->get<std::string>();
  const auto participants = body.find("participants");
  if (participants == body.end() || !participants->is_array()) {
    why = "participants must be an array";
    return std::nullopt;
  }
  for (const auto& p : *participants) {
    if (!p.is_object() || !p.contains("userId") || !p["userId"].is_string()) {
      why = "every participant needs a string userId";
      return std::nullopt;
    }
    domain::Identity id{p["userId"].get<std::string>(), ""};
    if (p.contains("displayName")) {
      if (!p["displayName"].is_string()) {
        why = "displayName must be a string";
        return std::nullopt;
      }
      id.display_name = p["displayName"].get<std::string>();
    }
    spec.participants.push_back(std::move(id));
  }
  if (body.contains("durationSeconds") && !body["durationSeconds"].is_null()) {
    const auto& d = body["durationSeconds"];
    // is_number_unsigned: a non-negative integer (nlohmann parses those as unsigned), so the
    // comparison below never sees a wrapped value.
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > domain::kMaxSessionDurationSeconds) {
      why = "durationSeconds must be an integer from 0 (no limit) to " +
            std::to_string(domain::kMaxSessionDurationSeconds);
      return std::nullopt;
    }
    spec.duration = std::chrono::seconds(d.get<std::int64_t>());
  }
  if (body.contains("iceTransportPolicy") && !body["iceTransportPolicy"].is_null()) {
    const auto& p = body["iceTransportPolicy"];
    auto policy = p.is_string() ? domain::ice_transport_policy_from(p.get<std::string>()) : std::nullopt;
    if (!policy) {
      why = R"(iceTransportPolicy must be "all" or "relay" (or null: the server's default))";
      return std::nullopt;
    }
    spec.ice_transport_policy = policy;
  }
  if (auto problem_text = domain::validate_spec(spec)) {
    why = *problem_text;
    return std::nullopt;
  }
  return spec;
}

// The attendance items of docs/webhooks.md.
json attendance_json(const std::vector<domain::AttendanceRecord>& records, domain::WallTime now) {
  json out = json::array();
  for (const auto& r : records) {
    // Seconds with the milliseconds (docs/webhooks.md): the open interval counts up to `now`.
    const auto ms = domain::connected_as_of(r, now).count();
    out.push_back({{"userId", r.user_id},
                   {"displayName", r.display_name},
                   {"firstJoinedAt", format_iso8601(r.first_joined)},
                   {"lastLeftAt", optional_time(r.last_left)},
                   {"connections", r.connections},
                   {"connectedSeconds", static_cast<double>(ms) / 1000.0},
                   {"connected", !r.last_left.has_value()}});
  }
  return out;
}

}  // namespace

std::string session_json(const domain::SessionSnapshot& s, domain::WallTime now) {
  json participants = json::array();
  for (const auto& p : s.spec.participants) {
    const bool connected = std::find(s.connected.begin(), s.connected.end(), p.user_id) != s.connected.end();
    participants.push_back(
        {{"userId", p.user_id}, {"displayName", p.display_name}, {"connected", connected}});
  }
  json body{
      {"sessionId", s.session_id},
      {"hostUserId", s.spec.host_user_id},
      {"status", domain::to_string(s.status)},
      {"startedAt", optional_time(s.started_at)},
      {"endedAt", optional_time(s.ended_at)},
      {"endReason", s.end_reason ? json(domain::to_string(*s.end_reason)) : json(nullptr)},
      {"durationSeconds", s.spec.duration.count()},
      {"iceTransportPolicy",
       s.spec.ice_transport_policy ? json(domain::to_string(*s.spec.ice_transport_policy)) : json(nullptr)},
      {"createdAt", format_iso8601(s.created_at)},
      {"participants", participants},
      {"connected", s.connected},
      {"reconnecting", s.reconnecting},
      {"attendance", attendance_json(s.attendance, now)}};
  return dump(body);
}

AdminApi::AdminApi(domain::Hub& hub, std::string admin_key, std::function<std::string()> metrics,
                   std::optional<DevMode> dev)
    : hub_(hub), admin_key_(std::move(admin_key)), metrics_(std::move(metrics)), dev_(std::move(dev)) {}

bool AdminApi::authorised(const HttpRequest& request) const {
  if (admin_key_.empty()) return false;
  constexpr std::string_view kBearer = "Bearer ";
  std::string_view header = request.authorization;
  if (!header.starts_with(kBearer)) return false;
  header.remove_prefix(kBearer.size());
  return header.size() == admin_key_.size() &&
         CRYPTO_memcmp(header.data(), admin_key_.data(), header.size()) == 0;
}

void AdminApi::handle(HttpRequest request, Respond respond) {
  constexpr std::string_view kSessions = "/api/sessions/";
  const auto path = protocol::split_target(request.target).path;
  if (cluster_ == nullptr || !path.starts_with(kSessions) || !authorised(request) ||
      !protocol::utf8_target(request.target)) {
    respond(answer(request));
    return;
  }
  std::string session_id(first_segment(path.substr(kSessions.size())).first);
  if (session_id.empty() || session_id.size() > 256) {
    respond(answer(request));
    return;
  }
  if (!cluster_->accepts_session_id(session_id)) {
    respond(problem(protocol::ErrorCode::bad_request, domain::kSessionIdRefused));
    return;
  }
  const bool read_only = request.method == "GET" || request.method == "HEAD";
  auto req = std::make_shared<HttpRequest>(std::move(request));
  auto after_read = [this, req, read_only, session_id, respond = std::move(respond)](bool read) mutable {
    if (!read && !hub_.has_session(session_id)) {
      // The store was not reached and this node has no copy: the session may well exist (other
      // nodes host it), so never a 404 (nor a creation here that the store never sees).
      respond(problem(protocol::ErrorCode::store_unavailable));
      return;
    }
    const auto mark = cluster_->write_mark();
    auto r = answer(*req);
    if (read_only || r.status >= 400) {
      respond(std::move(r));
      return;
    }
    cluster_->flush(mark, [this, session_id = std::move(session_id), r = std::move(r),
                           respond = std::move(respond)](bool applied) mutable {
      if (applied) {
        respond(std::move(r));
        return;
      }
      // Redis refused the change or was not reached: never a 2xx. This node's copy may hold the
      // change the store does not: read the session again so it shows what the store holds.
      respond(problem(protocol::ErrorCode::store_unavailable));
      cluster_->refresh(std::move(session_id), [](bool) {});
    });
  };
  cluster_->refresh(session_id, std::move(after_read));
}

HttpResponse AdminApi::answer(const HttpRequest& request) {
  // Before anything reads it: an id that is not UTF-8 would end in a JSON answer, a log line or
  // a Redis key that every node then reads.
  if (!protocol::utf8_target(request.target))
    return problem(protocol::ErrorCode::invalid_utf8, "the path or the query is not valid UTF-8");
  const auto target = protocol::split_target(request.target);
  const std::string_view path = target.path;
  const bool get = request.method == "GET" || request.method == "HEAD";

  if (path == "/healthz") {
    return get ? reply(200, json{{"status", "ok"}})
               : problem(protocol::ErrorCode::method_not_allowed, "use GET");
  }
  if (path == "/readyz") {
    if (!get) return problem(protocol::ErrorCode::method_not_allowed, "use GET");
    return ready_ ? reply(200, json{{"status", "ready"}}) : reply(503, json{{"status", "not_ready"}});
  }
  if (path == "/metrics") {
    if (!get) return problem(protocol::ErrorCode::method_not_allowed, "use GET");
    return {200, "text/plain; version=0.0.4", metrics_ ? metrics_() : std::string{}, {}};
  }
  if (path == "/dev/token" && dev_) {
    if (!get) return problem(protocol::ErrorCode::method_not_allowed, "use GET");
    return dev_token(target.query);
  }
  constexpr std::string_view kSessions = "/api/sessions/";
  if (path.starts_with(kSessions)) {
    if (!authorised(request)) {
      auto r = problem(protocol::ErrorCode::unauthorized,
                       "a valid admin key is required (Authorization: Bearer <key>)");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    return sessions(request, path.substr(kSessions.size()));
  }
  return problem(protocol::ErrorCode::not_found, "no such endpoint");
}

HttpResponse AdminApi::sessions(const HttpRequest& request, std::string_view rest) {
  const auto [session_id, sub] = first_segment(rest);
  if (session_id.empty() || session_id.size() > 256)
    return problem(protocol::ErrorCode::not_found, "no such endpoint");
  const std::string id(session_id);
  const auto& m = request.method;
  auto current = [&]() -> HttpResponse {
    auto snap = hub_.snapshot(id);
    if (!snap) return admin_error(domain::AdminError::not_found);
    return {200, "application/json", session_json(*snap, hub_.clock().wall_now()), {}};
  };

  if (sub.empty()) {
    if (m == "GET" || m == "HEAD") return current();
    if (m == "PUT") {
      if (!utf8::valid(request.body))
        return problem(protocol::ErrorCode::invalid_utf8, "the body is not valid UTF-8");
      json body = json::parse(request.body, nullptr, false);
      if (body.is_discarded())
        return problem(protocol::ErrorCode::invalid_json, "the body is not valid JSON");
      std::string why;
      auto spec = parse_spec(body, why);
      if (!spec) return problem(protocol::ErrorCode::invalid_body, why);
      const auto result = hub_.put_session(id, std::move(*spec));
      if (result.error) return problem(protocol::ErrorCode::invalid_body, result.detail);
      auto r = current();
      if (result.created) r.status = 201;
      return r;
    }
    if (m == "DELETE") {
      if (const auto err = hub_.delete_session(id)) return admin_error(*err);
      return {204, "application/json", {}, {}};
    }
    return problem(protocol::ErrorCode::method_not_allowed, "use GET, PUT or DELETE");
  }
  if (sub == "start" || sub == "end") {
    if (m != "POST") return problem(protocol::ErrorCode::method_not_allowed, "use POST");
    const auto err = sub == "start" ? hub_.start_session(id) : hub_.end_session(id);
    if (err) return admin_error(*err);
    return current();
  }
  const auto [kind, user] = first_segment(sub);
  if (kind == "participants" && !user.empty() && user.find('/') == std::string_view::npos) {
    if (m == "PUT") {
      std::string display_name;
      if (!request.body.empty()) {
        if (!utf8::valid(request.body))
          return problem(protocol::ErrorCode::invalid_utf8, "the body is not valid UTF-8");
        json body = json::parse(request.body, nullptr, false);
        if (body.is_discarded())
          return problem(protocol::ErrorCode::invalid_json, "the body is not valid JSON");
        if (!body.is_object())
          return problem(protocol::ErrorCode::invalid_body, "the body must be a JSON object");
        if (body.contains("displayName")) {
          if (!body["displayName"].is_string())
            return problem(protocol::ErrorCode::invalid_body, "displayName must be a string");
          display_name = body["displayName"].get<std::string>();
        }
      }
      if (const auto err = hub_.add_participant(id, {std::string(user), display_name}))
        return admin_error(*err);
      return current();
    }
    if (m == "DELETE") {
      if (const auto err = hub_.remove_participant(id, user)) {
        if (*err == domain::AdminError::invalid_state) {
          return problem(protocol::ErrorCode::invalid_state,
                         "the host cannot be removed; replace the session instead");
        }
        return admin_error(*err);
      }
      return current();
    }
    return problem(protocol::ErrorCode::method_not_allowed, "use PUT or DELETE");
  }
  return problem(protocol::ErrorCode::not_found, "no such endpoint");
}

HttpResponse AdminApi::dev_token(std::string_view query) const {
  const auto user = protocol::query_param(query, "userId");
  const auto session = protocol::query_param(query, "sessionId").value_or(dev_->session_id);
  if (!user || user->empty())
    return problem(protocol::ErrorCode::invalid_body, "the userId parameter is required");
  if (session != dev_->session_id) {
    return problem(protocol::ErrorCode::bad_request,
                   "development tokens are for the session " + dev_->session_id + " only");
  }
  const auto snap = hub_.snapshot(session);
  if (!snap) return problem(protocol::ErrorCode::not_found, "no such session");
  const auto* who = snap->spec.find(*user);
  if (who == nullptr) return problem(protocol::ErrorCode::not_found, "no such participant in this session");
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(hub_.clock().wall_now().time_since_epoch());
  const json claims{{"sub", who->user_id},
                    {"name", who->display_name},
                    {"iat", now.count()},
                    {"exp", (now + dev_->token_lifetime).count()}};
  return reply(200, json{{"token", dev_->signer->sign(dump(claims))},
                         {"sessionId", session},
                         {"userId", who->user_id},
                         {"displayName", who->display_name}});
}

}  // namespace sig::app
