#pragma once
// Test helper: a Redis Cluster of 3 primaries + 3 replicas of Debian's redis-server on 127.0.0.1
// (data ports below 55536: the cluster bus is port + 10000), each instance with its own --dir under
// one temporary directory (without it replicas never sync and a failover never happens),
// cluster-node-timeout 1000 ms, no persistence. The constructor starts the six, runs
// `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes` and waits (bounded) for
// cluster_state:ok on all; the destructor kills them and removes the directory. Failures throw
// std::runtime_error (tests only). available() is false when redis-server or redis-cli is missing.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "redis/cluster_map.hpp"
#include "redis/types.hpp"

namespace sig::test {

class RedisCluster {
 public:
  static bool available();

  // extra_args go to every redis-server (e.g. {"--requirepass", "pw", "--masterauth", "pw"}).
  explicit RedisCluster(std::vector<std::string> extra_args = {}, std::string password = {});
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  std::size_t size() const { return nodes_.size(); }
  std::uint16_t port(std::size_t i) const { return nodes_[i].port; }
  std::vector<std::string> seeds() const;  // "127.0.0.1:port" of every node
  bool running(std::size_t i) const { return nodes_[i].pid > 0; }

  // One command on node i over a blocking connection (AUTH first when a password is set).
  redis::Reply command(std::size_t i, const std::vector<std::string>& args) const;
  // The index of the node at address, or size().
  std::size_t index_of(const redis::cluster::NodeAddress& address) const;
  // The current slot map, asked of a running node.
  redis::cluster::SlotMap slot_map() const;
  std::size_t primary_of_slot(std::uint16_t slot) const;  // node index
  std::size_t replica_of(std::size_t primary) const;      // a running replica's node index
  bool is_primary(std::size_t i) const;

  // Waits until replica i has everything its primary wrote so far (replication offsets).
  void wait_replicated(std::size_t replica,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // SIGKILL node i (no cleanup on its side).
  void kill(std::size_t i);
  // CLUSTER FAILOVER on replica i; waits until it is a primary and the cluster is ok.
  void failover(std::size_t replica);
  // Moves slot to node `to` for good (keys migrated, the slot assigned on every node).
  void move_slot(std::uint16_t slot, std::size_t to);
  // The first half of it: `to` IMPORTING, the owner MIGRATING (keys not moved yet: -ASK for them
  // once moved one by one with migrate_key).
  void start_migration(std::uint16_t slot, std::size_t to);
  void migrate_key(const std::string& key, std::size_t to);
  std::string node_id(std::size_t i) const;
  // Waits until every running node reports cluster_state:ok, its replicas are linked, and every
  // node's CLUSTER SHARDS covers all slots with the same primaries.
  void wait_ok(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  struct Node {
    std::uint16_t port = 0;
    pid_t pid = -1;
    std::filesystem::path dir;
  };
  void spawn(Node& node, const std::vector<std::string>& extra_args);
  void stop_all();
  bool all_ok() const;

  std::filesystem::path root_;
  std::vector<Node> nodes_;
  std::string password_;
};

}  // namespace sig::test
