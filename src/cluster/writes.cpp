#include "cluster/writes.hpp"

#include <algorithm>
#include <vector>

#include "cluster/calls.hpp"
#include "common/log.hpp"

namespace sig::cluster {

using domain::EventType;
using domain::LeftReason;
using domain::PlatformEvent;
using redis::Reply;

void Writes::leave(std::string_view session_id, std::string_view user_id, std::string_view connection_id,
                   bool always_publish, redis::ReplyCallback cb, std::string undo) {
  LeaveArgs a;
  a.session_id = std::string(session_id);
  a.user_id = std::string(user_id);
  a.connection_id = std::string(connection_id);
  a.always_publish = always_publish;
  a.now_ms = ctx_.now_ms();
  a.undo = std::move(undo);
  ctx_.run(encode(ctx_.layout, a), std::move(cb));
}

void Writes::leave_remote(std::string_view session_id, std::string_view user_id,
                          std::string_view connection_id, std::string display_name) {
  leave(session_id, user_id, connection_id, false,
        [this, session = std::string(session_id), user = std::string(user_id),
         name = std::move(display_name)](std::error_code ec, const Reply& reply) {
          if (ec) return;
          const auto r = decode_leave(reply);
          if (!r || !r->removed) return;
          ctx_.emit_participant(EventType::participant_left, session, user,
                                r->display_name.empty() ? name : r->display_name, LeftReason::disconnected);
        });
}

void Writes::lost_remote(const std::string& session_id, const domain::RosterEntry& m) {
  LostArgs a{session_id, m.identity.user_id, m.connection_id, ctx_.now_ms(), false};
  ctx_.run(encode(ctx_.layout, a), [this, session_id, m](std::error_code ec, const Reply& reply) {
    if (ec) return;
    const auto r = decode_lost(reply);
    if (!r || !r->changed) return;
    ctx_.emit_participant(EventType::participant_reconnecting, session_id, m.identity.user_id,
                          r->display_name.empty() ? m.identity.display_name : r->display_name, std::nullopt);
  });
}

void Writes::disconnected(std::string_view session_id, std::string_view user_id,
                          std::string_view connection_id) {
  // A local departure: the gate keeps the domain's participant.left until this script says it
  // removed the entry. Another node may have removed it first (its join replaced it, its end
  // script ended the session): that node emitted the departure. Not run: this node's stands.
  if (ctx_.displaced) {
    // Another process holds this node id, and may use this connection id: not this node's entry.
    ctx_.gate.settle_left(std::string(session_id), std::string(connection_id), false);
    return;
  }
  leave(session_id, user_id, connection_id, true,
        [this, session = std::string(session_id), connection = std::string(connection_id),
         track = ctx_.tracked_write("leave")](std::error_code ec, const Reply& reply) {
          track(ec, reply);
          const auto r = ec ? std::nullopt : decode_leave(reply);
          ctx_.gate.settle_left(session, connection, ec || !r || r->removed);
        });
}

void Writes::lost(std::string_view session_id, std::string_view user_id, std::string_view connection_id) {
  // The entry stays in Redis (it holds the place); the other nodes show it as reconnecting. The
  // attendance keeps the loss time: a window that expires closes the interval there. The domain
  // emitted participant.reconnecting.
  LostArgs a{std::string(session_id), std::string(user_id), std::string(connection_id), ctx_.now_ms(), true};
  ctx_.run(encode(ctx_.layout, a), ignore_reply);
}

void Writes::expired(std::string_view session_id, std::string_view user_id, std::string_view connection_id) {
  // Every node that holds the session gets here; the script removes the entry and publishes the
  // departure once, whichever node comes first, and that node emits participant.left.
  leave_remote(session_id, user_id, connection_id, {});
}

void Writes::started(std::string_view session_id, domain::WallTime at) {
  // The domain's session.started is kept back by the gate: emitted if this node's script started
  // it (or could not run: nobody else recorded it), dropped if another node's start won.
  ctx_.run(encode(ctx_.layout, StartArgs{std::string(session_id), at}),
           [this, session = std::string(session_id), track = ctx_.tracked_write("start")](
               std::error_code ec, const Reply& reply) {
             track(ec, reply);
             ctx_.gate.settle_started(session, ec || decode_start(reply).value_or(false));
           });
}

void Writes::ended(std::string_view session_id, domain::EndReason reason, domain::WallTime at) {
  EndArgs a{std::string(session_id), reason, at, ctx_.options.ended_retention};
  ctx_.run(encode(ctx_.layout, a),
           [this, session = std::string(session_id), reason, at, track = ctx_.tracked_write("end")](
               std::error_code ec, const Reply& reply) {
             track(ec, reply);
             auto domain_copies = ctx_.gate.take_ended(session);
             if (ec) {
               // Not recorded in Redis: nobody else can have won either (the status is not ended there),
               // so this node's own account stands.
               for (auto& e : domain_copies)
                 ctx_.gate.emit(std::move(e));
               return;
             }
             std::vector<std::string> bad;
             auto r = decode_end(reply, &bad);
             for (const auto& b : bad)
               ctx_.skipped(ctx_.layout.attendance(session), b);
             if (!r) {
               // Whether the script changed the status is unknown: this node's own account is emitted (as
               // when the script could not run) rather than an end nobody announces.
               log::error("end script: unexpected reply", {{"node", ctx_.node_id()}, {"session", session}});
               for (auto& e : domain_copies)
                 ctx_.gate.emit(std::move(e));
               return;
             }
             if (!r->changed) return;  // another node ended it and emits
             for (const auto& p : r->present) {
               ctx_.emit_participant(EventType::participant_left, session, p.identity.user_id,
                                     p.identity.display_name, LeftReason::session_ended);
             }
             PlatformEvent e;
             e.type = EventType::session_ended;
             e.session_id = session;
             e.at = at;
             e.end_reason = std::string(domain::to_string(reason));
             e.started_at = r->started_at;
             e.ended_at = at;
             e.attendance = std::move(r->attendance);
             ctx_.gate.emit(std::move(e));
           });
}

void Writes::directory_changed(std::string_view session_id, const domain::SessionSpec& spec,
                               domain::WallTime created_at) {
  ctx_.run(encode(ctx_.layout, PutArgs{std::string(session_id), spec, created_at}),
           ctx_.tracked_write("session directory entry"));
}

void Writes::deleted(std::string_view session_id) {
  ctx_.run(encode(ctx_.layout, RemoveArgs{std::string(session_id)}), ctx_.tracked_write("delete"));
}

void Writes::heartbeat(std::string_view session_id, std::string_view user_id, domain::WallTime at) {
  std::lock_guard lock(heartbeats_mu_);
  heartbeats_[{std::string(session_id), std::string(user_id)}] = at;
}

void Writes::flush_heartbeats() {
  std::map<std::pair<std::string, std::string>, domain::WallTime> batch;
  {
    std::lock_guard lock(heartbeats_mu_);
    batch.swap(heartbeats_);
  }
  const auto now = ctx_.clock.now();
  const auto tick = std::max(ctx_.options.node_ttl / 3, std::chrono::milliseconds(50));
  const auto every = ctx_.options.heartbeat_interval - tick;
  std::vector<std::pair<std::pair<std::string, std::string>, domain::WallTime>> later;
  // Sent back to back: one pipelined batch per tick.
  for (auto& [key, at] : batch) {
    const auto it = written_.find(key);
    if (it != written_.end() && now - it->second < every) {
      later.emplace_back(key, at);  // the freshest value goes at a later tick
      continue;
    }
    ctx_.command(ignore_reply, "SET", ctx_.layout.heartbeat(key.first, key.second), ms_of(at), "XX", "EX",
                 ctx_.options.heartbeat_ttl.count());
    written_[key] = now;
  }
  {
    std::lock_guard lock(heartbeats_mu_);
    for (auto& [key, at] : later)
      heartbeats_.try_emplace(key, at);
  }
  // Participants gone for longer than their key's TTL: forgotten.
  std::erase_if(written_, [&](const auto& kv) { return now - kv.second > ctx_.options.heartbeat_ttl * 2; });
}

}  // namespace sig::cluster
