#pragma once
// Internal to src/redis: the subscription channel — a Connection in subscribe mode holding the
// desired subscriptions: kept across disconnections and made again (SUBSCRIBE / PSUBSCRIBE, or
// SSUBSCRIBE when sharded) on every connection before it is announced ready. A health check
// (SUBSCRIBE to a private channel, see tick_ready) finds a dead link that TCP has not noticed.
// RedisSubscriber is its facade; the cluster subscriber runs one sharded channel per primary.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "redis/channels.hpp"
#include "redis/connection.hpp"

namespace sig::redis::detail {

class SubscriptionChannel final : public Connection {
 public:
  using MessageHandler = Subscriptions::MessageHandler;
  using DoneCallback = Subscriptions::DoneCallback;
  // Sharded mode: the server took a channel we still want away (an `sunsubscribe` push when its
  // slot moved, or a -MOVED/-error reply to SSUBSCRIBE: what = the channel or the error text).
  using LostCallback = std::function<void(const std::string& what)>;

  // sharded: SSUBSCRIBE / SUNSUBSCRIBE and smessage (Redis Cluster's sharded pub/sub), on our own
  // reply reader (hiredis 0.14 cannot route those pushes). No patterns then.
  SubscriptionChannel(Strand strand, ClientOptions options, bool sharded);

  // From any thread (dispatched to the strand).
  void subscribe(bool pattern, std::string name, MessageHandler handler, DoneCallback done);
  void unsubscribe(bool pattern, std::string name);
  // On the strand.
  void do_subscribe(bool pattern, std::string name, MessageHandler handler, DoneCallback done);
  void do_unsubscribe(bool pattern, const std::string& name);
  void set_on_lost(LostCallback cb) { on_lost_ = std::move(cb); }  // on the strand, before start
  std::vector<std::string> channel_names() const;                  // on the strand

 private:
  struct Subscription {
    std::shared_ptr<const MessageHandler> handler;
    bool confirmed = false;
    std::vector<DoneCallback> waiters;
  };
  using SubMap = std::map<std::string, Subscription, std::less<>>;

  void done_later(DoneCallback cb, std::error_code ec);
  void handshake_done() override;
  bool tick_ready(Clock::time_point now) override;
  void connection_lost() override;
  void closing() override;
  bool push_errors() const noexcept override { return sharded_; }
  void transport_push(Transport& t, const redisReply* r) override;
  void deliver(bool pattern, const std::string& key, const std::string& channel, const std::string& payload);
  void confirm(bool pattern, const std::string& name, std::uint64_t gen);
  void server_dropped(const std::string& what, std::uint64_t gen);
  void unsubscribed(bool pattern, const std::string& name, std::uint64_t gen);
  bool write_subscribe(bool pattern, bool subscribe, const std::vector<std::string_view>& names);

  bool sharded_;
  SubMap channels_;
  SubMap patterns_;
  std::set<std::pair<bool, std::string>> restore_pending_;
  // Our own (S|P)UNSUBSCRIBEs written on the current connection and not yet confirmed, per
  // (pattern, name): a `sunsubscribe` is the server's drop only when none is pending, and a
  // SUBSCRIBE to such a name waits in deferred_ until they are (hiredis 0.14 forgets a channel's
  // callback at the UNSUBSCRIBE confirmation, even if a SUBSCRIBE was sent since).
  std::map<std::pair<bool, std::string>, int> unsub_pending_;
  std::set<std::pair<bool, std::string>> deferred_;
  LostCallback on_lost_;
  // Health check (see tick_ready).
  std::string health_channel_;
  std::optional<Clock::time_point> health_sent_;
  Clock::time_point last_health_{};
};

}  // namespace sig::redis::detail
