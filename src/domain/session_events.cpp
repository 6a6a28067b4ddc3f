// Session: the platform events (docs/webhooks.md) this node decides, and the attendance they
// feed. Published under the session's mutex, so they come in the session's order; the sink must
// not block (domain/events.hpp). A participant of another node, or a change applied from another
// node (quiet_), publishes nothing here: that node's script decided it, and it publishes.
#include "domain/session.hpp"

namespace sig::domain {

WallTime Session::wall_at(SteadyTime now) const {
  // The steady clock measures the intervals (immune to a wall clock stepped meanwhile); the pair
  // is refreshed on every call that has a wall time (at least every tick).
  return wall_anchor_ + std::chrono::duration_cast<WallTime::duration>(now - wall_anchor_steady_);
}

void Session::sync_wall_locked(SteadyTime now, WallTime wall_now) {
  wall_anchor_steady_ = now;
  wall_anchor_ = wall_now;
}

void Session::publish_locked(PlatformEvent event) const {
  if (events_ != nullptr) events_->publish(std::move(event));
}

void Session::publish_participant_locked(EventType type, const Participant& p, WallTime at,
                                         std::optional<LeftReason> reason) const {
  if (events_ == nullptr) return;
  PlatformEvent e;
  e.type = type;
  e.session_id = id_;
  e.at = at;
  e.user_id = p.user_id();
  e.display_name = p.display_name();
  e.left_reason = reason;
  e.connection_id = p.connection_id();
  events_->publish(std::move(e));
}

void Session::admitted_locked(const Participant& p, bool resumed, SteadyTime now) {
  if (!publishing_locked(p)) return;
  const auto at = wall_at(now);
  if (resumed) {
    attendance_.resumed(p.user_id(), p.display_name(), at);
    publish_participant_locked(EventType::participant_reconnected, p, at);
  } else {
    attendance_.joined(p.user_id(), p.display_name(), at);
    publish_participant_locked(EventType::participant_joined, p, at);
  }
}

void Session::lost_locked(const Participant& p, SteadyTime now) {
  if (!publishing_locked(p)) return;
  const auto at = wall_at(now);
  attendance_.lost(p.user_id(), at);
  publish_participant_locked(EventType::participant_reconnecting, p, at);
}

void Session::departed_locked(const Participant& p, LeaveCause cause, SteadyTime now) {
  if (!publishing_locked(p)) return;
  const auto at = wall_at(now);
  // A reconnecting participant gone without a resume (its window closed): the time since the
  // loss was not spent connected after all. Any other departure ends the interval now.
  if (p.reconnecting_ && cause == LeaveCause::closed) {
    attendance_.expired(p.user_id(), at);
  } else {
    attendance_.left(p.user_id(), at);
  }
  publish_participant_locked(EventType::participant_left, p, at, left_reason(cause));
}

void Session::started_locked(WallTime wall_now) {
  if (quiet_ || events_ == nullptr) return;
  PlatformEvent e;
  e.type = EventType::session_started;
  e.session_id = id_;
  e.at = wall_now;
  e.started_at = wall_now;
  publish_locked(std::move(e));
}

void Session::ended_locked(EndReason reason, SteadyTime now, WallTime wall_now) {
  if (quiet_) return;
  sync_wall_locked(now, wall_now);
  for (const auto& m : members_) {
    if (publishing_locked(*m))
      publish_participant_locked(EventType::participant_left, *m, wall_now, LeftReason::session_ended);
  }
  attendance_.end(wall_now);
  if (events_ == nullptr) return;
  PlatformEvent e;
  e.type = EventType::session_ended;
  e.session_id = id_;
  e.at = wall_now;
  e.end_reason = std::string(to_string(reason));
  e.started_at = started_wall_;
  e.ended_at = wall_now;
  e.attendance = attendance_.records();
  publish_locked(std::move(e));
}

}  // namespace sig::domain
