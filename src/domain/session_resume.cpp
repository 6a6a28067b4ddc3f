// Session: lost connections, resumes and relays (docs/protocol.md, "Resume").
//
// A participant whose connection is lost (no close frame from it) stays in the session, marked
// reconnecting, until a deadline: the resume window after the loss, and never later than the
// heartbeat timeout after its last message (the user story's 30 s bound). Messages for it are
// kept, bounded, and delivered in order after its resumed `joined`. A resume replaces the
// participant object in place (same place in the join order), so the connection that was lost
// can never act on the new one: its late on_closed finds an inactive participant.
#include <algorithm>
#include <set>

#include "domain/session.hpp"
#include "protocol/server_messages.hpp"

namespace sig::domain {

using protocol::CloseCode;
using protocol::ErrorCode;

void Session::lose(const std::shared_ptr<Participant>& participant, SteadyTime now) {
  std::lock_guard lock(mu_);
  if (!participant->active_ || participant->reconnecting_) return;
  auto it = std::find(members_.begin(), members_.end(), participant);
  if (it == members_.end()) return;
  const auto deadline =
      std::min(now + settings_.resume_window, participant->last_activity() + settings_.heartbeat_timeout);
  if (settings_.resume_window.count() <= 0 || deadline <= now) {
    remove_member_locked(it, LeaveCause::closed, now);
    return;
  }
  mark_reconnecting_locked(*participant, deadline, now);
  lost_locked(*participant, now);
  if (presence_ != nullptr) presence_->lost(id_, participant->user_id(), participant->connection_id());
}

void Session::mark_reconnecting_locked(Participant& p, SteadyTime deadline, SteadyTime /*now*/) {
  if (p.reconnecting_) {
    p.deadline_ = std::min(p.deadline_, deadline);
    return;
  }
  p.reconnecting_ = true;
  p.deadline_ = deadline;
  broadcast_locked(make_payload(protocol::participant_reconnecting(p.user_id())), &p);
}

void Session::end_reconnecting_locked(Participant& p) {
  if (!p.reconnecting_) return;
  p.reconnecting_ = false;
  remote_.adopt(p.connection_id_);
  flush_queue_locked(p, p);
  broadcast_locked(make_payload(protocol::participant_reconnected(p.user_id())), &p);
}

JoinResult Session::resume_join_locked(MemberList::iterator previous, Identity identity,
                                       std::string connection_id, std::weak_ptr<Endpoint> endpoint,
                                       std::uint64_t seq, std::string resume_id, SteadyTime now,
                                       WallTime wall_now) {
  auto fresh = std::make_shared<Participant>(std::move(identity), std::move(connection_id),
                                             std::move(endpoint), now, true, seq);
  fresh->resume_id_ = std::move(resume_id);
  // The current roster, which may have changed while it was away.
  std::vector<protocol::PeerRef> peers;
  peers.reserve(members_.size());
  for (const auto& m : members_) {
    if (m != *previous) peers.push_back({m->user_id(), m->display_name()});
  }
  send_joined_locked(*fresh, peers, true, wall_now);
  resume_locked(previous, fresh, now);
  if (presence_ != nullptr) presence_->connected(id_, fresh->user_id(), fresh->connection_id());
  admitted_locked(*fresh, true, now);
  return {std::nullopt, std::move(fresh)};
}

void Session::resume_locked(MemberList::iterator old_it, const std::shared_ptr<Participant>& fresh,
                            SteadyTime now) {
  auto old = std::move(*old_it);
  *old_it = fresh;
  old->active_ = false;
  // Messages still addressed to the old connection (in flight from other nodes) follow the user.
  remote_.departed(old->connection_id(), now, old->user_id());
  if (old->local_) {
    // The server may not have noticed the loss yet: that connection is abandoned.
    if (auto ep = old->endpoint()) {
      ep->close(CloseCode::replaced, make_payload(protocol::error(
                                         ErrorCode::replaced, "this connection was resumed by a newer one")));
    }
  }
  flush_queue_locked(*old, *fresh);
  broadcast_locked(make_payload(protocol::participant_reconnected(fresh->user_id())), fresh.get());
}

void Session::flush_queue_locked(Participant& from_old, const Participant& to) {
  for (auto& item : from_old.queue_.take()) {
    if (to.local_) {
      if (auto ep = to.endpoint()) ep->send(std::move(item.message));
    } else if (presence_ != nullptr) {
      presence_->send_remote(id_, to.connection_id(), item.message);
    }
  }
}

void Session::hold_locked(Participant& target, Payload message, std::string_view from_user_id) {
  if (!target.queue_.push(std::move(message), from_user_id, settings_.resume_queue_messages,
                          settings_.resume_queue_bytes)) {
    undelivered_locked(from_user_id, target.user_id());
  }
}

void Session::undelivered_locked(std::string_view from_user_id, std::string_view target_user_id) {
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const auto& m) { return m->user_id() == from_user_id; });
  if (it == members_.end()) return;
  const auto& sender = **it;
  auto message = make_payload(protocol::error(
      ErrorCode::undelivered, "a message for a reconnecting participant was dropped", target_user_id));
  if (sender.local_) {
    if (auto ep = sender.endpoint()) ep->send(std::move(message));
  } else if (presence_ != nullptr) {
    presence_->send_remote(id_, sender.connection_id(), message);
  }
}

bool Session::deliver_locked(Participant& target, const Payload& message, std::string_view from_user_id) {
  if (target.local_ ? target.reconnecting_ : orphan_locked(target)) {
    hold_locked(target, message, from_user_id);
    return true;
  }
  if (target.local_) {
    auto ep = target.endpoint();
    if (!ep) return false;
    ep->send(message);
    return true;
  }
  if (presence_ != nullptr) presence_->send_remote(id_, target.connection_id(), message);
  return true;
}

RelayResult Session::relay(const Participant& from, std::string_view to_user_id, const Payload& message) {
  if (to_user_id == from.user_id()) return {ErrorCode::invalid_target, {}};
  std::lock_guard lock(mu_);
  if (!from.active_) return {ErrorCode::target_not_connected, {}};
  for (const auto& m : members_) {
    if (m->user_id() != to_user_id) continue;
    // The common case first: a connected participant of this node.
    if (m->local_ && !m->reconnecting_) {
      auto ep = m->endpoint();
      if (!ep) break;
      ep->send(message);
      return {};
    }
    // Another node's participant goes through its node, which keeps messages while it reconnects.
    if (!m->local_ && !orphan_locked(*m)) return {std::nullopt, m->connection_id()};
    if (!m->queue_.push(message, from.user_id(), settings_.resume_queue_messages,
                        settings_.resume_queue_bytes)) {
      return {ErrorCode::undelivered, {}};
    }
    return {};
  }
  return {ErrorCode::target_not_connected, {}};
}

void Session::expire_locked(SteadyTime now) {
  for (auto it = members_.begin(); it != members_.end();) {
    auto& m = **it;
    const auto index = it - members_.begin();
    if (m.reconnecting_ && now >= m.deadline_) {
      // The window closed without a resume: gone, and the senders of what was kept are told.
      auto kept = m.queue_.take();
      const std::string user = m.user_id(), connection = m.connection_id();
      const bool expired_remote = orphan_locked(m);
      // `closed`: gone without a goodbye (disconnected), its interval closed at the loss.
      remove_member_locked(it, LeaveCause::closed, now);
      if (expired_remote && presence_ != nullptr) presence_->expired(id_, user, connection);
      std::set<std::string> senders;
      for (const auto& k : kept)
        senders.insert(k.from_user_id);
      for (const auto& s : senders)
        undelivered_locked(s, user);
      it = members_.begin() + index;
    } else if (m.local_ && !m.reconnecting_ && now - m.last_activity() >= settings_.heartbeat_timeout) {
      remove_member_locked(it, LeaveCause::heartbeat_timeout, now);
      it = members_.begin() + index;
    } else {
      ++it;
    }
  }
}

std::size_t Session::local_reconnecting_count() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(members_.begin(), members_.end(),
                                                [](const auto& m) { return m->local_ && m->reconnecting_; }));
}

}  // namespace sig::domain
