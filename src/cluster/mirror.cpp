#include "cluster/mirror.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.hpp"
#include "common/utf8.hpp"

namespace sig::cluster {

using redis::Reply;

namespace {

Fields sorted(Fields fields) {
  std::sort(fields.begin(), fields.end());
  return fields;
}

// Shared countdown: runs `then` when every started piece of work has reported.
struct Countdown {
  std::size_t left = 1;  // the starter's own share
  std::function<void()> then;
  void done() {
    if (--left == 0 && then) then();
  }
};

}  // namespace

void Mirror::host(const std::string& session_id, Ready ready) {
  ++hosted_[session_id];
  visitors_.erase(session_id);
  // The first of the confirmation and the deadline runs `ready` (both on the strand).
  struct Wait {
    boost::asio::steady_timer timer;
    Ready ready;
    void finish(bool in_time) {
      if (!ready) return;
      timer.cancel();
      auto r = std::move(ready);
      ready = nullptr;
      r(in_time);
    }
  };
  auto w = std::make_shared<Wait>(Wait{boost::asio::steady_timer(ctx_.strand), std::move(ready)});
  w->timer.expires_after(std::min<std::chrono::milliseconds>(kHostDeadline, ctx_.options.node_ttl));
  w->timer.async_wait([w](boost::system::error_code ec) {
    if (!ec) w->finish(false);
  });
  ctx_.sub->subscribe(
      ctx_.layout.session_channel(session_id),
      [this](const std::string& c, const std::string& m) { on_message(c, m); },
      [this, w](std::error_code) { boost::asio::dispatch(ctx_.strand, [w] { w->finish(true); }); });
}

void Mirror::joined(const std::string& session_id) {
  const auto it = hosted_.find(session_id);
  if (it != hosted_.end() && it->second > 0) --it->second;
  release(session_id);
}

bool Mirror::idle(const std::string& session_id) const {
  const auto it = hosted_.find(session_id);
  return (it == hosted_.end() || it->second == 0) && ctx_.hub->local_members(session_id).empty();
}

void Mirror::release(const std::string& session_id) {
  if (!hosted_.contains(session_id) || !idle(session_id)) return;
  hosted_.erase(session_id);
  missing_.erase(session_id);
  settled_dir_.erase(session_id);
  ctx_.sub->unsubscribe(ctx_.layout.session_channel(session_id));
  // Its departures and end were written by their scripts; nothing here is local any more.
  ctx_.hub->apply_deleted(session_id);
  if (on_release_) on_release_(session_id);
}

void Mirror::release_idle() {
  std::vector<std::string> ids;
  for (const auto& [id, joining] : hosted_)
    ids.push_back(id);
  for (const auto& id : ids)
    release(id);
  const auto now = ctx_.clock.now();
  std::unordered_map<std::string, domain::SteadyTime> still;
  for (const auto& snap : ctx_.hub->snapshots()) {
    const auto& id = snap.session_id;
    if (hosted_.contains(id) || !ctx_.hub->local_members(id).empty()) continue;
    const auto it = visitors_.find(id);
    const auto since = it == visitors_.end() ? now : it->second;
    if (now - since >= kVisitorKeep) {
      ctx_.hub->apply_deleted(id);  // quiet: nothing is emitted or written for a dropped copy
    } else {
      still.emplace(id, since);
    }
  }
  visitors_.swap(still);
}

void Mirror::on_message(const std::string& channel, const std::string& message) {
  const std::string session_id = ctx_.layout.session_of_channel(channel);
  if (session_id.empty()) return;
  if (!utf8::valid(session_id)) {
    ctx_.skipped(channel, "channel name not valid UTF-8");
    return;
  }
  settled_dir_.erase(session_id);  // the copy moves on its own: read whole at the next sync
  const auto ev = decode_event(message);
  if (!ev) {
    ctx_.skipped(channel, "malformed session event");
    return;
  }
  auto& hub = *ctx_.hub;
  switch (ev->kind) {
    case Event::Kind::joined:
      if (ctx_.mine(ev->member.connection_id)) return;
      if (!hub.has_session(session_id)) {
        load(session_id);
        return;
      }
      hub.apply_remote_joined(session_id, ev->member, ev->resumed);
      return;
    case Event::Kind::reconnecting:
      if (ctx_.mine(ev->member.connection_id)) return;
      hub.apply_remote_reconnecting(session_id, ev->member.connection_id);
      return;
    case Event::Kind::left:
      if (ctx_.mine(ev->member.connection_id)) return;
      hub.apply_remote_left(session_id, ev->member.connection_id);
      return;
    case Event::Kind::changed: load(session_id); return;
    case Event::Kind::deleted: hub.apply_deleted(session_id); return;
  }
}

void Mirror::load(const std::string& session_id, Loaded then, bool absent_means_deleted) {
  ctx_.run(encode(ctx_.layout, SnapshotArgs{session_id}),
           [this, session_id, absent_means_deleted, then = std::move(then)](std::error_code ec,
                                                                            const Reply& reply) {
             bool read = false;
             settled_dir_.erase(session_id);
             if (ec) {
               log::debug("cannot load a session",
                          {{"node", ctx_.node_id()}, {"session", session_id}, {"error", ec.message()}});
             } else if (const auto snap = decode_snapshot(reply)) {
               apply(session_id, *snap, absent_means_deleted);
               read = true;
             }
             if (then) then(read);
           });
}

void Mirror::apply(const std::string& session_id, const SnapshotReply& snap, bool absent_means_deleted) {
  auto& hub = *ctx_.hub;
  // Gone from the store (deleted there directly): drop this node's copy too, unless the store may
  // have just lost its data and not been written again yet.
  if (snap.dir.empty() && absent_means_deleted && ctx_.settled() && hub.has_session(session_id)) {
    hub.apply_deleted(session_id);
  }
  std::uint64_t join_seq = 0;
  std::string why;
  auto record = record_from_fields(session_id, snap.dir, ctx_.clock.wall_now(), &join_seq, &why);
  if (!record) {
    if (!snap.dir.empty()) ctx_.skipped(ctx_.layout.dir(session_id), why);
    return;
  }
  // With several nodes the attendance lives in Redis (the snapshot read it atomically).
  std::vector<std::string> bad;
  record->attendance = attendance_from(snap.attendance, &bad);
  for (const auto& b : bad)
    ctx_.skipped(ctx_.layout.attendance(session_id), b);
  bad.clear();
  hub.apply_record(session_id, *record);
  std::set<std::string> local;
  for (const auto& m : hub.local_members(session_id))
    local.insert(m.connection_id);
  std::vector<domain::RosterEntry> roster;
  std::set<std::string> own;
  for (auto& e : roster_from(snap.ws, snap.peers, &bad)) {
    if (!ctx_.mine(e.connection_id)) {
      roster.push_back(std::move(e));
      continue;
    }
    own.insert(e.connection_id);
    if (!ctx_.pending(e.connection_id) && local.count(e.connection_id) == 0) remove_stale(session_id, e);
  }
  for (const auto& b : bad)
    ctx_.skipped(ctx_.layout.ws(session_id), b);
  if (record->status == domain::Status::ended) return;
  hub.reconcile(session_id, roster, join_seq, remove_missing(session_id, roster, join_seq));
  if (ctx_.settled() && own == local && converged(session_id, roster))
    settled_dir_[session_id] = sorted(snap.dir);
}

bool Mirror::converged(const std::string& session_id, const std::vector<domain::RosterEntry>& roster) const {
  if (const auto m = missing_.find(session_id); m != missing_.end() && !m->second.empty())
    return false;  // a second read decides
  std::set<std::string> listed, held;
  for (const auto& e : roster)
    listed.insert(e.connection_id);
  for (const auto& m : ctx_.hub->remote_members(session_id))
    held.insert(m.connection_id);
  return listed == held;
}

// A remote member Redis does not list (its departure event was lost) is removed only when it was
// missing at the previous read too: right after a restart of Redis (or of a Redis Cluster, whose
// shards come back one by one and answer TRYAGAIN/CLUSTERDOWN for a while) another node's restore
// may not have landed yet when this node reads.
bool Mirror::remove_missing(const std::string& session_id, const std::vector<domain::RosterEntry>& roster,
                            std::uint64_t join_seq) {
  std::set<std::string> listed, missing;
  for (const auto& e : roster)
    listed.insert(e.connection_id);
  for (const auto& m : ctx_.hub->remote_members(session_id)) {
    if (m.seq <= join_seq && !listed.contains(m.connection_id)) missing.insert(m.connection_id);
  }
  if (missing.empty()) {
    missing_.erase(session_id);
    return false;
  }
  auto& before = missing_[session_id];
  const bool again =
      ctx_.settled() && std::includes(before.begin(), before.end(), missing.begin(), missing.end());
  before = again ? std::set<std::string>{} : std::move(missing);
  return again;
}

void Mirror::remove_stale(const std::string& session_id, const domain::RosterEntry& entry) {
  if (ctx_.displaced) return;  // the entries of this node id are another process's now
  log::info("removing a stale connection of this node",
            {{"node", ctx_.node_id()}, {"session", session_id}, {"connection", entry.connection_id}});
  writes_.leave(session_id, entry.identity.user_id, entry.connection_id, false, ignore_reply);
}

void Mirror::sync(Done then) {
  auto count = std::make_shared<Countdown>();
  count->then = std::move(then);
  std::set<std::string> sessions;
  for (const auto& [id, joining] : hosted_)
    sessions.insert(id);
  for (const auto& m : ctx_.hub->local_members()) {
    // Admitted while Redis was down: hosted from now on.
    if (!hosted_.contains(m.session_id)) {
      hosted_.emplace(m.session_id, 0);
      ctx_.sub->subscribe(ctx_.layout.session_channel(m.session_id),
                          [this](const std::string& c, const std::string& msg) { on_message(c, msg); });
    }
    sessions.insert(m.session_id);
  }
  for (const auto& id : sessions) {
    ++count->left;
    auto done = [count](bool) { count->done(); };
    if (settled_dir_.contains(id)) {
      check(id, std::move(done));
    } else {
      ++sync_reads_;
      load(id, std::move(done));
    }
  }
  count->done();
}

void Mirror::check(const std::string& session_id, Loaded then) {
  ctx_.command(
      [this, session_id, then = std::move(then)](std::error_code ec, const Reply& reply) mutable {
        const auto known = settled_dir_.find(session_id);
        if (!ec && reply.is_array() && known != settled_dir_.end() &&
            sorted(fields_of(reply)) == known->second) {
          ++sync_unchanged_;
          if (then) then(true);
          return;
        }
        ++sync_reads_;
        load(session_id, std::move(then));
      },
      "HGETALL", ctx_.layout.dir(session_id));
}

}  // namespace sig::cluster
