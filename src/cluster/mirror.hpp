#pragma once
// The sessions this node holds in its hub, kept in line with Redis: the events of the session
// channels (joins, departures, losses, changes, deletions by other nodes), the on-demand reads of a
// session (a join, an admin call), and the periodic sync.
//
// A node works only for the sessions it hosts (those with a local participant, or a join under
// way): it subscribes to signaling:session:<id> before the join script of its first local
// participant runs (so no event published after the script's read is missed) and unsubscribes
// when its last local one has left; then the hub drops its copy. A session read for one answer
// (an admin call) stays in the hub a few seconds (kVisitorKeep), long enough for the hub's tick to
// end it by its duration (the end script is idempotent), then is dropped.
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/context.hpp"
#include "cluster/writes.hpp"

namespace sig::cluster {

class Mirror {
 public:
  using Done = std::function<void()>;
  using Loaded = std::function<void(bool read)>;  // false: the store was not reached (or answered nonsense)
  Mirror(Context& ctx, Writes& writes) : ctx_(ctx), writes_(writes) {}

  static constexpr std::chrono::seconds kVisitorKeep{5};

  // Before a join script: subscribes to the session's channel (a no-op when it is subscribed
  // already); `ready(true)` once Redis confirmed it (or could not: the re-read after the pub/sub
  // link is back covers it); `ready(false)` when no answer came within kHostDeadline (or
  // --node-ttl if shorter: the channel's shard is down), so the join is answered, not left
  // hanging. On the strand. Each host() is followed by one joined().
  using Ready = std::function<void(bool in_time)>;
  static constexpr std::chrono::seconds kHostDeadline{5};
  void host(const std::string& session_id, Ready ready);
  void joined(const std::string& session_id);
  // The session's last local participant may have left: unsubscribes and drops it. On the strand.
  void release(const std::string& session_id);
  // Told of each session release() drops (Admission forgets what it kept for it). One listener.
  void on_release(std::function<void(const std::string&)> f) { on_release_ = std::move(f); }
  // release() for every session, and drops the sessions read for one answer a while ago.
  void release_idle();
  std::size_t hosted() const noexcept { return hosted_.size(); }
  // Reads one session into the hub (ClusterPort::refresh). `absent_means_deleted`: a session gone
  // from Redis is dropped here too (once settled).
  void load(const std::string& session_id, Loaded then = {}, bool absent_means_deleted = false);
  // Re-reads the hosted sessions (and subscribes to those with local participants admitted while
  // Redis was down); `then` when all are read. A session whose last read left this node's copy as
  // Redis lists it, and with no event since, is checked first by its directory alone (see
  // settled_dir_): read again only when that changed.
  void sync(Done then = {});
  // Sessions sync() found unchanged by their directory / read whole (since the start).
  std::uint64_t sync_unchanged() const noexcept { return sync_unchanged_; }
  std::uint64_t sync_reads() const noexcept { return sync_reads_; }

 private:
  void on_message(const std::string& channel, const std::string& message);
  // A connection of this node that Redis still lists but this node no longer has (it left while
  // Redis was unreachable, or a previous run of this node id died).
  void remove_stale(const std::string& session_id, const domain::RosterEntry& entry);
  void apply(const std::string& session_id, const SnapshotReply& snap, bool absent_means_deleted);

  // One HGETALL of the directory; load() when it is not the settled one.
  void check(const std::string& session_id, Loaded then);
  // After apply(): the hub holds exactly the remote connections Redis lists, none missing.
  bool converged(const std::string& session_id, const std::vector<domain::RosterEntry>& roster) const;

  bool idle(const std::string& session_id) const;
  bool remove_missing(const std::string& session_id, const std::vector<domain::RosterEntry>& roster,
                      std::uint64_t join_seq);

  Context& ctx_;
  Writes& writes_;
  std::unordered_map<std::string, int> hosted_;                   // subscribed sessions -> joins under way
  std::unordered_map<std::string, domain::SteadyTime> visitors_;  // in the hub, not hosted: since
  // Per hosted session: the remote connections Redis did not list at the last read.
  std::unordered_map<std::string, std::set<std::string>> missing_;
  // Per hosted session whose last read converged (and no event came since): its directory then,
  // sorted by field. Every script that changes a session's presence increments the directory's
  // `rev` (scripts.hpp), and the platform's own writes are in the directory: while it is the same,
  // a whole read (one script, four HGETALL inside) would find what this node holds. The periodic
  // sync's cost per session and node is then one command, not five (BENCHMARKS.md, "Scale-out").
  std::unordered_map<std::string, Fields> settled_dir_;
  std::uint64_t sync_unchanged_ = 0;
  std::uint64_t sync_reads_ = 0;
  std::function<void(const std::string&)> on_release_;
};

}  // namespace sig::cluster
