#include "domain/session.hpp"

#include <algorithm>

#include "common/time.hpp"
#include "protocol/server_messages.hpp"

namespace sig::domain {

using protocol::CloseCode;
using protocol::ErrorCode;

namespace {

// Compares two secrets in a time that does not depend on where they differ. An empty secret
// matches nothing.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.empty() || a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x =
        static_cast<unsigned char>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
    diff = static_cast<unsigned char>(diff | x);
  }
  return diff == 0;
}

}  // namespace

Participant::Participant(Identity identity, std::string connection_id, std::weak_ptr<Endpoint> endpoint,
                         SteadyTime now, bool local, std::uint64_t seq)
    : identity_(std::move(identity)),
      connection_id_(std::move(connection_id)),
      from_suffix_(protocol::from_user_suffix(identity_.user_id)),
      endpoint_(std::move(endpoint)),
      last_activity_(now.time_since_epoch().count()),
      local_(local),
      seq_(seq),
      ice_sent_(now) {}

Session::Session(std::string id, SessionSpec spec, const SessionSettings& settings, PresenceSink* presence,
                 SteadyTime now, WallTime wall_now, EventSink* events)
    : id_(std::move(id)),
      settings_(settings),
      presence_(presence),
      events_(events),
      spec_(std::move(spec)),
      created_(now),
      created_wall_(wall_now),
      empty_since_(now),
      wall_anchor_steady_(now),
      wall_anchor_(wall_now) {}

JoinResult Session::join(const Identity& from_token, std::string connection_id,
                         std::weak_ptr<Endpoint> endpoint, SteadyTime now, WallTime wall_now,
                         const ClusterJoin* cluster, const ResumeRequest* resume) {
  std::lock_guard lock(mu_);
  sync_wall_locked(now, wall_now);
  if (status_ == Status::ended) return {ErrorCode::session_ended, nullptr};
  const Identity* listed = spec_.find(from_token.user_id);
  if (listed == nullptr) return {ErrorCode::not_participant, nullptr};
  // Several nodes: the store's roster leaves out the joining user: its own previous connection is
  // not a stale entry but the one this join replaces (or resumes).
  if (cluster != nullptr) {
    const Quiet quiet(quiet_);  // the store's view of the other nodes' participants
    reconcile_locked(cluster->roster, cluster->seq, now, cluster->remove_missing, from_token.user_id);
  }
  auto previous = std::find_if(members_.begin(), members_.end(),
                               [&](const auto& m) { return m->user_id() == from_token.user_id; });
  if (cluster == nullptr && previous == members_.end() && members_.size() >= settings_.max_participants) {
    return {ErrorCode::session_full, nullptr};
  }

  Identity identity{from_token.user_id, from_token.display_name};
  if (identity.display_name.empty()) identity.display_name = listed->display_name;
  if (identity.display_name.empty()) identity.display_name = identity.user_id;
  bool resumed = false;
  std::string resume_id;
  if (cluster != nullptr) {
    resumed = cluster->resumed;
    resume_id = cluster->resume_id;
  } else if (resume != nullptr) {
    resumed = previous != members_.end() && same_secret((*previous)->resume_id_, resume->presented);
    resume_id = resumed ? (*previous)->resume_id_ : resume->fresh;
  }
  if (resumed && previous != members_.end()) {
    const std::uint64_t kept_seq = cluster != nullptr ? cluster->seq : (*previous)->seq_;
    return resume_join_locked(previous, std::move(identity), std::move(connection_id), std::move(endpoint),
                              kept_seq, std::move(resume_id), now, wall_now);
  }
  const std::uint64_t seq = cluster != nullptr ? cluster->seq : 0;
  auto participant = std::make_shared<Participant>(std::move(identity), std::move(connection_id),
                                                   std::move(endpoint), now, true, seq);
  participant->resume_id_ = std::move(resume_id);

  if (previous != members_.end()) remove_member_locked(previous, LeaveCause::replaced, now);

  // With several nodes, participants who joined after this one (by the store's order) may be
  // known here already: they are announced to the newcomer after its `joined`, as newcomers.
  std::vector<protocol::PeerRef> peers;
  std::vector<const Participant*> later;
  peers.reserve(members_.size());
  for (const auto& m : members_) {
    // A resume keeps its old place: everyone listed is someone it may have a connection with.
    if (cluster != nullptr && m->seq_ > seq && !resumed) {
      later.push_back(m.get());
    } else {
      peers.push_back({m->user_id(), m->display_name()});
    }
  }
  send_joined_locked(*participant, peers, resumed, wall_now);
  if (auto ep = participant->endpoint()) {
    for (const auto* m : later)
      ep->send(make_payload(protocol::participant_joined({m->user_id(), m->display_name()})));
  }

  broadcast_locked(
      make_payload(protocol::participant_joined({participant->user_id(), participant->display_name()})),
      nullptr);
  insert_member_locked(participant);
  if (presence_ != nullptr) presence_->connected(id_, participant->user_id(), participant->connection_id());
  // With several nodes the store may call it a resume although the old incarnation is not known
  // here (it was on a node that never told this one): still a resume for the platform.
  admitted_locked(*participant, resumed, now);
  return {std::nullopt, std::move(participant)};
}

void Session::send_joined_locked(const Participant& to, const std::vector<protocol::PeerRef>& peers,
                                 bool resumed, WallTime wall_now) const {
  auto ep = to.endpoint();
  if (!ep) return;
  protocol::JoinedInfo info;
  info.session_id = id_;
  info.self = {to.user_id(), to.display_name()};
  info.participants = peers;
  info.host_user_id = spec_.host_user_id;
  info.started = status_ == Status::started;
  info.started_at = started_at_text_;
  info.heartbeat_interval_ms = settings_.heartbeat_interval.count();
  // Fresh credentials on every join (a reconnection included), named after this user.
  const std::string ice =
      settings_.ice ? ice_servers_json(*settings_.ice, to.user_id(), wall_now) : std::string();
  info.ice_servers = ice;
  info.ice_transport_policy = to_string(policy_locked());
  info.resume_id = to.resume_id_;
  info.resumed = resumed;
  ep->send(make_payload(protocol::joined(info)));
}

void Session::insert_member_locked(std::shared_ptr<Participant> p) {
  // Stable: equal seqs (0 on a single node) keep their arrival order.
  const auto at =
      std::find_if(members_.begin(), members_.end(), [&](const auto& m) { return m->seq_ > p->seq_; });
  members_.insert(at, std::move(p));
}

void Session::leave(const std::shared_ptr<Participant>& participant, SteadyTime now, LeaveCause cause) {
  std::lock_guard lock(mu_);
  if (!participant->active_) return;
  auto it = std::find(members_.begin(), members_.end(), participant);
  if (it != members_.end()) remove_member_locked(it, cause, now);
}

void Session::remove_member_locked(MemberList::iterator it, LeaveCause cause, SteadyTime now) {
  auto member = std::move(*it);
  members_.erase(it);
  member->active_ = false;
  remote_.departed(member->connection_id(), now);  // several nodes: a late event cannot bring it back
  if (auto ep = member->endpoint()) {
    switch (cause) {
      case LeaveCause::replaced:
        ep->close(
            CloseCode::replaced,
            make_payload(protocol::error(ErrorCode::replaced, "a newer connection of this user took over")));
        break;
      case LeaveCause::removed:
        ep->close(CloseCode::removed,
                  make_payload(protocol::error(ErrorCode::removed, "you were removed from this session")));
        break;
      case LeaveCause::heartbeat_timeout:
        ep->close(CloseCode::heartbeat_timeout,
                  make_payload(protocol::error(ErrorCode::heartbeat_timeout,
                                               "no message within the heartbeat timeout")));
        break;
      case LeaveCause::left:
      case LeaveCause::closed: break;  // the connection is closing already
    }
  }
  broadcast_locked(make_payload(protocol::participant_left(member->user_id())), nullptr);
  if (presence_ != nullptr && member->local_)
    presence_->disconnected(id_, member->user_id(), member->connection_id());
  departed_locked(*member, cause, now);
  if (members_.empty()) empty_since_ = now;
}

void Session::broadcast_locked(const Payload& message, const Participant* except) const {
  for (const auto& m : members_) {
    if (m.get() == except) continue;
    if (auto ep = m->endpoint()) ep->send(message);
  }
}

void Session::heartbeat(const Participant& from, WallTime now) {
  if (presence_ != nullptr) presence_->heartbeat(id_, from.user_id(), now);
}

std::optional<ErrorCode> Session::start(const Participant* by, SteadyTime now, WallTime wall_now) {
  std::lock_guard lock(mu_);
  if (by != nullptr && by->user_id() != spec_.host_user_id) return ErrorCode::not_host;
  if (status_ != Status::waiting) return ErrorCode::invalid_state;
  sync_wall_locked(now, wall_now);
  status_ = Status::started;
  started_ = now;
  started_wall_ = wall_now;
  started_at_text_ = format_iso8601(wall_now);
  empty_since_ = now;
  broadcast_locked(make_payload(protocol::session_started(started_at_text_)), nullptr);
  if (presence_ != nullptr) presence_->started(id_, wall_now);
  started_locked(wall_now);
  return std::nullopt;
}

std::optional<ErrorCode> Session::end(const Participant* by, EndReason reason, SteadyTime now,
                                      WallTime wall_now) {
  std::lock_guard lock(mu_);
  if (by != nullptr && by->user_id() != spec_.host_user_id) return ErrorCode::not_host;
  if (status_ == Status::ended) return ErrorCode::invalid_state;
  end_locked(reason, now, wall_now);
  return std::nullopt;
}

void Session::end_locked(EndReason reason, SteadyTime now, WallTime wall_now, bool echo) {
  status_ = Status::ended;
  end_reason_ = reason;
  ended_ = now;
  ended_wall_ = wall_now;
  if (echo) ended_locked(reason, now, wall_now);
  const auto message = make_payload(protocol::session_ended(to_string(reason)));
  for (auto& m : members_) {
    m->active_ = false;
    if (auto ep = m->endpoint()) ep->close(CloseCode::normal, message);
  }
  members_.clear();
  members_cleared_locked();
  if (presence_ != nullptr && echo) {
    presence_->ended(id_, reason, wall_now);
    presence_->session_closed(id_);
  }
}

void Session::replace_spec(SessionSpec spec, SteadyTime now) {
  std::lock_guard lock(mu_);
  spec_ = std::move(spec);
  remove_unlisted_locked(now);
}

void Session::add_participant(Identity identity) {
  std::lock_guard lock(mu_);
  for (auto& p : spec_.participants) {
    if (p.user_id == identity.user_id) {
      p.display_name = std::move(identity.display_name);
      return;
    }
  }
  spec_.participants.push_back(std::move(identity));
}

void Session::remove_participant(std::string_view user_id, SteadyTime now) {
  std::lock_guard lock(mu_);
  std::erase_if(spec_.participants, [&](const Identity& p) { return p.user_id == user_id; });
  auto it =
      std::find_if(members_.begin(), members_.end(), [&](const auto& m) { return m->user_id() == user_id; });
  if (it != members_.end()) remove_member_locked(it, LeaveCause::removed, now);
}

void Session::shutdown() {
  std::lock_guard lock(mu_);
  // With a resume window the entries stay in the store: the other nodes take this node's
  // departure as a lost connection (reconnecting), and its clients resume elsewhere.
  const bool keep_places = settings_.resume_window.count() > 0;
  for (auto& m : members_) {
    if (!m->local_) continue;
    m->active_ = false;
    if (auto ep = m->endpoint()) ep->close(CloseCode::going_away, nullptr);
    if (presence_ != nullptr && !keep_places) presence_->disconnected(id_, m->user_id(), m->connection_id());
  }
  members_.clear();
  members_cleared_locked();
}

TickResult Session::tick(SteadyTime now, WallTime wall_now) {
  std::lock_guard lock(mu_);
  if (status_ == Status::ended)
    return now - ended_ >= settings_.ended_retention ? TickResult::forget : TickResult::ended;
  sync_wall_locked(now, wall_now);
  expire_locked(now);
  refresh_ice_locked(now, wall_now);
  const bool started = status_ == Status::started;
  const bool completed = started && spec_.duration.count() > 0 && now - started_ >= spec_.duration;
  const bool never_started = status_ == Status::waiting && now - created_ >= settings_.start_timeout;
  const bool left_empty = started && members_.empty() && now - empty_since_ >= settings_.empty_timeout;
  if (completed) {
    end_locked(EndReason::completed, now, wall_now);
  } else if (never_started || left_empty) {
    end_locked(EndReason::timeout, now, wall_now);
  }
  return status_ == Status::ended ? TickResult::ended : TickResult::live;
}

SessionSnapshot Session::snapshot() const {
  std::lock_guard lock(mu_);
  SessionSnapshot s;
  s.session_id = id_;
  s.spec = spec_;
  s.status = status_;
  s.created_at = created_wall_;
  s.started_at = started_wall_;
  s.ended_at = ended_wall_;
  s.end_reason = end_reason_;
  s.attendance = attendance_.records();
  s.connected.reserve(members_.size());
  for (const auto& m : members_) {
    s.connected.push_back(m->user_id());
    if (m->reconnecting_) s.reconnecting.push_back(m->user_id());
  }
  return s;
}

std::size_t Session::connected_count() const {
  std::lock_guard lock(mu_);
  return members_.size();
}

std::size_t Session::local_count() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(
      std::count_if(members_.begin(), members_.end(), [](const auto& m) { return m->local_; }));
}

IceTransportPolicy Session::policy_locked() const {
  if (spec_.ice_transport_policy) return *spec_.ice_transport_policy;
  return settings_.ice ? settings_.ice->default_policy : IceTransportPolicy::all;
}

void Session::refresh_ice_locked(SteadyTime now, WallTime wall_now) {
  if (!settings_.ice) return;
  const auto after = settings_.ice->refresh_after();
  if (after.count() <= 0) return;
  for (const auto& m : members_) {
    if (!m->local_ || now - m->ice_sent_ < after) continue;
    m->ice_sent_ = now;
    if (auto ep = m->endpoint()) {
      ep->send(make_payload(protocol::ice_servers(ice_servers_json(*settings_.ice, m->user_id(), wall_now))));
    }
  }
}

void Session::remove_unlisted_locked(SteadyTime now) {
  for (auto it = members_.begin(); it != members_.end();) {
    if (spec_.find((*it)->user_id()) == nullptr) {
      const auto index = it - members_.begin();
      remove_member_locked(it, LeaveCause::removed, now);
      it = members_.begin() + index;
    } else {
      ++it;
    }
  }
}

}  // namespace sig::domain
