#pragma once
// What the parts of a cluster::Node share (node.hpp): the options, the Redis connections, the
// hub, the event gate, and the small helpers every part uses. Owned by the Node; the parts hold a
// reference. Everything here runs on the node's strand unless it says otherwise.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cluster/calls.hpp"
#include "cluster/events.hpp"
#include "cluster/fence.hpp"
#include "cluster/keys.hpp"
#include "cluster/node_claim.hpp"
#include "domain/clock.hpp"
#include "domain/hub.hpp"
#include "redis/channels.hpp"
#include "redis/client.hpp"

namespace sig::cluster {

struct NodeOptions {
  std::string redis_url;        // --redis; with seeds: the scheme and password of every cluster node
  redis::TlsOptions redis_tls;  // rediss:// only
  std::vector<std::string> redis_cluster_seeds;  // "host:port": a Redis Cluster (the cluster Layout)
  std::string node_id;
  std::chrono::milliseconds node_ttl{10'000};       // the alive key's TTL; refreshed every third
  std::chrono::milliseconds sync_interval{60'000};  // re-read of the hosted sessions
  std::chrono::seconds ws_ttl{1800};                // session:ws / session:peers
  std::chrono::seconds heartbeat_ttl{45};           // session:heartbeat:*
  // The clients' heartbeat interval: a participant's key is written at most about once per it.
  std::chrono::milliseconds heartbeat_interval{15'000};
  std::chrono::milliseconds ended_retention{3'600'000};
  std::size_t max_participants = 6;
  std::chrono::milliseconds resume_window{10'000};  // 0: a lost participant leaves at once
  // The session timers, for the sessions nobody hosts (deadlines.hpp).
  std::chrono::milliseconds start_timeout{3'600'000};
  std::chrono::milliseconds empty_timeout{300'000};
};

void ignore_reply(std::error_code, const redis::Reply&);

class Context {
 public:
  Context(const boost::asio::any_io_executor& ex, const domain::Clock& clock, NodeOptions options,
          domain::EventSink* events);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  NodeOptions options;
  Layout layout;
  const domain::Clock& clock;
  EventGate gate;
  domain::Hub* hub = nullptr;
  redis::Strand strand;
  std::shared_ptr<redis::Commands> client;
  std::shared_ptr<redis::Subscriptions> sub;
  // On the strand: the server is stopping (no more housekeeping); the first sync is done.
  bool stopping = false;
  bool synced = false;

  // The node id claim and its fence (node_claim.hpp, fence.hpp: races and faults). `displaced`:
  // another process holds this node id; this node serves nothing until it can claim it again.
  std::unique_ptr<NodeClaim> claim;
  std::unique_ptr<Fence> fence;
  std::atomic<bool> displaced{false};

  // Runs a script call (calls.hpp).
  void run(const ScriptCall& call, redis::ReplyCallback cb);
  // One command; numbers formatted in decimal.
  template <typename... Args>
  void command(redis::ReplyCallback cb, const Args&... args) {
    const std::vector<std::string> owned{redis::detail::to_arg(args)...};
    const std::vector<std::string_view> views(owned.begin(), owned.end());
    client->command(std::span<const std::string_view>(views), std::move(cb));
  }
  // Publishes on a channel (PUBLISH, or SPUBLISH in a cluster).
  void publish(const std::string& channel, const std::string& message);

  const std::string& node_id() const noexcept { return options.node_id; }
  bool mine(std::string_view connection_id) const { return keys::node_of(connection_id) == options.node_id; }
  std::int64_t now_ms() const { return ms_of(clock.wall_now()); }
  // A write whose failure flush() reports: the callback to give the command (any thread).
  redis::ReplyCallback tracked_write(std::string_view what);
  std::uint64_t writes_sent() const { return writes_sent_.load(); }
  // ClusterPort::flush: `done(applied)` once every tracked write sent so far has been answered
  // (in a Redis Cluster they go to several shards: no single PING is behind them all); applied:
  // Redis was reachable and none sent after `mark` failed. Any thread.
  void flush(std::uint64_t mark, std::function<void(bool)> done);
  // A value read from Redis was skipped (not UTF-8, out of range, malformed): logged once per key
  // and reason, since a sync reads it again every --cluster-sync.
  void skipped(std::string_view key, std::string_view reason);
  void emit_participant(domain::EventType type, std::string_view session_id, std::string_view user_id,
                        std::string_view display_name, std::optional<domain::LeftReason> reason);

  // False for one --node-ttl after a reconnection (or after this node was presumed dead): the
  // other nodes may not have written their state again yet, so nothing missing from Redis is taken
  // as gone. Any thread.
  bool settled() const { return clock.now().time_since_epoch().count() >= checks_from_.load(); }
  void unsettle() { checks_from_ = (clock.now() + options.node_ttl).time_since_epoch().count(); }

  // Connections between their join script and the hub (any thread): a sync must not take their
  // entries for stale ones.
  void pending_add(const std::string& connection_id);
  void pending_remove(const std::string& connection_id);
  bool pending(const std::string& connection_id);

 private:
  struct FlushWaiter {
    std::uint64_t target, mark;
    bool reachable;
    std::function<void(bool)> done;
  };
  void check_flushes();  // on the strand

  std::atomic<std::uint64_t> writes_sent_{0};
  std::mutex writes_mu_;
  std::set<std::uint64_t> outstanding_;     // tracked writes not answered yet (writes_mu_)
  std::vector<FlushWaiter> flushes_;        // on the strand
  std::uint64_t last_failed_write_ = 0;     // on the strand
  std::unordered_set<std::string> warned_;  // key + reason already logged by skipped()
  std::atomic<domain::SteadyTime::rep> checks_from_{domain::SteadyTime::min().time_since_epoch().count()};
  std::mutex pending_mu_;
  std::unordered_set<std::string> pending_;
};

}  // namespace sig::cluster
