#include "domain/hub.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_set>
#include <utility>

namespace sig::domain {

std::optional<std::string> validate_spec(const SessionSpec& spec) {
  if (spec.participants.empty()) return "participants must not be empty";
  std::unordered_set<std::string_view> seen;
  for (const auto& p : spec.participants) {
    if (p.user_id.empty()) return "every participant needs a non-empty userId";
    if (!seen.insert(p.user_id).second) return "participant " + p.user_id + " is listed twice";
  }
  if (spec.host_user_id.empty()) return "hostUserId must not be empty";
  if (spec.find(spec.host_user_id) == nullptr) return "hostUserId must be one of the participants";
  if (spec.duration.count() < 0 || spec.duration.count() > kMaxSessionDurationSeconds)
    return "durationSeconds must be from 0 (no limit) to " + std::to_string(kMaxSessionDurationSeconds);
  return std::nullopt;
}

Hub::Hub(const Clock& clock, SessionSettings settings, PresenceSink* presence, EventSink* events)
    : clock_(clock), settings_(std::move(settings)), presence_(presence), events_(events) {}

std::shared_ptr<Session> Hub::find(std::string_view session_id) const {
  std::shared_lock lock(mu_);
  const auto it = sessions_.find(session_id);
  return it == sessions_.end() ? nullptr : it->second;
}

PutResult Hub::put_session(const std::string& session_id, SessionSpec spec) {
  if (auto problem = validate_spec(spec)) return {AdminError::invalid_body, false, *problem};
  // A relay-only session without a TURN server would never connect a pair: refused up front.
  if (spec.ice_transport_policy == IceTransportPolicy::relay &&
      (!settings_.ice || settings_.ice->turn_uris.empty())) {
    return {AdminError::invalid_body, false, "iceTransportPolicy relay needs a TURN server (--turn-uri)"};
  }
  std::shared_ptr<Session> existing;
  {
    std::unique_lock lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) {
      const auto wall = clock_.wall_now();
      if (presence_ != nullptr) presence_->directory_changed(session_id, spec, wall);
      sessions_.emplace(session_id, std::make_shared<Session>(session_id, std::move(spec), settings_,
                                                              presence_, clock_.now(), wall, events_));
      return {std::nullopt, true, {}};
    }
    existing = it->second;
  }
  existing->replace_spec(std::move(spec), clock_.now());
  if (presence_ != nullptr) {
    const auto snap = existing->snapshot();
    presence_->directory_changed(session_id, snap.spec, snap.created_at);
  }
  return {std::nullopt, false, {}};
}

std::optional<SessionSnapshot> Hub::snapshot(std::string_view session_id) const {
  auto session = find(session_id);
  if (!session) return std::nullopt;
  return session->snapshot();
}

std::optional<AdminError> Hub::start_session(std::string_view session_id) {
  auto session = find(session_id);
  if (!session) return AdminError::not_found;
  if (session->start(nullptr, clock_.now(), clock_.wall_now())) return AdminError::invalid_state;
  return std::nullopt;
}

std::optional<AdminError> Hub::end_session(std::string_view session_id) {
  auto session = find(session_id);
  if (!session) return AdminError::not_found;
  if (session->end(nullptr, EndReason::host_ended, clock_.now(), clock_.wall_now()))
    return AdminError::invalid_state;
  return std::nullopt;
}

std::optional<AdminError> Hub::delete_session(std::string_view session_id) {
  std::shared_ptr<Session> session;
  {
    std::unique_lock lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return AdminError::not_found;
    session = std::move(it->second);
    sessions_.erase(it);
  }
  (void)session->end(nullptr, EndReason::host_ended, clock_.now(), clock_.wall_now());
  if (presence_ != nullptr) presence_->deleted(session_id);
  return std::nullopt;
}

std::optional<AdminError> Hub::add_participant(std::string_view session_id, Identity identity) {
  auto session = find(session_id);
  if (!session) return AdminError::not_found;
  if (identity.user_id.empty()) return AdminError::invalid_body;
  session->add_participant(std::move(identity));
  if (presence_ != nullptr) {
    const auto snap = session->snapshot();
    presence_->directory_changed(session_id, snap.spec, snap.created_at);
  }
  return std::nullopt;
}

std::optional<AdminError> Hub::remove_participant(std::string_view session_id, std::string_view user_id) {
  auto session = find(session_id);
  if (!session) return AdminError::not_found;
  const auto snap = session->snapshot();
  if (snap.spec.find(user_id) == nullptr) return AdminError::not_found;
  if (user_id == snap.spec.host_user_id) return AdminError::invalid_state;
  session->remove_participant(user_id, clock_.now());
  if (presence_ != nullptr) {
    const auto after = session->snapshot();
    presence_->directory_changed(session_id, after.spec, after.created_at);
  }
  return std::nullopt;
}

HubJoin Hub::join(std::string_view session_id, const Identity& identity, std::string connection_id,
                  std::weak_ptr<Endpoint> endpoint, const ClusterJoin* cluster, const ResumeRequest* resume) {
  auto session = find(session_id);
  if (!session) return {protocol::ErrorCode::session_not_found, nullptr, nullptr};
  auto result = session->join(identity, std::move(connection_id), std::move(endpoint), clock_.now(),
                              clock_.wall_now(), cluster, resume);
  if (result.error) return {result.error, nullptr, nullptr};
  return {std::nullopt, std::move(session), std::move(result.participant)};
}

std::vector<std::shared_ptr<Session>> Hub::all() const {
  std::vector<std::shared_ptr<Session>> out;
  std::shared_lock lock(mu_);
  out.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_)
    out.push_back(s);
  return out;
}

void Hub::apply_record(const std::string& session_id, const SessionSnapshot& record) {
  const auto now = clock_.now();
  const auto wall = clock_.wall_now();
  std::shared_ptr<Session> session;
  {
    std::unique_lock lock(mu_);
    auto it = sessions_.find(session_id);
    // A session that ended here but lives in the store again was deleted and created anew.
    const bool reborn = it != sessions_.end() && record.status != Status::ended &&
                        it->second->snapshot().status == Status::ended;
    if (it == sessions_.end() || reborn) {
      auto fresh = std::make_shared<Session>(session_id, record.spec, settings_, presence_, now,
                                             record.created_at, events_);
      if (reborn) {
        it->second = std::move(fresh);
      } else {
        it = sessions_.emplace(session_id, std::move(fresh)).first;
      }
    }
    session = it->second;
  }
  session->apply_record(record, now, wall);
}

void Hub::apply_remote_joined(std::string_view session_id, const RosterEntry& entry, bool resumed) {
  if (auto s = find(session_id)) s->apply_remote_joined(entry, clock_.now(), resumed);
}

void Hub::apply_remote_reconnecting(std::string_view session_id, std::string_view connection_id) {
  if (auto s = find(session_id)) s->apply_remote_reconnecting(connection_id, clock_.now());
}

void Hub::apply_node_lost(std::string_view session_id, std::string_view connection_id) {
  if (auto s = find(session_id)) s->apply_node_lost(connection_id, clock_.now());
}

void Hub::apply_remote_left(std::string_view session_id, std::string_view connection_id) {
  if (auto s = find(session_id)) s->apply_remote_left(connection_id, clock_.now());
}

void Hub::reconcile(std::string_view session_id, const std::vector<RosterEntry>& roster, std::uint64_t seq,
                    bool remove_missing) {
  if (auto s = find(session_id)) s->reconcile(roster, seq, clock_.now(), remove_missing);
}

void Hub::apply_deleted(std::string_view session_id) {
  std::shared_ptr<Session> session;
  {
    std::unique_lock lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return;
    session = std::move(it->second);
    sessions_.erase(it);
  }
  session->apply_deleted(clock_.now(), clock_.wall_now());
}

bool Hub::deliver(std::string_view session_id, std::string_view connection_id, const Payload& message,
                  std::string_view from_user_id) const {
  auto s = find(session_id);
  return s && s->deliver(connection_id, message, from_user_id);
}

std::vector<LocalMember> Hub::local_members() const {
  std::vector<LocalMember> out;
  for (const auto& s : all()) {
    auto m = s->local_members();
    out.insert(out.end(), std::make_move_iterator(m.begin()), std::make_move_iterator(m.end()));
  }
  return out;
}

std::vector<LocalMember> Hub::local_members(std::string_view session_id) const {
  auto s = find(session_id);
  return s ? s->local_members() : std::vector<LocalMember>{};
}

std::vector<std::pair<std::string, RosterEntry>> Hub::remote_members() const {
  std::vector<std::pair<std::string, RosterEntry>> out;
  for (const auto& s : all()) {
    for (auto& m : s->remote_members())
      out.emplace_back(s->id(), std::move(m));
  }
  return out;
}

std::vector<RosterEntry> Hub::remote_members(std::string_view session_id) const {
  auto s = find(session_id);
  return s ? s->remote_members() : std::vector<RosterEntry>{};
}

std::vector<SessionSnapshot> Hub::snapshots() const {
  std::vector<SessionSnapshot> out;
  for (const auto& s : all())
    out.push_back(s->snapshot());
  return out;
}

void Hub::tick(SteadyTime now) {
  std::vector<std::string> forget;
  const auto wall = clock_.wall_now();
  for (const auto& s : all()) {
    if (s->tick(now, wall) == TickResult::forget) forget.push_back(s->id());
  }
  if (!forget.empty()) {
    std::unique_lock lock(mu_);
    for (const auto& id : forget)
      sessions_.erase(id);
  }
}

Millis Hub::tick_interval() const noexcept {
  return std::clamp(settings_.heartbeat_timeout / 8, Millis{10}, Millis{1000});
}

void Hub::shutdown() {
  for (const auto& s : all())
    s->shutdown();
}

HubStats Hub::stats() const {
  const auto sessions = all();
  HubStats st;
  st.sessions = sessions.size();
  for (const auto& s : sessions) {
    if (s->snapshot().status != Status::ended) ++st.live_sessions;
    st.participants += s->local_count();
    st.reconnecting += s->local_reconnecting_count();
  }
  return st;
}

}  // namespace sig::domain
