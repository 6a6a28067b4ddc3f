// The Node's writes that decide platform events (docs/architecture.md, "Who emits an event"):
// departures, losses, start and end. Where several nodes run the same script, only the one whose
// script reports a change emits the event (through gate_).
#include <string>
#include <utility>
#include <vector>

#include "cluster/codec.hpp"
#include "cluster/keys.hpp"
#include "cluster/node.hpp"
#include "cluster/replies.hpp"
#include "cluster/scripts.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "common/utf8.hpp"

namespace sig::cluster {

using domain::EventType;
using domain::LeftReason;
using domain::PlatformEvent;
using redis::Reply;

namespace {

void ignore_reply(std::error_code, const Reply&) {}

std::string ms_text(domain::WallTime t) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

std::string seconds_arg(std::chrono::milliseconds d) {
  return std::to_string(std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(d).count()));
}

}  // namespace

void Node::emit_participant(EventType type, std::string_view session_id, std::string_view user_id,
                            std::string_view display_name, std::optional<LeftReason> reason) {
  PlatformEvent e;
  e.type = type;
  e.session_id = std::string(session_id);
  e.at = clock_.wall_now();
  e.user_id = std::string(user_id);
  e.display_name = display_name.empty() ? std::string(user_id) : std::string(display_name);
  e.left_reason = reason;
  gate_.emit(std::move(e));
}

void Node::run_leave(std::string_view session_id, std::string_view user_id, std::string_view connection_id,
                     bool always_publish, redis::ReplyCallback cb, std::string_view undo) {
  client_->eval(
      scripts::leave(),
      {keys::ws(session_id), keys::peers(session_id), keys::heartbeat(session_id, user_id),
       keys::resume(session_id), keys::attendance(session_id)},
      {std::string(user_id), std::string(connection_id), keys::session_channel(session_id),
       encode_left(user_id, connection_id), always_publish ? "1" : "0", now_ms(), std::string(undo)},
      std::move(cb));
}

// Removes another node's entry (its node is gone, or its window expired here) and emits the
// departure when this node's script was the one that removed it.
void Node::leave_remote(std::string_view session_id, std::string_view user_id, std::string_view connection_id,
                        std::string display_name) {
  run_leave(session_id, user_id, connection_id, false,
            [this, session = std::string(session_id), user = std::string(user_id),
             name = std::move(display_name)](std::error_code ec, const Reply& reply) {
              if (ec) return;
              const auto r = decode_leave(reply);
              if (!r || !r->removed) return;
              emit_participant(EventType::participant_left, session, user,
                               r->display_name.empty() ? name : r->display_name, LeftReason::disconnected);
            });
}

void Node::disconnected(std::string_view session_id, std::string_view user_id,
                        std::string_view connection_id) {
  // A local departure: the gate keeps the domain's participant.left until this script says it
  // removed the entry. Another node may have removed it first (its join replaced it, its end
  // script ended the session): that node emitted the departure. Not run: this node's stands.
  run_leave(session_id, user_id, connection_id, true,
            [this, session = std::string(session_id), connection = std::string(connection_id),
             track = tracked_write("leave")](std::error_code ec, const Reply& reply) {
              track(ec, reply);
              const auto r = ec ? std::nullopt : decode_leave(reply);
              gate_.settle_left(session, connection, ec || !r || r->removed);
            });
}

void Node::lost(std::string_view session_id, std::string_view user_id, std::string_view connection_id) {
  // The entry stays in Redis (it holds the place); the other nodes show it as reconnecting. The
  // attendance keeps the loss time: a window that expires closes the interval there. The domain
  // emitted participant.reconnecting.
  client_->eval(scripts::lost(), {keys::ws(session_id), keys::attendance(session_id)},
                {std::string(user_id), std::string(connection_id), now_ms(),
                 keys::session_channel(session_id), encode_reconnecting(user_id, connection_id), "1"},
                ignore_reply);
}

void Node::expired(std::string_view session_id, std::string_view user_id, std::string_view connection_id) {
  // Every node that mirrors the session gets here; the script removes the entry and publishes
  // the departure once, whichever node comes first, and that node emits participant.left.
  leave_remote(session_id, user_id, connection_id, {});
}

void Node::on_node_gone(const std::string& node,
                        const std::vector<std::pair<std::string, domain::RosterEntry>>& members) {
  if (options_.resume_window.count() <= 0) {
    log::warn("node is gone: its participants leave", {{"node", options_.node_id}, {"gone_node", node}});
    for (const auto& [session, m] : members) {
      leave_remote(session, m.identity.user_id, m.connection_id, m.identity.display_name);
      hub_->apply_remote_left(session, m.connection_id);
    }
    return;
  }
  // Its participants keep their places for the resume window: they come back on another node.
  // The first node whose script records the loss emits participant.reconnecting.
  log::warn("node is gone: its participants are reconnecting",
            {{"node", options_.node_id}, {"gone_node", node}});
  for (const auto& [session, m] : members) {
    client_->eval(scripts::lost(), {keys::ws(session), keys::attendance(session)},
                  {m.identity.user_id, m.connection_id, now_ms(), keys::session_channel(session), "", "0"},
                  [this, session = session, m = m](std::error_code ec, const Reply& reply) {
                    if (ec) return;
                    const auto r = decode_lost(reply);
                    if (!r || !r->changed) return;
                    emit_participant(EventType::participant_reconnecting, session, m.identity.user_id,
                                     r->display_name.empty() ? m.identity.display_name : r->display_name,
                                     std::nullopt);
                  });
    hub_->apply_node_lost(session, m.connection_id);
  }
}

void Node::started(std::string_view session_id, domain::WallTime at) {
  // The domain's session.started is kept back by the gate: emitted if this node's script started
  // it (or could not run: nobody else recorded it), dropped if another node's start won.
  auto track = tracked_write("start");
  client_->eval(scripts::start(), {keys::dir(session_id)},
                {format_iso8601(at), keys::session_channel(session_id), encode_changed()},
                [this, session = std::string(session_id), track = std::move(track)](std::error_code ec,
                                                                                    const Reply& reply) {
                  track(ec, reply);
                  gate_.settle_started(session, ec || (reply.is_integer() && reply.integer == 1));
                });
}

void Node::ended(std::string_view session_id, domain::EndReason reason, domain::WallTime at) {
  auto track = tracked_write("end");
  client_->eval(
      scripts::end(),
      {keys::dir(session_id), keys::ws(session_id), keys::peers(session_id), keys::resume(session_id),
       keys::attendance(session_id)},
      {std::string(domain::to_string(reason)), format_iso8601(at), keys::session_channel(session_id),
       encode_changed(), seconds_arg(options_.ended_retention), keys::heartbeat_prefix(session_id),
       ms_text(at)},
      [this, session = std::string(session_id), reason, at, track = std::move(track)](std::error_code ec,
                                                                                      const Reply& reply) {
        track(ec, reply);
        auto domain_copies = gate_.take_ended(session);
        if (ec) {
          // Not recorded in Redis: nobody else can have won either (the status is not ended
          // there), so this node's own account stands.
          for (auto& e : domain_copies)
            gate_.emit(std::move(e));
          return;
        }
        std::vector<std::string> bad;
        auto r = decode_end(reply, &bad);
        for (const auto& b : bad)
          skipped(keys::attendance(session), b);
        if (!r) {
          // Whether the script changed the status is unknown: this node's own account is emitted
          // (as when the script could not run) rather than an end nobody announces.
          log::error("end script: unexpected reply", {{"node", options_.node_id}, {"session", session}});
          for (auto& e : domain_copies)
            gate_.emit(std::move(e));
          return;
        }
        if (!r->changed) return;  // another node ended it and emits
        for (const auto& p : r->present) {
          emit_participant(EventType::participant_left, session, p.identity.user_id, p.identity.display_name,
                           LeftReason::session_ended);
        }
        PlatformEvent e;
        e.type = EventType::session_ended;
        e.session_id = session;
        e.at = at;
        e.end_reason = std::string(domain::to_string(reason));
        e.started_at = r->started_at;
        e.ended_at = at;
        e.attendance = std::move(r->attendance);
        gate_.emit(std::move(e));
      });
}

// After restore: the participants the others had seen as lost are back (reconnected), those whose
// window had expired there are back too (joined). The restore script says which, once.
void Node::emit_restored(const std::string& session_id, const RestoreReply& reply,
                         const std::vector<domain::LocalMember>& members) {
  auto name_of = [&](const std::string& user) {
    for (const auto& m : members) {
      if (m.identity.user_id == user) return m.identity.display_name;
    }
    return user;
  };
  for (const auto& u : reply.resumed)
    emit_participant(EventType::participant_reconnected, session_id, u, name_of(u), std::nullopt);
  for (const auto& u : reply.rejoined)
    emit_participant(EventType::participant_joined, session_id, u, name_of(u), std::nullopt);
}

}  // namespace sig::cluster
