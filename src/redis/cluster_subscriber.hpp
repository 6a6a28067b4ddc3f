#pragma once
// Sharded pub/sub on a Redis Cluster: each channel is SSUBSCRIBEd on the primary owning its slot,
// through one sharded subscription channel per primary (subscription_channel.hpp), all on one
// strand. The slot map comes from an internal ClusterClient (a subscribed connection cannot ask
// CLUSTER SHARDS). A channel is subscribed again wherever its slot now lives after a reconnect, a
// -MOVED to its SSUBSCRIBE, an `sunsubscribe` pushed by the server when the slot moved, or a
// failover; on_reconnected fires then (messages may have been lost: re-read state).
//
// Why sharded: a classic PUBLISH in a cluster is broadcast to every node over the cluster bus,
// so its cost grows with the number of nodes; SPUBLISH stays within the shard of the channel.

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "redis/channels.hpp"
#include "redis/cluster_map.hpp"

namespace sig::redis {

class ClusterClient;
namespace detail {
class SubscriptionChannel;
}

class ClusterSubscriber final : public Subscriptions, public std::enable_shared_from_this<ClusterSubscriber> {
 public:
  struct Private {};
  static std::shared_ptr<ClusterSubscriber> create(const boost::asio::any_io_executor& ex,
                                                   Endpoints endpoints);
  ClusterSubscriber(Private, const boost::asio::any_io_executor& ex, Endpoints endpoints);
  ~ClusterSubscriber() override;

  void on_connected(EventCallback cb) override;
  void on_disconnected(DisconnectCallback cb) override;
  void on_reconnected(EventCallback cb) override;
  std::error_code start(StartCallback on_first_result = {}) override;
  void close() override;
  bool connected() const noexcept override { return connected_.load(std::memory_order_acquire); }
  Strand executor() const override { return strand_; }
  void subscribe(std::string channel, MessageHandler handler, DoneCallback done = {}) override;
  void unsubscribe(std::string channel) override;

 private:
  struct Entry {
    std::shared_ptr<const MessageHandler> handler;
    std::vector<DoneCallback> done;  // the caller's, until a shard confirms
    std::string shard;               // "host:port" it is subscribed on; empty: none
    bool lost = false;               // the server dropped it: subscribe again
  };

  void map_changed(const cluster::SlotMap& map);
  void place(const std::string& channel, Entry& entry);
  void rebalance();
  void shard_lost(const std::string& shard, const std::string& what);
  std::shared_ptr<detail::SubscriptionChannel> shard(const std::string& key);
  void update_state(std::error_code why, bool moved);
  bool all_shards_ready() const;
  // While a shard is not subscribed: the map asked again every degraded period (a failover).
  void arm_map_timer();
  void do_close();

  Strand strand_;
  Endpoints endpoints_;
  std::shared_ptr<ClusterClient> map_client_;
  cluster::SlotMap map_;
  bool have_map_ = false;
  bool closed_ = false;
  bool ever_connected_ = false;
  std::atomic<bool> connected_{false};
  std::map<std::string, Entry, std::less<>> channels_;
  std::map<std::string, std::shared_ptr<detail::SubscriptionChannel>> shards_;
  std::set<std::string> opening_;  // shards not connected yet since they were made
  boost::asio::steady_timer retry_timer_;
  bool retry_armed_ = false;
  boost::asio::steady_timer map_timer_;
  bool map_armed_ = false;
  StartCallback first_cb_;
  EventCallback on_connected_;
  EventCallback on_reconnected_;
  DisconnectCallback on_disconnected_;
};

}  // namespace sig::redis
