#pragma once
// This node's liveness and the other nodes': the alive key (written every third of --node-ttl,
// read back in the same SET ... GET so a key found missing tells this node it was presumed dead),
// the detection of dead nodes among the members of the sessions this node holds, and the node's
// tick (heartbeat batch, TTL refreshes, the periodic sync).
#include <chrono>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "cluster/context.hpp"
#include "cluster/deadlines.hpp"
#include "cluster/mirror.hpp"
#include "cluster/restore.hpp"
#include "cluster/writes.hpp"

namespace sig::cluster {

class Liveness {
 public:
  Liveness(Context& ctx, Writes& writes, Mirror& mirror, Restore& restore)
      : ctx_(ctx), writes_(writes), mirror_(mirror), restore_(restore), timer_(ctx.strand) {}

  // Writes the alive key (start-up, and before a restore: the others see this node alive again).
  // `then(handled)` runs after the next verdict on the key (the first refresh answered):
  // `handled` when that verdict found this node presumed dead (its state is written again by
  // on_presumed_dead()) or displaced, so that the caller does not restore a state that the others
  // have already removed (a frozen node whose link dropped on waking up).
  void write_alive(std::function<void(bool handled)> then = {});
  // The first tick (alive key), then one every third of --node-ttl.
  void start();
  // Before the next verdict on a missing alive key: the command link dropped (Redis may have lost
  // it), not a sign of this node's death.
  void link_dropped() { link_dropped_ = true; }
  // No more ticks; the alive key is deleted.
  void stop();

  // The node id claim (liveness_claim.cpp): claims it at start-up, waiting up to --node-ttl and a
  // third for a dead predecessor's key to expire; done(error) when a live node holds it.
  void claim(std::function<void(std::error_code)> done);
  // Called when this node is displaced (another process took its id) or serves again.
  void on_displaced_changed(std::function<void()> cb) { on_displaced_changed_ = std::move(cb); }

 private:
  void schedule();
  void tick();
  void check_nodes();
  void refresh_ttls();
  void on_presumed_dead(bool stalled);
  // liveness_claim.cpp: a refresh's verdict (Fence), and the displaced state.
  void on_verdict(const NodeClaim::Result& r, domain::SteadyTime sent);
  void displaced(const NodeClaim::Result& r);
  void claim_again();
  void on_node_gone(const std::string& node,
                    const std::vector<std::pair<std::string, domain::RosterEntry>>& members);

  Context& ctx_;
  Writes& writes_;
  Mirror& mirror_;
  Restore& restore_;
  Deadlines deadlines_{ctx_, writes_};  // the session timers of the sessions nobody hosts
  boost::asio::steady_timer timer_;
  bool alive_written_ = false;
  bool link_dropped_ = false;  // the command link dropped since the last alive refresh
  domain::SteadyTime next_sync_{};
  std::unordered_map<std::string, domain::SteadyTime> ttl_refreshed_;  // hosted session -> last EXPIRE
  std::unordered_set<std::string> suspects_;  // nodes whose alive key was missing at the last check
  // The previous tick, and whether this process stopped running (frozen, starved) longer than
  // the fence's window since: then a missing alive key means the others may have presumed it
  // dead, not that Redis stalled or lost its data.
  domain::SteadyTime last_tick_{};
  // A stall not judged yet: the last tick before it ({}: none), and when it was noticed. A refresh
  // sent after stall_from_ that finds the key gone was answered after the others could act.
  domain::SteadyTime stall_from_{};
  domain::SteadyTime stall_seen_{};
  std::function<void()> on_displaced_changed_;
  std::function<void(bool handled)> after_verdict_;  // write_alive()'s `then`
};

}  // namespace sig::cluster
