// Session: the changes made on other nodes (several nodes sharing Redis), applied here and told
// to the local members, never echoed to the PresenceSink nor published as platform events: the
// node whose script decided a change publishes it (docs/webhooks.md).
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

bool Session::add_remote_locked(const RosterEntry& entry, SteadyTime now) {
  if (entry.connection_id.empty() || tombstoned_locked(entry.connection_id, now)) return false;
  for (auto& m : members_) {
    if (m->connection_id() == entry.connection_id) return false;
  }
  auto existing = std::find_if(members_.begin(), members_.end(),
                               [&](const auto& m) { return m->user_id() == entry.identity.user_id; });
  Identity identity = entry.identity;
  if (identity.display_name.empty()) identity.display_name = identity.user_id;
  auto p = std::make_shared<Participant>(std::move(identity), entry.connection_id, std::weak_ptr<Endpoint>{},
                                         now, false, entry.seq);
  if (existing != members_.end()) {
    if ((*existing)->seq_ > entry.seq) return false;  // a stale view of an older connection
    if ((*existing)->seq_ == entry.seq && entry.seq != 0) {
      // The same place in the join order: the same incarnation, resumed on another connection
      // (its resume event was missed): no departure, no newcomer.
      resume_locked(existing, p, now);
      return true;
    }
    remove_member_locked(existing, LeaveCause::replaced, now);
  }
  broadcast_locked(make_payload(protocol::participant_joined({p->user_id(), p->display_name()})), nullptr);
  insert_member_locked(std::move(p));
  return true;
}

void Session::reconcile_locked(const std::vector<RosterEntry>& roster, std::uint64_t seq, SteadyTime now,
                               bool remove_missing, std::string_view keep_user) {
  for (auto it = members_.begin(); remove_missing && it != members_.end();) {
    const auto& m = **it;
    if (!keep_user.empty() && m.user_id() == keep_user) {
      ++it;
      continue;
    }
    const bool listed = std::any_of(roster.begin(), roster.end(), [&](const RosterEntry& e) {
      return e.connection_id == m.connection_id();
    });
    if (!m.local_ && !listed && m.seq_ <= seq) {
      const auto index = it - members_.begin();
      remove_member_locked(it, LeaveCause::left, now);
      it = members_.begin() + index;
    } else {
      ++it;
    }
  }
  std::vector<const RosterEntry*> ordered;
  ordered.reserve(roster.size());
  for (const auto& e : roster)
    ordered.push_back(&e);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto* a, const auto* b) { return a->seq < b->seq; });
  for (const auto* e : ordered)
    (void)add_remote_locked(*e, now);
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
  if (resumed && !entry.connection_id.empty() && !tombstoned_locked(entry.connection_id, now)) {
    auto existing = std::find_if(members_.begin(), members_.end(),
                                 [&](const auto& m) { return m->user_id() == entry.identity.user_id; });
    if (existing != members_.end()) {
      if ((*existing)->connection_id() == entry.connection_id) {
        // Its node announces it again (it was presumed dead, or lost Redis's data): back.
        end_reconnecting_locked(**existing);
        return;
      }
      Identity identity = entry.identity;
      if (identity.display_name.empty()) identity.display_name = identity.user_id;
      auto p = std::make_shared<Participant>(std::move(identity), entry.connection_id,
                                             std::weak_ptr<Endpoint>{}, now, false, entry.seq);
      resume_locked(existing, p, now);
      return;
    }
  }
  (void)add_remote_locked(entry, now);
}

void Session::apply_remote_left(std::string_view connection_id, SteadyTime now) {
  std::lock_guard lock(mu_);
  const Quiet quiet(quiet_);
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const auto& m) { return !m->local_ && m->connection_id() == connection_id; });
  if (it != members_.end()) {
    remove_member_locked(it, LeaveCause::left, now);
  } else if (!tombstoned_locked(connection_id, now)) {
    // Not known yet (its `joined` may come late): remember it is gone.
    tombstone_locked(connection_id, now);
  }
}

void Session::reconcile(const std::vector<RosterEntry>& roster, std::uint64_t seq, SteadyTime now,
                        bool remove_missing) {
  std::lock_guard lock(mu_);
  const Quiet quiet(quiet_);
  if (status_ == Status::ended) return;
  reconcile_locked(roster, seq, now, remove_missing);
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
  std::vector<RosterEntry> out;
  for (const auto& m : members_) {
    if (!m->local_) out.push_back({m->identity_, m->connection_id_, m->seq_});
  }
  return out;
}

}  // namespace sig::domain
