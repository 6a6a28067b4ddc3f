#include "cluster/restore.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "common/log.hpp"
#include "common/utf8.hpp"

namespace sig::cluster {

using redis::Reply;

void Restore::run(Done then) {
  // Shared countdown: `then` once every script has answered (the starter holds one share).
  struct Countdown {
    std::size_t left = 1;
    Done then;
    void done() {
      if (--left == 0 && then) then();
    }
  };
  auto count = std::make_shared<Countdown>();
  count->then = std::move(then);
  auto& hub = *ctx_.hub;
  std::map<std::string, std::vector<domain::LocalMember>> locals;
  for (auto& m : hub.local_members())
    locals[m.session_id].push_back(std::move(m));
  std::set<std::string> live;
  for (const auto& [session, members] : locals) {
    for (const auto& m : members)
      live.insert(m.connection_id);
  }
  // Joins whose reply was lost and that are gone since: their entries, if written, are stale.
  auto gone = std::make_shared<std::vector<std::string>>();
  for (const auto& c : admission_.doubtful()) {
    if (live.count(c) == 0) gone->push_back(c);
  }
  auto& seen_seq = admission_.seen_seq();
  const auto now = ctx_.now_ms();
  std::set<std::string> sessions;
  for (const auto& snap : hub.snapshots()) {
    sessions.insert(snap.session_id);
    if (snap.status == domain::Status::ended) continue;
    RestoreArgs a;
    a.session_id = snap.session_id;
    a.node_id = ctx_.node_id();
    a.ws_ttl = ctx_.options.ws_ttl;
    a.now_ms = now;
    a.heartbeat_ttl = ctx_.options.heartbeat_ttl;
    const auto seen = seen_seq.find(snap.session_id);
    a.known_seq = seen == seen_seq.end() ? 0 : seen->second;
    a.dir = fields_of_record(snap);
    a.doubtful = *gone;
    const auto& members = locals[snap.session_id];
    for (const auto& m : members) {
      RestoreMember rm;
      rm.user_id = m.identity.user_id;
      rm.connection_id = m.connection_id;
      rm.display_name = m.identity.display_name;
      rm.resume_id = m.resume_id;
      rm.seq = m.seq;
      // Attendance: written only where Redis has none (it lost its data): this node's view.
      const auto rec = std::find_if(snap.attendance.begin(), snap.attendance.end(),
                                    [&](const auto& r) { return r.user_id == m.identity.user_id; });
      if (rec != snap.attendance.end()) rm.attendance_json = attendance_json(*rec);
      // Still reconnecting here: the store keeps it lost (its window may yet close at the loss).
      if (m.reconnecting) rm.lost_ms = m.lost_at ? ms_of(*m.lost_at) : now;
      a.members.push_back(std::move(rm));
    }
    ++count->left;
    ctx_.run(encode(ctx_.layout, a), [this, count, gone, session = snap.session_id, members](
                                         std::error_code ec, const Reply& reply) {
      if (ec) {
        log::warn("cannot restore a session",
                  {{"node", ctx_.node_id()}, {"error", ec.message()}, {"reply", utf8::printable(reply.str)}});
      } else {
        if (const auto r = decode_restore(reply)) emit_restored(session, *r, members);
        for (const auto& c : *gone)
          admission_.doubtful().erase(c);
      }
      count->done();
    });
  }
  std::erase_if(seen_seq, [&](const auto& kv) { return sessions.count(kv.first) == 0; });
  count->done();
}

// The participants the others had seen as lost are back (reconnected), those whose window had
// expired there are back too (joined). The restore script says which, once.
void Restore::emit_restored(const std::string& session_id, const RestoreReply& reply,
                            const std::vector<domain::LocalMember>& members) {
  auto name_of = [&](const std::string& user) {
    for (const auto& m : members) {
      if (m.identity.user_id == user) return m.identity.display_name;
    }
    return user;
  };
  using domain::EventType;
  for (const auto& u : reply.resumed)
    ctx_.emit_participant(EventType::participant_reconnected, session_id, u, name_of(u), std::nullopt);
  for (const auto& u : reply.rejoined)
    ctx_.emit_participant(EventType::participant_joined, session_id, u, name_of(u), std::nullopt);
}

}  // namespace sig::cluster
