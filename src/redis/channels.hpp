#pragma once
// The Redis client as the cluster layer sees it: commands and a subscription connection, on one
// redis-server (RedisClient, RedisSubscriber) or on a Redis Cluster (ClusterClient,
// ClusterSubscriber, routed by key slot). The contract of issue 12 (see docs/architecture.md,
// "Redis client"). Threading, errors and lifetime are those of client.hpp: every callback runs on
// the object's strand, errors are std::error_code (Errc), close() fails what is pending.

#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "redis/types.hpp"

namespace sig::redis {

// The lifecycle both kinds of link share: callbacks set before start(); on_connected each time
// the link becomes ready (in a cluster: every primary, or every shard subscribed to, reachable),
// on_disconnected when it is lost, on_reconnected after a loss (see each kind for what to do then).
class Link {
 public:
  Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  virtual ~Link() = default;

  virtual void on_connected(EventCallback cb) = 0;
  virtual void on_disconnected(DisconnectCallback cb) = 0;
  virtual void on_reconnected(EventCallback cb) = 0;
  virtual std::error_code start(StartCallback on_first_result = {}) = 0;
  virtual void close() = 0;
  virtual bool connected() const noexcept = 0;
  virtual Strand executor() const = 0;
};

// Commands to Redis: one server, or a Redis Cluster routed by key slot. on_reconnected: write
// this node's state again (Redis may have lost it).
class Commands : public Link {
 public:
  // Before start(): loaded in every connection's handshake (in a cluster: on every primary).
  virtual void preload(const Script& script) = 0;
  // Cluster: routed by the slot of the command's key: args[1] for key commands, PUBLISH/SPUBLISH's
  // channel, EVALSHA's first key. MOVED/ASK followed; a command without key goes to any primary.
  // Commands sent in order are pipelined on their connection; one callback per command.
  // A command without a key (PING ...) is a barrier: it is sent once every command submitted
  // before it has been answered, so its callback runs after theirs (one server: the connection's
  // order; a cluster: the client waits, since earlier commands may be on other primaries).
  virtual void command(std::span<const std::string_view> args, ReplyCallback cb) = 0;
  // EVALSHA, with SCRIPT LOAD on NOSCRIPT. Cluster: all keys must share one slot (hash tag).
  virtual void eval(const Script& script, std::span<const std::string_view> keys,
                    std::span<const std::string_view> args, ReplyCallback cb) = 0;

  // Conveniences over the two above (non-virtual).
  void command(std::initializer_list<std::string_view> args, ReplyCallback cb) {
    command(std::span<const std::string_view>(args.begin(), args.size()), std::move(cb));
  }
  void eval(const Script& script, std::initializer_list<std::string_view> keys,
            std::initializer_list<std::string_view> args, ReplyCallback cb) {
    eval(script, std::span<const std::string_view>(keys.begin(), keys.size()),
         std::span<const std::string_view>(args.begin(), args.size()), std::move(cb));
  }
  // Variadic form; numbers are formatted in decimal: call(cb, "EXPIRE", key, 1800).
  template <typename... Args>
  void call(ReplyCallback cb, const Args&... args) {
    const std::vector<std::string> owned{detail::to_arg(args)...};
    const std::vector<std::string_view> views(owned.begin(), owned.end());
    command(std::span<const std::string_view>(views), std::move(cb));
  }
};

// A subscription connection: SUBSCRIBE on one server, SSUBSCRIBE on the shard owning the
// channel's slot in a cluster (re-subscribed after a reconnect, a MOVED or a failover).
// on_reconnected: some messages may have been lost (Redis pub/sub has no replay): re-read state.
// In a cluster, fired when any shard's connection came back or a channel moved to another shard.
class Subscriptions : public Link {
 public:
  using MessageHandler = std::function<void(const std::string& channel, const std::string& message)>;
  // ok once Redis confirmed; not_connected / connection_lost: kept, made on the next connection;
  // closed / cancelled: gone.
  using DoneCallback = std::function<void(std::error_code)>;

  // Subscribing again to the same channel replaces its handler. While not connected the
  // subscription is kept (made on the next connection) and done reports not_connected, except in
  // a cluster whose slot map is known: done then waits for the shard's confirmation (or closed /
  // cancelled) even while that shard is unreachable. Before the first slot map: not_connected.
  virtual void subscribe(std::string channel, MessageHandler handler, DoneCallback done = {}) = 0;
  // No message is delivered to the handler after this call has run on the strand.
  virtual void unsubscribe(std::string channel) = 0;
};

// What a node connects to.
struct Endpoints {
  // url/TLS/password as for --redis (one server). For a cluster: the password, the TLS options
  // and the scheme (rediss:// = TLS) of url apply to every node; its host/port are ignored.
  ClientOptions options;
  std::vector<std::string> cluster_seeds;  // "host:port"; non-empty = cluster mode
  // Cluster: the slot map is asked again this often while healthy, and this often while degraded
  // (a primary's connection lost, a command failed with a connection error, -CLUSTERDOWN or
  // -TRYAGAIN, a subscription's shard unreachable) until the map is stable and every primary is up.
  std::chrono::milliseconds cluster_refresh{15000};
  std::chrono::milliseconds cluster_refresh_degraded{250};
};

// One server (cluster_seeds empty): a RedisClient / RedisSubscriber. A cluster: routed by slot.
// Does not connect: call start().
std::shared_ptr<Commands> make_commands(const boost::asio::any_io_executor& ex, Endpoints e);
std::shared_ptr<Subscriptions> make_subscriptions(const boost::asio::any_io_executor& ex, Endpoints e);

// Publishing from Lua: PUBLISH on one server, SPUBLISH in a cluster (the channel is in the slot of
// the script's keys through the hash tag). The cluster layer passes the command name to its
// scripts: publish_command(e) gives it.
inline std::string_view publish_command(const Endpoints& e) noexcept {
  return e.cluster_seeds.empty() ? "PUBLISH" : "SPUBLISH";
}

}  // namespace sig::redis
