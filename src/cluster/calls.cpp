#include "cluster/calls.hpp"

#include <algorithm>
#include <utility>

#include "cluster/scripts.hpp"
#include "common/time.hpp"
#include "common/utf8.hpp"

namespace sig::cluster {

namespace {

std::string seconds_text(std::chrono::seconds s) {
  return std::to_string(s.count());
}

// At least one second: EXPIRE 0 would delete the key at once.
std::string retention_text(std::chrono::milliseconds d) {
  return std::to_string(std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(d).count()));
}

// A refusal named by the join script: one of the admission errors of the table.
protocol::ErrorCode refusal(const redis::Reply& code) {
  using protocol::ErrorCode;
  const auto e = code.is_string() || code.is_status() ? protocol::from_string(code.str) : std::nullopt;
  if (e == ErrorCode::session_not_found || e == ErrorCode::session_ended || e == ErrorCode::not_participant ||
      e == ErrorCode::session_full) {
    return *e;
  }
  return ErrorCode::session_not_found;
}

}  // namespace

std::int64_t ms_of(domain::WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

ScriptCall encode(const Layout& l, const JoinArgs& a) {
  const auto& id = a.session_id;
  return {
      &scripts::join(l.cluster()),
      {l.dir(id), l.ws(id), l.peers(id), l.heartbeat(id, a.identity.user_id), l.resume(id), l.attendance(id)},
      {a.identity.user_id, a.connection_id, a.identity.display_name, std::to_string(a.max_participants),
       seconds_text(a.ws_ttl), std::to_string(a.now_ms), seconds_text(a.heartbeat_ttl), a.presented_resume,
       a.fresh_resume}};
}

std::optional<JoinReply> decode_join(const redis::Reply& reply) {
  if (!reply.is_array()) return std::nullopt;
  const auto& el = reply.elements;
  JoinReply out;
  if (el.empty() || el[0].str != "ok") {
    out.refused = el.empty() ? protocol::ErrorCode::session_not_found : refusal(el[0]);
    return out;
  }
  // An `ok` cut short is not a refusal: malformed (store_unavailable, never session_not_found).
  if (el.size() < 10) return std::nullopt;
  if (!el[2].is_integer() || el[2].integer < 0) return std::nullopt;
  out.previous = el[1].str;
  out.seq = static_cast<std::uint64_t>(el[2].integer);
  out.ws = fields_of(el[3]);
  out.peers = fields_of(el[4]);
  out.dir = fields_of(el[5]);
  out.resumed = el[6].is_integer() && el[6].integer == 1;
  out.resume_id = utf8::valid(el[7].str) ? el[7].str : std::string();
  out.attendance_before = el[8].str.empty() ? std::string("-") : el[8].str;
  // The replaced connection's session:peers value, `<seq>|<name>`.
  const auto& peer = el[9].str;
  const auto bar = peer.find('|');
  if (bar != std::string::npos && utf8::valid(peer)) out.replaced_name = peer.substr(bar + 1);
  return out;
}

// A script that changes the session's next deadline (ScriptCall::deadline_of).
static ScriptCall touching(const std::string& session_id, ScriptCall call) {
  call.deadline_of = session_id;
  return call;
}

ScriptCall encode(const Layout& l, const LeaveArgs& a) {
  const auto& id = a.session_id;
  return touching(
      id, {&scripts::leave(l.cluster()),
           {l.ws(id), l.peers(id), l.heartbeat(id, a.user_id), l.resume(id), l.attendance(id), l.dir(id)},
           {a.user_id, a.connection_id, l.session_channel(id), encode_left(a.user_id, a.connection_id),
            a.always_publish ? "1" : "0", std::to_string(a.now_ms), a.undo}});
}

ScriptCall encode(const Layout& l, const LostArgs& a) {
  const auto& id = a.session_id;
  return {
      &scripts::lost(l.cluster()),
      {l.ws(id), l.attendance(id), l.dir(id)},
      {a.user_id, a.connection_id, std::to_string(a.now_ms), l.session_channel(id),
       a.publish ? encode_reconnecting(a.user_id, a.connection_id) : std::string(), a.publish ? "1" : "0"}};
}

ScriptCall encode(const Layout& l, const StartArgs& a) {
  return touching(a.session_id, {&scripts::start(l.cluster()),
                                 {l.dir(a.session_id)},
                                 {format_iso8601(a.at), l.session_channel(a.session_id), encode_changed()}});
}

std::optional<bool> decode_start(const redis::Reply& reply) {
  if (!reply.is_integer() || (reply.integer != 0 && reply.integer != 1)) return std::nullopt;
  return reply.integer == 1;
}

ScriptCall encode(const Layout& l, const EndArgs& a) {
  const auto& id = a.session_id;
  return {
      &scripts::end(l.cluster()),
      {l.dir(id), l.ws(id), l.peers(id), l.resume(id), l.attendance(id)},
      {std::string(domain::to_string(a.reason)), format_iso8601(a.at), l.session_channel(id),
       encode_changed(), retention_text(a.retention), l.heartbeat_prefix(id), std::to_string(ms_of(a.at))}};
}

ScriptCall encode(const Layout& l, const PutArgs& a) {
  const auto& s = a.spec;
  auto call = touching(
      a.session_id,
      {&scripts::put(l.cluster()),
       {l.dir(a.session_id)},
       {s.host_user_id, participants_json(s.participants), std::to_string(s.duration.count()),
        format_iso8601(a.created_at), l.session_channel(a.session_id), encode_changed(),
        s.ice_transport_policy ? std::string(domain::to_string(*s.ice_transport_policy)) : std::string()}});
  call.deadline_created_ms = ms_of(a.created_at);
  return call;
}

ScriptCall encode(const Layout& l, const RemoveArgs& a) {
  const auto& id = a.session_id;
  return {&scripts::remove(l.cluster()),
          {l.dir(id), l.ws(id), l.peers(id), l.resume(id), l.attendance(id)},
          {l.heartbeat_prefix(id), l.session_channel(id), encode_deleted()}};
}

ScriptCall encode(const Layout& l, const SnapshotArgs& a) {
  const auto& id = a.session_id;
  return {&scripts::snapshot(l.cluster()), {l.dir(id), l.ws(id), l.peers(id), l.attendance(id)}, {}};
}

std::optional<SnapshotReply> decode_snapshot(const redis::Reply& reply) {
  if (!reply.is_array() || reply.elements.size() != 4) return std::nullopt;
  const auto& el = reply.elements;
  return SnapshotReply{fields_of(el[0]), fields_of(el[1]), fields_of(el[2]), fields_of(el[3])};
}

ScriptCall encode(const Layout& l, const RestoreArgs& a) {
  const auto& id = a.session_id;
  std::uint64_t max_seq = 0;
  for (const auto& m : a.members)
    max_seq = std::max(max_seq, m.seq);
  std::vector<std::string> args{a.node_id + ":",
                                seconds_text(a.ws_ttl),
                                l.heartbeat_prefix(id),
                                std::to_string(a.now_ms),
                                seconds_text(a.heartbeat_ttl),
                                std::to_string(max_seq),
                                std::to_string(a.known_seq),
                                std::to_string(a.dir.size() * 2),
                                std::to_string(a.doubtful.size())};
  for (const auto& [k, v] : a.dir) {
    args.push_back(k);
    args.push_back(v);
  }
  args.insert(args.end(), a.doubtful.begin(), a.doubtful.end());
  for (const auto& m : a.members) {
    args.push_back(m.user_id);
    args.push_back(m.connection_id);
    args.push_back(peer_value(m.seq, m.display_name));
    args.push_back(m.resume_id);
    args.push_back(m.attendance_json);
    args.push_back(m.lost_ms ? std::to_string(*m.lost_ms) : std::string());
  }
  return {&scripts::restore(l.cluster()),
          {l.dir(id), l.ws(id), l.peers(id), l.resume(id), l.attendance(id)},
          std::move(args)};
}

}  // namespace sig::cluster
