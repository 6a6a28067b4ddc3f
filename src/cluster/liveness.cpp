#include "cluster/liveness.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "common/log.hpp"
#include "common/time.hpp"

namespace sig::cluster {

using redis::Reply;

void Liveness::write_alive(std::function<void(bool handled)> then) {
  if (then) after_verdict_ = std::move(then);
  // The compare-and-set refresh writes the key again where it is gone (fence.hpp: the verdict).
  ctx_.fence->refresh();
  alive_written_ = true;
}

void Liveness::start() {
  tick();
}

void Liveness::stop() {
  timer_.cancel();
  ctx_.claim->release();  // only while it is this process's
}

void Liveness::schedule() {
  if (ctx_.stopping) return;
  timer_.expires_after(std::max(ctx_.options.node_ttl / 3, std::chrono::milliseconds(50)));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || ctx_.stopping) return;
    tick();
  });
}

void Liveness::tick() {
  schedule();
  const auto at = ctx_.clock.now();
  if (last_tick_ != domain::SteadyTime{} && at - last_tick_ > ctx_.options.node_ttl * 2 / 3 &&
      stall_from_ == domain::SteadyTime{}) {
    stall_from_ = last_tick_;
    stall_seen_ = at;
  }
  last_tick_ = at;
  if (ctx_.stopping || !ctx_.client->connected()) return;
  if (ctx_.displaced) {
    claim_again();  // nothing else until this node holds its id again
    return;
  }
  ctx_.fence->refresh();  // the verdict: on_verdict()
  if (!ctx_.synced) return;
  writes_.flush_heartbeats();
  mirror_.release_idle();
  check_nodes();
  deadlines_.tick();
  const auto now = ctx_.clock.now();
  if (now >= next_sync_) {
    next_sync_ = now + ctx_.options.sync_interval;
    mirror_.sync();
  }
  refresh_ttls();
}

// The presence hashes of the hosted sessions expire (--ws-ttl) unless refreshed: once per third of
// their TTL per session (joins refresh them too), never per participant.
void Liveness::refresh_ttls() {
  const auto now = ctx_.clock.now();
  const auto every = std::chrono::duration_cast<domain::SteadyTime::duration>(ctx_.options.ws_ttl) / 3;
  std::unordered_map<std::string, domain::SteadyTime> still;
  for (const auto& m : ctx_.hub->local_members()) {
    if (still.contains(m.session_id)) continue;
    const auto it = ttl_refreshed_.find(m.session_id);
    if (it == ttl_refreshed_.end() || now - it->second < every) {
      // Newly hosted: its join (or the restore) has just set the TTLs.
      still.emplace(m.session_id, it == ttl_refreshed_.end() ? now : it->second);
      continue;
    }
    const auto ttl = ctx_.options.ws_ttl.count();
    ctx_.command(ignore_reply, "EXPIRE", ctx_.layout.ws(m.session_id), ttl);
    ctx_.command(ignore_reply, "EXPIRE", ctx_.layout.peers(m.session_id), ttl);
    ctx_.command(ignore_reply, "EXPIRE", ctx_.layout.resume(m.session_id), ttl);
    still.emplace(m.session_id, now);
  }
  ttl_refreshed_.swap(still);
}

void Liveness::check_nodes() {
  if (!ctx_.settled()) return;
  std::map<std::string, std::vector<std::pair<std::string, domain::RosterEntry>>> by_node;
  for (auto& [session, member] : ctx_.hub->remote_members()) {
    const auto node = std::string(keys::node_of(member.connection_id));
    if (node.empty() || node == ctx_.node_id()) continue;
    by_node[node].emplace_back(session, std::move(member));
  }
  std::erase_if(suspects_, [&](const std::string& n) { return !by_node.contains(n); });
  for (auto& [node, members] : by_node) {
    ctx_.command(
        [this, node = node, members = std::move(members)](std::error_code ec, const Reply& reply) {
          if (ec || !reply.is_integer()) return;
          if (reply.integer != 0) {
            suspects_.erase(node);
            return;
          }
          // Settled again: this node's own alive key may have just been found missing (Redis lost
          // its data), in which case every other key is missing too and proves nothing.
          if (!ctx_.settled()) return;
          // Missing at two checks in a row, a tick apart: a node whose one write failed (a shard
          // still answering CLUSTERDOWN after a restart, while this node's shard already
          // answers) writes it again at its next tick.
          if (suspects_.insert(node).second) return;
          suspects_.erase(node);
          on_node_gone(node, members);
        },
        "EXISTS", ctx_.layout.alive(node));
  }
}

// The node's alive key is gone while Redis stayed up: it was lost (FLUSHALL, a Redis restart
// without persistence) or this node stalled longer than --node-ttl. The other nodes saw its
// participants as lost (reconnecting) at worst; its connections stay open, its state is written
// again and announced as resumed, so nobody re-meshes. With no resume window the old rule holds:
// the others have removed them, so the connections are closed (1001) and the clients rejoin.
// `stalled`: this process itself stopped running past the fence's window (fence.hpp): what its
// clients sent meanwhile was held and is dropped here; nothing it says goes out before its state
// is written again (the fence reopens then).
void Liveness::on_presumed_dead(bool stalled) {
  ctx_.unsettle();
  if (stalled) {
    const auto dropped = ctx_.fence->drop();
    log::warn(
        "this node stalled past --node-ttl and was presumed dead: the messages held meanwhile are dropped",
        {{"node", ctx_.node_id()}, {"dropped", dropped}});
  }
  // Not stalled (Redis stalled or lost its data): the fence was confirmed, nothing to reopen.
  auto reopen = [this, stalled] {
    if (stalled) ctx_.fence->reopen(ctx_.clock.now());
  };
  if (ctx_.options.resume_window.count() <= 0) {
    log::warn("this node was presumed dead (its alive key is gone): closing its connections",
              {{"node", ctx_.node_id()}});
    ctx_.hub->shutdown();
    // Reopened once the restore is written: a frame a connection thread was relaying while the
    // connections closed is held meanwhile, and dropped.
    restore_.run(reopen);
    return;
  }
  log::warn("this node's alive key was gone (Redis lost it, or this node stalled): writing its state again",
            {{"node", ctx_.node_id()}});
  restore_.run([this, reopen] {
    for (const auto& m : ctx_.hub->local_members()) {
      ctx_.publish(ctx_.layout.session_channel(m.session_id),
                   encode_joined({m.identity, m.connection_id, m.seq}, true));
    }
    reopen();
  });
}

void Liveness::on_node_gone(const std::string& node,
                            const std::vector<std::pair<std::string, domain::RosterEntry>>& members) {
  if (ctx_.options.resume_window.count() <= 0) {
    log::warn("node is gone: its participants leave", {{"node", ctx_.node_id()}, {"gone_node", node}});
    for (const auto& [session, m] : members) {
      writes_.leave_remote(session, m.identity.user_id, m.connection_id, m.identity.display_name);
      ctx_.hub->apply_remote_left(session, m.connection_id);
    }
    return;
  }
  // Its participants keep their places for the resume window: they come back on another node.
  // The first node whose script records the loss emits participant.reconnecting.
  log::warn("node is gone: its participants are reconnecting",
            {{"node", ctx_.node_id()}, {"gone_node", node}});
  for (const auto& [session, m] : members) {
    writes_.lost_remote(session, m);
    ctx_.hub->apply_node_lost(session, m.connection_id);
  }
}

}  // namespace sig::cluster
