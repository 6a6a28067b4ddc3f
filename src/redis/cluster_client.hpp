#pragma once
// Commands to a Redis Cluster (Redis >= 7), routed by key slot: one command channel per primary
// (command_channel.hpp) on one strand; the slot map from CLUSTER SHARDS (CLUSTER SLOTS on older
// servers), asked of the seeds first, then of any reachable primary, refreshed on every -MOVED,
// connection loss and periodically. -MOVED: the slot is re-pointed and the command sent again
// there; -ASK: ASKING + the command on the named node; -TRYAGAIN / -CLUSTERDOWN / a not yet ready
// connection: retried with backoff, a bounded number of times, then the error. A command written
// and then lost with its connection (or timed out) may have run: it gets the error, never sent
// again (as with the one-server client).
// Degraded (a primary's connection lost, such an error): the map is asked again every
// Endpoints::cluster_refresh_degraded, of any ready node (the seeds too when none is), until a
// map arrives with every primary up and no error since the refresh began; commands waiting for a
// retry are routed again at once when the map changes. A command without a key is a barrier (see
// Commands::command): it waits until every command submitted before it is answered.
// Scripts given to preload() are loaded on every primary's connection (and NOSCRIPT is handled
// there). Password and TLS of Endpoints::options apply to every node; the TLS server name is the
// node's host unless TlsOptions::server_name is set.
//
// connected(): the slot map is known, the node that gave it said cluster_state:ok (no -CLUSTERDOWN
// since), and every primary in it has a ready connection.
// on_disconnected fires when that stops being true, on_connected/on_reconnected when it is true
// again (re-write state then: a primary's failover may have lost recent writes).

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "redis/channels.hpp"
#include "redis/cluster_map.hpp"
#include "redis/url.hpp"

namespace sig::redis {

namespace detail {
class CommandChannel;
}

class ClusterClient final : public Commands, public std::enable_shared_from_this<ClusterClient> {
 public:
  struct Private {};
  static std::shared_ptr<ClusterClient> create(const boost::asio::any_io_executor& ex, Endpoints endpoints);
  ClusterClient(Private, const boost::asio::any_io_executor& ex, Endpoints endpoints);
  ~ClusterClient() override;

  void on_connected(EventCallback cb) override;
  void on_disconnected(DisconnectCallback cb) override;
  void on_reconnected(EventCallback cb) override;
  std::error_code start(StartCallback on_first_result = {}) override;
  void close() override;
  bool connected() const noexcept override { return connected_.load(std::memory_order_acquire); }
  Strand executor() const override { return strand_; }
  void preload(const Script& script) override;
  void command(std::span<const std::string_view> args, ReplyCallback cb) override;
  void eval(const Script& script, std::span<const std::string_view> keys,
            std::span<const std::string_view> args, ReplyCallback cb) override;
  using Commands::call;
  using Commands::command;
  using Commands::eval;

  // The primaries of the current slot map (for tests and logs; on the strand).
  std::vector<cluster::NodeAddress> primaries() const { return map_.primaries(); }
  // Every new slot map, on the strand (the cluster subscriber follows the map with it). Before start.
  void on_map(std::function<void(const cluster::SlotMap&)> cb);
  // Asks for the slot map again (coalesced) and refreshes fast until it is stable, any thread.
  void refresh_map();

  struct Request;

 private:
  struct Node {
    std::shared_ptr<detail::CommandChannel> channel;
  };

  void submit(std::shared_ptr<Request> request);
  void route(const std::shared_ptr<Request>& request);
  void send_to(const cluster::NodeAddress& node, const std::shared_ptr<Request>& request, bool asking);
  void on_reply(const std::shared_ptr<Request>& request, const cluster::NodeAddress& node, std::error_code ec,
                Reply reply);
  void retry_later(const std::shared_ptr<Request>& request, std::error_code ec, Reply reply);
  void finish(const std::shared_ptr<Request>& request, std::error_code ec, Reply reply);
  Node& node(const cluster::NodeAddress& address, StartCallback first = {});
  void refresh();
  void ask_for_map(std::size_t attempt, bool shards);
  // serving: the node that gave the map said cluster_state:ok (CLUSTER INFO).
  void map_received(cluster::SlotMap map, bool serving);
  void update_state(std::error_code why);
  void arm_refresh_timer();
  // Something went wrong (a lost connection, a transient cluster error): refresh fast.
  void degrade();
  // Routes now the requests waiting for a retry (the map changed).
  void wake_waiting();
  // Sends the barriers (keyless commands) with nothing older still unanswered.
  void release_barriers();
  void do_close();

  Strand strand_;
  Endpoints endpoints_;
  RedisUrl url_;  // scheme, user, password of every node
  std::vector<cluster::NodeAddress> seeds_;
  std::vector<std::shared_ptr<const detail::ScriptData>> scripts_;
  std::map<std::string, Node> nodes_;  // by "host:port"; bounded by the map's node limit + seeds
  cluster::SlotMap map_;
  bool have_map_ = false;
  bool refreshing_ = false;
  bool refresh_again_ = false;
  bool closed_ = false;
  bool started_ = false;
  bool ever_connected_ = false;
  bool cluster_ok_ = false;             // the last map's node said cluster_state:ok, no -CLUSTERDOWN since
  bool suspect_ = false;                // degraded by an error, until a clean refresh
  bool timer_fast_ = false;             // the refresh timer is armed with the degraded period
  std::uint64_t errors_ = 0;            // errors seen (degrade() calls)
  std::uint64_t asked_at_ = 0;          // errors_ when the current refresh began
  std::uint64_t next_seq_ = 0;          // request numbers, in submission order
  std::set<std::uint64_t> unanswered_;  // requests not finished yet
  std::deque<std::shared_ptr<Request>> barriers_;                  // keyless commands waiting for older ones
  std::vector<std::weak_ptr<boost::asio::steady_timer>> waiting_;  // retry timers
  std::atomic<bool> connected_{false};
  std::size_t outstanding_ = 0;  // requests not yet answered (bounded by options.max_pending)
  boost::asio::steady_timer refresh_timer_;
  StartCallback first_cb_;
  EventCallback on_connected_;
  EventCallback on_reconnected_;
  DisconnectCallback on_disconnected_;
  std::function<void(const cluster::SlotMap&)> on_map_;
};

namespace detail {
// The node URL: the scheme and credentials of base with host and port of node.
std::string node_url(const RedisUrl& base, const cluster::NodeAddress& node);
// Seeds "host:port" (or redis[s]://... forms) to addresses; empty and why when one is malformed.
std::vector<cluster::NodeAddress> parse_seeds(const std::vector<std::string>& seeds, std::string* why);
}  // namespace detail

}  // namespace sig::redis
