// Session: the changes made on other nodes (several nodes sharing Redis), applied here and told
// to the local members, never echoed to the PresenceSink nor published as platform events: the
// node whose script decided a change publishes it (docs/webhooks.md).
// What a remote participant's arrival or a stored roster does is RemoteRoster's decision (and its
// bookkeeping: tombstones, orphans); the session applies it here, under its mutex.
#include <algorithm>

#include "common/time.hpp"
#include "domain/session.hpp"
#include "protocol/server_messages.hpp"

namespace sig::domain {

namespace {

// A wall time of the past as a time of this node's steady clock.
SteadyTime steady_from_wall(WallTime t, SteadyTime now, WallTime wall_now) {
  if (t >= wall_now) return now;
  return now - std::chrono::duration_cast<SteadyTime::duration>(wall_now - t);
}

}  // namespace

bool Session::admit_remote_locked(const RosterEntry& entry, SteadyTime now, bool resumed) {
  const auto verdict = remote_.admit(members_, entry, now, resumed);
  const auto existing = members_.begin() + static_cast<MemberList::difference_type>(verdict.existing);
  switch (verdict.action) {
    case RemoteRoster::Admit::ignore: return false;
    case RemoteRoster::Admit::back: end_reconnecting_locked(**existing); return true;
    case RemoteRoster::Admit::resume:
      resume_locked(existing, RemoteRoster::make_remote(entry, now), now);
      return true;
    case RemoteRoster::Admit::replace: remove_member_locked(existing, LeaveCause::replaced, now); break;
    case RemoteRoster::Admit::add: break;
  }
  auto p = RemoteRoster::make_remote(entry, now);
  broadcast_locked(make_payload(protocol::participant_joined({p->user_id(), p->display_name()})), nullptr);
  insert_member_locked(std::move(p));
  return true;
}

void Session::reconcile_locked(const std::vector<RosterEntry>& roster, std::uint64_t seq, SteadyTime now,
                               bool remove_missing, std::string_view keep_user) {
  if (remove_missing) {
    for (const auto& connection : RemoteRoster::unlisted(members_, roster, seq, keep_user)) {
      auto it = std::find_if(members_.begin(), members_.end(),
                             [&](const auto& m) { return m->connection_id() == connection; });
      if (it != members_.end()) remove_member_locked(it, LeaveCause::left, now);
    }
  }
  for (const auto* e : RemoteRoster::join_order(roster))
    (void)admit_remote_locked(*e, now);
}

void Session::apply_record(const SessionSnapshot& record, SteadyTime now, WallTime wall_now) {
  std::lock_guard lock(mu_);
  const Quiet quiet(quiet_);
  sync_wall_locked(now, wall_now);
  created_wall_ = record.created_at;
  created_ = steady_from_wall(record.created_at, now, wall_now);
  // With several nodes the attendance is the store's (read with the record); also once ended.
  if (!record.attendance.empty()) attendance_.adopt(record.attendance);
  if (status_ == Status::ended) return;
  if (!record.spec.participants.empty()) {
    spec_ = record.spec;
    remove_unlisted_locked(now);
  }
  if (record.status != Status::waiting && record.started_at) {
    const auto started = steady_from_wall(*record.started_at, now, wall_now);
    const bool announce = status_ == Status::waiting && record.status == Status::started;
    if (status_ == Status::waiting) status_ = Status::started;
    started_ = started;
    started_wall_ = record.started_at;
    started_at_text_ = format_iso8601(*record.started_at);
    if (announce) {
      if (members_.empty()) empty_since_ = now;
      broadcast_locked(make_payload(protocol::session_started(started_at_text_)), nullptr);
    }
  }
  if (record.status == Status::ended) {
    end_locked(record.end_reason.value_or(EndReason::host_ended), now, wall_now, false);
    if (record.ended_at) {
      ended_wall_ = record.ended_at;
      ended_ = steady_from_wall(*record.ended_at, now, wall_now);
    }
  }
}

void Session::apply_remote_joined(const RosterEntry& entry, SteadyTime now, bool resumed) {
  std::lock_guard lock(mu_);
  const Quiet quiet(quiet_);
  if (status_ == Status::ended) return;
  (void)admit_remote_locked(entry, now, resumed);
}

void Session::apply_remote_reconnecting(std::string_view connection_id, SteadyTime now) {
  std::lock_guard lock(mu_);
  const Quiet quiet(quiet_);
  if (status_ == Status::ended) return;
  for (const auto& m : members_) {
    // Its node keeps its place and announces its departure; the heartbeat timeout is the last
    // resort should that announcement never come.
    if (!m->local_ && m->connection_id() == connection_id) {
      mark_reconnecting_locked(*m, now + settings_.heartbeat_timeout, now);
      return;
    }
  }
}

void Session::apply_node_lost(std::string_view connection_id, SteadyTime now) {
  std::lock_guard lock(mu_);
  const Quiet quiet(quiet_);
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const auto& m) { return !m->local_ && m->connection_id() == connection_id; });
  if (it == members_.end()) return;
  if (settings_.resume_window.count() <= 0) {
    remove_member_locked(it, LeaveCause::left, now);
    return;
  }
  remote_.orphan(connection_id);
  mark_reconnecting_locked(**it, now + settings_.remote_resume_window, now);
}

void Session::apply_remote_left(std::string_view connection_id, SteadyTime now) {
  std::lock_guard lock(mu_);
  const Quiet quiet(quiet_);
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const auto& m) { return !m->local_ && m->connection_id() == connection_id; });
  if (it != members_.end()) {
    remove_member_locked(it, LeaveCause::left, now);
  } else if (!remote_.gone(connection_id, now)) {
    // Not known yet (its `joined` may come late): remember it is gone.
    remote_.departed(connection_id, now);
  }
}

void Session::reconcile(const std::vector<RosterEntry>& roster, std::uint64_t seq, SteadyTime now,
                        bool remove_missing) {
  std::lock_guard lock(mu_);
  const Quiet quiet(quiet_);
  if (status_ == Status::ended) return;
  reconcile_locked(roster, seq, now, remove_missing);
}

bool Session::deliver(std::string_view connection_id, const Payload& message, std::string_view from_user_id) {
  std::lock_guard lock(mu_);
  for (const auto& m : members_) {
    if (m->local_ && m->connection_id() == connection_id) return deliver_locked(*m, message, from_user_id);
  }
  // Sent to a connection that has resumed since: it follows its user.
  for (const auto& user : remote_.forward_users(connection_id)) {
    for (const auto& m : members_) {
      if (m->user_id() == user && m->connection_id() != connection_id)
        return deliver_locked(*m, message, from_user_id);
    }
  }
  return false;
}

void Session::apply_deleted(SteadyTime now, WallTime wall_now) {
  std::lock_guard lock(mu_);
  const Quiet quiet(quiet_);
  if (status_ != Status::ended) end_locked(EndReason::host_ended, now, wall_now, false);
}

std::vector<LocalMember> Session::local_members() const {
  std::lock_guard lock(mu_);
  std::vector<LocalMember> out;
  for (const auto& m : members_) {
    if (!m->local_) continue;
    LocalMember lm{id_,           m->identity_,     m->connection_id_, m->seq_,
                   m->resume_id_, m->reconnecting_, std::nullopt};
    if (m->reconnecting_) lm.lost_at = attendance_.lost_at(m->identity_.user_id);
    out.push_back(std::move(lm));
  }
  return out;
}

std::vector<RosterEntry> Session::remote_members() const {
  std::lock_guard lock(mu_);
  return RemoteRoster::remote_members(members_);
}

}  // namespace sig::domain
