// ClusterClient / ClusterSubscriber (make_commands / make_subscriptions with cluster seeds)
// against a real Redis Cluster of 3 primaries + 3 replicas (tests/support/redis_cluster.hpp):
// routing by slot, hash-tagged scripts, -MOVED after a slot moved, -ASK during a migration,
// sharded pub/sub across shards, and a primary's failover (CLUSTER FAILOVER, and kill -9).

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "common/log.hpp"
#include "redis/channels.hpp"
#include "redis/cluster_map.hpp"
#include "support/redis_cluster.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sig::redis::Reply;
using sig::redis::cluster::key_slot;
using sig::test::RedisCluster;

struct Result {
  bool done = false;
  std::error_code ec;
  Reply reply;
};

class RedisClusterTest : public ::testing::Test {
 protected:
  // The cluster the non-destructive tests share, started on first use (ctest runs each test in
  // its own process: the failover tests, which start their own, then start only theirs).
  static RedisCluster& shared() {
    if (!shared_) shared_ = std::make_unique<RedisCluster>();
    return *shared_;
  }
  static void TearDownTestSuite() { shared_.reset(); }

  void SetUp() override {
    if (!RedisCluster::available()) GTEST_SKIP() << "no redis-server / redis-cli";
    sig::log::init("warn", "json");
  }

  void TearDown() override {
    for (auto& c : commands_)
      c->close();
    for (auto& s : subs_)
      s->close();
    commands_.clear();
    subs_.clear();
    guard_.reset();
    io_.restart();
    io_.run_for(5s);
    EXPECT_TRUE(io_.stopped()) << "work left after close()";
  }

  sig::redis::Endpoints endpoints(const RedisCluster& cluster) {
    sig::redis::Endpoints e;
    e.options.url = url_;
    e.options.reconnect_min = 20ms;
    e.options.reconnect_max = 200ms;
    e.options.connect_timeout = 1000ms;
    e.options.command_timeout = 2000ms;
    e.cluster_seeds = {cluster.seeds()[0], cluster.seeds()[1]};
    e.cluster_refresh = periodic_refresh_;
    return e;
  }

  template <typename Pred>
  bool run_until(Pred pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(5ms);
    }
    return true;
  }

  std::shared_ptr<sig::redis::Commands> connect(const RedisCluster& cluster) {
    auto c = sig::redis::make_commands(io_.get_executor(), endpoints(cluster));
    commands_.push_back(c);
    std::optional<std::error_code> first;
    EXPECT_FALSE(c->start([&](std::error_code ec) { first = ec; }));
    EXPECT_TRUE(run_until([&] { return first.has_value(); }));
    EXPECT_FALSE(first.value_or(sig::redis::Errc::timeout));
    EXPECT_TRUE(c->connected());
    return c;
  }

  std::shared_ptr<sig::redis::Subscriptions> subscriber(const RedisCluster& cluster) {
    auto s = sig::redis::make_subscriptions(io_.get_executor(), endpoints(cluster));
    subs_.push_back(s);
    std::optional<std::error_code> first;
    EXPECT_FALSE(s->start([&](std::error_code ec) { first = ec; }));
    EXPECT_TRUE(run_until([&] { return first.has_value(); }));
    EXPECT_FALSE(first.value_or(sig::redis::Errc::timeout));
    return s;
  }

  Result sync(sig::redis::Commands& c, std::initializer_list<std::string_view> args) {
    auto r = std::make_shared<Result>();
    c.command(args, [r](std::error_code ec, Reply reply) {
      r->done = true;
      r->ec = ec;
      r->reply = std::move(reply);
    });
    EXPECT_TRUE(run_until([&] { return r->done; }));
    return *r;
  }

  // Subscribes and waits for the confirmation; messages go to got[channel].
  void subscribe(sig::redis::Subscriptions& s, const std::string& channel) {
    std::optional<std::error_code> done;
    s.subscribe(
        channel, [this](const std::string& ch, const std::string& m) { got_[ch].push_back(m); },
        [&](std::error_code ec) { done = ec; });
    ASSERT_TRUE(run_until([&] { return done.has_value(); }));
    EXPECT_FALSE(*done) << done->message();
  }

  // SPUBLISH until the subscriber got a message on channel (bounded): after a failover the
  // re-subscription may still be under way.
  bool published_and_received(sig::redis::Commands& c, const std::string& channel,
                              const std::string& message) {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      got_[channel].clear();
      sync(c, {"SPUBLISH", channel, message});
      if (run_until([&] { return !got_[channel].empty(); }, 300ms)) return got_[channel].front() == message;
    }
    return false;
  }

  static std::size_t other_primary(const RedisCluster& cluster, std::size_t primary) {
    const auto map = cluster.slot_map();
    for (const auto& p : map.primaries()) {
      if (cluster.index_of(p) != primary) return cluster.index_of(p);
    }
    return primary;
  }

  static std::unique_ptr<RedisCluster> shared_;
  std::string url_ = "redis://127.0.0.1";  // scheme and credentials for every node
  std::chrono::milliseconds periodic_refresh_ = 15s;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_{io_.get_executor()};
  std::vector<std::shared_ptr<sig::redis::Commands>> commands_;
  std::vector<std::shared_ptr<sig::redis::Subscriptions>> subs_;
  std::map<std::string, std::vector<std::string>> got_;
};

std::unique_ptr<RedisCluster> RedisClusterTest::shared_;

TEST_F(RedisClusterTest, RoutesCommandsToTheShardOfTheirKey) {
  auto c = connect(shared());
  std::set<std::size_t> shards;
  for (int i = 0; i < 30; ++i) {
    const std::string key = "route:" + std::to_string(i);
    const std::string value = "v" + std::to_string(i);
    auto r = sync(*c, {"SET", key, value});
    ASSERT_FALSE(r.ec) << r.reply.str;
    r = sync(*c, {"GET", key});
    EXPECT_EQ(r.reply.str, value);
    // The key is where the cluster says its slot lives (asked of that node directly).
    const std::size_t owner = shared().primary_of_slot(key_slot(key));
    shards.insert(owner);
    EXPECT_EQ(shared().command(owner, {"GET", key}).str, value);
  }
  EXPECT_EQ(shards.size(), 3U);                     // the keys went to all three primaries
  EXPECT_EQ(sync(*c, {"PING"}).reply.str, "PONG");  // no key: any primary
}

// A keyless command (the node's flush PING) is answered after every command sent before it, even
// those on other primaries: BLPOP blocking 300 ms on each shard, then PING.
TEST_F(RedisClusterTest, AKeylessCommandWaitsForEveryOlderCommand) {
  auto c = connect(shared());
  std::vector<std::string> keys;
  std::set<std::size_t> shards;
  for (int i = 0; keys.size() < 3 && i < 100; ++i) {
    const std::string key = "barrier:{" + std::to_string(i) + "}";
    if (shards.insert(shared().primary_of_slot(key_slot(key))).second) keys.push_back(key);
  }
  ASSERT_EQ(keys.size(), 3U);
  std::vector<std::string> order;
  for (const auto& key : keys)
    c->command({"BLPOP", key, "0.3"},
               [&order](std::error_code, const Reply&) { order.emplace_back("blpop"); });
  c->command({"PING"}, [&order](std::error_code ec, const Reply& r) {
    EXPECT_FALSE(ec);
    EXPECT_EQ(r.str, "PONG");
    order.emplace_back("ping");
  });
  ASSERT_TRUE(run_until([&] { return order.size() == 4; }));
  EXPECT_EQ(order, (std::vector<std::string>{"blpop", "blpop", "blpop", "ping"}));
}

TEST_F(RedisClusterTest, ScriptsWithHashTaggedKeysRunOnTheirShard) {
  const sig::redis::Script preloaded(
      "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return redis.call('GET', "
      "KEYS[2])");
  const sig::redis::Script not_preloaded("return redis.call('GET', KEYS[1])");
  auto c = sig::redis::make_commands(io_.get_executor(), endpoints(shared()));
  commands_.push_back(c);
  c->preload(preloaded);
  std::optional<std::error_code> first;
  ASSERT_FALSE(c->start([&](std::error_code ec) { first = ec; }));
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  for (const std::string session : {"s1", "s2", "s3", "s4", "s5", "s6"}) {
    const std::string a = "session:ws:{" + session + "}";
    const std::string b = "session:peers:{" + session + "}";
    auto r = std::make_shared<Result>();
    c->eval(preloaded, {a, b}, {"x-" + session}, [r](std::error_code ec, Reply reply) {
      r->done = true;
      r->ec = ec;
      r->reply = std::move(reply);
    });
    ASSERT_TRUE(run_until([&] { return r->done; }));
    EXPECT_FALSE(r->ec) << r->reply.str;
    EXPECT_EQ(r->reply.str, "x-" + session);
    auto r2 = std::make_shared<Result>();  // NOSCRIPT on first use on each shard: loaded, retried
    c->eval(not_preloaded, {a}, {}, [r2](std::error_code ec, Reply reply) {
      r2->done = true;
      r2->ec = ec;
      r2->reply = std::move(reply);
    });
    ASSERT_TRUE(run_until([&] { return r2->done; }));
    EXPECT_FALSE(r2->ec) << r2->reply.str;
    EXPECT_EQ(r2->reply.str, "x-" + session);
  }
}

TEST_F(RedisClusterTest, FollowsMovedAfterASlotMoved) {
  auto c = connect(shared());
  const std::string key = "moved:{m1}";
  ASSERT_FALSE(sync(*c, {"SET", key, "before"}).ec);
  const auto slot = key_slot(key);
  const std::size_t from = shared().primary_of_slot(slot);
  const std::size_t to = other_primary(shared(), from);
  ASSERT_NE(to, from);
  shared().move_slot(slot, to);
  // The client's map still says `from`: -MOVED, followed.
  auto r = sync(*c, {"GET", key});
  EXPECT_FALSE(r.ec) << r.reply.str;
  EXPECT_EQ(r.reply.str, "before");
  EXPECT_FALSE(sync(*c, {"SET", key, "after"}).ec);
  EXPECT_EQ(shared().command(to, {"GET", key}).str, "after");
}

TEST_F(RedisClusterTest, FollowsAskDuringAMigration) {
  auto c = connect(shared());
  const std::string moved_key = "ask:{a1}:moved";
  const std::string staying_key = "ask:{a1}:staying";
  ASSERT_FALSE(sync(*c, {"SET", moved_key, "m"}).ec);
  ASSERT_FALSE(sync(*c, {"SET", staying_key, "s"}).ec);
  const auto slot = key_slot(moved_key);
  const std::size_t from = shared().primary_of_slot(slot);
  const std::size_t to = other_primary(shared(), from);
  shared().start_migration(slot, to);
  shared().migrate_key(moved_key, to);
  // The source answers -ASK for the key it no longer holds: ASKING + GET on the target.
  auto r = sync(*c, {"GET", moved_key});
  EXPECT_FALSE(r.ec) << r.reply.str;
  EXPECT_EQ(r.reply.str, "m");
  r = sync(*c, {"GET", staying_key});
  EXPECT_EQ(r.reply.str, "s");
  shared().move_slot(slot, to);  // finish, so the shared cluster is whole again
  EXPECT_EQ(sync(*c, {"GET", staying_key}).reply.str, "s");
}

TEST_F(RedisClusterTest, ShardedPubSubAcrossShards) {
  auto c = connect(shared());
  auto s = subscriber(shared());
  std::set<std::size_t> shards;
  std::vector<std::string> channels;
  for (int i = 0; i < 12; ++i) {
    channels.push_back("signaling:session:{p" + std::to_string(i) + "}");
    shards.insert(shared().primary_of_slot(key_slot(channels.back())));
    subscribe(*s, channels.back());
  }
  EXPECT_EQ(shards.size(), 3U);
  EXPECT_TRUE(s->connected());
  for (const auto& ch : channels) {
    const auto r = sync(*c, {"SPUBLISH", ch, "hello " + ch});
    EXPECT_EQ(r.reply, Reply::integer_reply(1)) << ch;  // one subscriber, on the owning shard
  }
  ASSERT_TRUE(run_until([&] {
    for (const auto& ch : channels) {
      if (got_[ch].empty()) return false;
    }
    return true;
  }));
  for (const auto& ch : channels)
    EXPECT_EQ(got_[ch], std::vector<std::string>{"hello " + ch});
  s->unsubscribe(channels[0]);
  run_until([] { return false; }, 100ms);
  EXPECT_EQ(sync(*c, {"SPUBLISH", channels[0], "gone"}).reply, Reply::integer_reply(0));
}

TEST_F(RedisClusterTest, ASubscriptionFollowsItsSlotWhenItMoves) {
  auto c = connect(shared());
  auto s = subscriber(shared());
  int reconnected = 0;
  s->on_reconnected([&] { ++reconnected; });
  const std::string channel = "signaling:session:{mv1}";
  subscribe(*s, channel);
  const auto slot = key_slot(channel);
  const std::size_t from = shared().primary_of_slot(slot);
  const std::size_t to = other_primary(shared(), from);
  shared().move_slot(slot, to);
  // The old owner drops the channel (an `sunsubscribe` push); the subscriber re-reads the map and
  // SSUBSCRIBEs on the new owner, where SPUBLISH now goes (sharded: only that shard delivers).
  EXPECT_TRUE(published_and_received(*c, channel, "moved"));
  EXPECT_EQ(sync(*c, {"SPUBLISH", channel, "again"}).reply, Reply::integer_reply(1));
  EXPECT_TRUE(run_until([&] { return reconnected > 0; }, 5s));  // messages may have been lost
}

// Unsubscribed and subscribed again before the SUNSUBSCRIBE's confirmation, many times (a node
// whose session's last local participant leaves while a new one joins): that confirmation is not
// the shard dropping the channel. Taken for one, each re-subscription began the next round (a hot
// loop: thousands of SSUBSCRIBEs a second, on_reconnected each time).
TEST_F(RedisClusterTest, UnsubscribeThenSubscribeAtOnceIsNotAServerDrop) {
  auto c = connect(shared());
  auto s = subscriber(shared());
  int reconnected = 0;
  s->on_reconnected([&] { ++reconnected; });
  const std::string channel = "signaling:session:{churn1}";
  const std::size_t owner = shared().primary_of_slot(key_slot(channel));
  auto ssubscribe_calls = [&] {
    const std::string info = shared().command(owner, {"INFO", "commandstats"}).str;
    const auto at = info.find("cmdstat_ssubscribe:calls=");
    return at == std::string::npos ? 0L : std::stol(info.substr(at + 25));
  };
  subscribe(*s, channel);
  const long before = ssubscribe_calls();
  constexpr int kRounds = 40;
  for (int i = 0; i < kRounds; ++i) {
    std::optional<std::error_code> done;
    s->unsubscribe(channel);
    s->subscribe(
        channel, [this](const std::string& ch, const std::string& m) { got_[ch].push_back(m); },
        [&](std::error_code ec) { done = ec; });
    ASSERT_TRUE(run_until([&] { return done.has_value(); })) << "round " << i;
    EXPECT_FALSE(*done) << done->message();
  }
  run_until([] { return false; }, 500ms);  // a loop would show here
  EXPECT_EQ(sync(*c, {"SPUBLISH", channel, "still here"}).reply, Reply::integer_reply(1));
  ASSERT_TRUE(run_until([&] { return !got_[channel].empty(); }));
  EXPECT_EQ(got_[channel], std::vector<std::string>{"still here"});
  EXPECT_LE(ssubscribe_calls() - before, kRounds + 2);
  EXPECT_EQ(reconnected, 0);
  EXPECT_TRUE(s->connected());
}

// A channel on a primary the subscriber held no channel on opens a new shard connection; while it
// connects, the channels already subscribed elsewhere lose nothing. Taken for a disconnection (a
// map refresh landing in that window made it so), it was followed by on_reconnected, which makes
// a node re-read every session it hosts. The map is refreshed every 20 ms here so that refreshes
// land in that window; each round's shard is closed again once its channel is gone.
TEST_F(RedisClusterTest, ANewShardConnectingIsNotADisconnection) {
  periodic_refresh_ = 20ms;
  auto s = subscriber(shared());
  int reconnected = 0;
  int disconnected = 0;
  s->on_reconnected([&] { ++reconnected; });
  s->on_disconnected([&](std::error_code) { ++disconnected; });
  const std::string anchor = "signaling:session:{anchor}";
  const std::size_t home = shared().primary_of_slot(key_slot(anchor));
  std::string elsewhere;
  for (int i = 0; elsewhere.empty(); ++i) {
    const std::string name = "signaling:session:{away" + std::to_string(i) + "}";
    if (shared().primary_of_slot(key_slot(name)) != home) elsewhere = name;
  }
  subscribe(*s, anchor);
  constexpr int kRounds = 40;
  for (int i = 0; i < kRounds; ++i) {
    subscribe(*s, elsewhere);
    s->unsubscribe(elsewhere);
    run_until([] { return false; }, 30ms);  // the next refresh closes the unused shard
  }
  EXPECT_EQ(disconnected, 0);
  EXPECT_EQ(reconnected, 0);
  EXPECT_TRUE(s->connected());
}

// A command that ran but whose reply did not come in time (the script INCRs, then spins past the
// command timeout) is answered with the timeout, not sent again: it may have run (here it did),
// and a second run would repeat its effects.
TEST_F(RedisClusterTest, ACommandTimedOutAfterItRanIsNotSentAgain) {
  auto e = endpoints(shared());
  e.options.command_timeout = 150ms;
  auto c = sig::redis::make_commands(io_.get_executor(), e);
  commands_.push_back(c);
  std::optional<std::error_code> first;
  ASSERT_FALSE(c->start([&](std::error_code ec) { first = ec; }));
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  ASSERT_FALSE(*first);
  const std::string key = "counter:{slow1}";
  // 400 ms: past the 150 ms timeout, well within the cluster-node-timeout (1 s).
  const sig::redis::Script slow(
      "redis.call('INCR', KEYS[1]) local t = redis.call('TIME') "
      "local start = t[1] * 1000000 + t[2] repeat t = redis.call('TIME') "
      "until t[1] * 1000000 + t[2] - start > 400000 return 1");
  auto r = std::make_shared<Result>();
  c->eval(slow, std::array<std::string_view, 1>{key}, {}, [r](std::error_code ec, Reply reply) {
    r->done = true;
    r->ec = ec;
    r->reply = std::move(reply);
  });
  ASSERT_TRUE(run_until([&] { return r->done; }));
  EXPECT_EQ(r->ec, sig::redis::Errc::timeout) << r->ec.message();
  run_until([] { return false; }, 1500ms);  // a second run would have ended by now
  EXPECT_EQ(shared().command(shared().primary_of_slot(key_slot(key)), {"GET", key}).str, "1");
}

TEST_F(RedisClusterTest, PasswordAppliesToEveryNode) {
  RedisCluster cluster({}, "s3cret");
  url_ = "redis://:s3cret@127.0.0.1";
  auto c = connect(cluster);
  auto s = subscriber(cluster);
  for (int i = 0; i < 9; ++i) {
    const std::string key = "pw:" + std::to_string(i);
    EXPECT_FALSE(sync(*c, {"SET", key, "x"}).ec);
    EXPECT_EQ(sync(*c, {"GET", key}).reply.str, "x");
  }
  subscribe(*s, "signaling:node:{n1}");
  EXPECT_TRUE(published_and_received(*c, "signaling:node:{n1}", "hi"));
  // A wrong password is refused on every node: never connected.
  url_ = "redis://:wrong@127.0.0.1";
  auto bad = sig::redis::make_commands(io_.get_executor(), endpoints(cluster));
  commands_.push_back(bad);
  std::optional<std::error_code> first;
  ASSERT_FALSE(bad->start([&](std::error_code ec) { first = ec; }));
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  EXPECT_EQ(*first, sig::redis::Errc::auth_failed);
  EXPECT_FALSE(bad->connected());
}

TEST_F(RedisClusterTest, UnreachableSeedsGiveTheFirstResultAndNoCrash) {
  sig::redis::Endpoints e;
  e.options.url = "redis://127.0.0.1";
  e.options.reconnect_min = 20ms;
  e.options.connect_timeout = 500ms;
  e.cluster_seeds = {"127.0.0.1:1", "localhost:2"};
  auto c = sig::redis::make_commands(io_.get_executor(), e);
  commands_.push_back(c);
  std::optional<std::error_code> first;
  ASSERT_FALSE(c->start([&](std::error_code ec) { first = ec; }));
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  EXPECT_TRUE(*first);
  EXPECT_FALSE(c->connected());
  const auto r = sync(*c, {"GET", "k"});  // retried a bounded number of times, then the error
  EXPECT_EQ(r.ec, sig::redis::Errc::not_connected);
  e.cluster_seeds = {"no-port"};
  EXPECT_EQ(sig::redis::make_commands(io_.get_executor(), e)->start(), sig::redis::Errc::invalid_url);
}

// A primary's replica takes over (CLUSTER FAILOVER, then kill -9 of a primary): commands and
// the sharded subscriptions work again, on_reconnected fires. Each has its own cluster.
TEST_F(RedisClusterTest, CommandsAndSubscriptionsSurviveAFailover) {
  RedisCluster cluster;
  auto c = connect(cluster);
  auto s = subscriber(cluster);
  int reconnected = 0;
  s->on_reconnected([&] { ++reconnected; });
  const std::string channel = "signaling:session:{f1}";
  const std::string key = "session:ws:{f1}";
  subscribe(*s, channel);
  ASSERT_FALSE(sync(*c, {"SET", key, "v"}).ec);
  const std::size_t primary = cluster.primary_of_slot(key_slot(key));
  const std::size_t replica = cluster.replica_of(primary);
  cluster.failover(replica);
  EXPECT_EQ(cluster.primary_of_slot(key_slot(key)), replica);
  EXPECT_TRUE(published_and_received(*c, channel, "after failover"));
  auto r = sync(*c, {"GET", key});
  EXPECT_EQ(r.reply.str, "v");
  EXPECT_FALSE(sync(*c, {"SET", key, "w"}).ec);
  EXPECT_EQ(cluster.command(replica, {"GET", key}).str, "w");
  EXPECT_TRUE(run_until([&] { return reconnected > 0; }, 5s));
}

TEST_F(RedisClusterTest, CommandsAndSubscriptionsSurviveAKilledPrimary) {
  RedisCluster cluster;
  auto c = connect(cluster);
  auto s = subscriber(cluster);
  const std::string channel = "signaling:session:{k1}";
  const std::string key = "session:ws:{k1}";
  subscribe(*s, channel);
  ASSERT_FALSE(sync(*c, {"SET", key, "v"}).ec);
  const std::size_t primary = cluster.primary_of_slot(key_slot(key));
  const std::size_t replica = cluster.replica_of(primary);
  cluster.wait_replicated(replica);  // the write reached the replica before the kill
  cluster.kill(primary);
  // The replica is promoted once the others see the primary fail (cluster-node-timeout 1 s).
  ASSERT_TRUE(run_until([&] { return cluster.is_primary(replica); }, 30s));
  cluster.wait_ok();
  // Commands retry through the failover; bounded loop (each command has its own bounded retries).
  std::optional<Result> got;
  ASSERT_TRUE(run_until(
      [&] {
        got = sync(*c, {"GET", key});
        return !got->ec;
      },
      20s));
  EXPECT_EQ(got->reply.str, "v");
  EXPECT_TRUE(published_and_received(*c, channel, "after kill"));
  EXPECT_TRUE(run_until([&] { return c->connected() && s->connected(); }, 10s));
}

// kill -9 of a primary with the periodic map refresh far away (60 s): only the degraded refresh
// (every 250 ms while a primary is unreachable) can notice the promoted replica. A command sent at
// the kill is answered, and a client and a subscriber with nothing to send come back by themselves
// (on_reconnected) once the replica took over, before the periodic refresh could have run.
TEST_F(RedisClusterTest, AKilledPrimaryIsReplacedWithoutWaitingForThePeriodicRefresh) {
  RedisCluster cluster;
  periodic_refresh_ = 60s;
  auto c = connect(cluster);
  auto idle = connect(cluster);  // sends nothing during the failover
  auto s = subscriber(cluster);
  int idle_reconnected = 0;
  int sub_reconnected = 0;
  idle->on_reconnected([&] { ++idle_reconnected; });
  s->on_reconnected([&] { ++sub_reconnected; });
  const std::string channel = "signaling:session:{k2}";
  const std::string key = "session:ws:{k2}";
  subscribe(*s, channel);
  ASSERT_FALSE(sync(*c, {"SET", key, "v"}).ec);
  const std::size_t primary = cluster.primary_of_slot(key_slot(key));
  ASSERT_EQ(cluster.primary_of_slot(key_slot(channel)), primary);
  const std::size_t replica = cluster.replica_of(primary);
  cluster.wait_replicated(replica);
  cluster.kill(primary);
  // Sent once the client saw the primary's connection go (one written before may have run and
  // gets the error): not written anywhere, it waits, then is routed to the new primary.
  ASSERT_TRUE(run_until([&] { return !c->connected(); }, 10s));
  auto pending = std::make_shared<Result>();
  c->command({"GET", key}, [pending](std::error_code ec, Reply reply) {
    pending->done = true;
    pending->ec = ec;
    pending->reply = std::move(reply);
  });
  // Bounded well below the 60 s periodic refresh: only the degraded refresh can make this true.
  ASSERT_TRUE(run_until([&] { return idle_reconnected > 0 && sub_reconnected > 0 && pending->done; }, 40s))
      << "idle client reconnected " << idle_reconnected << ", subscriber " << sub_reconnected;
  EXPECT_TRUE(cluster.is_primary(replica));
  EXPECT_FALSE(pending->ec) << pending->ec.message() << " " << pending->reply.str;
  EXPECT_EQ(pending->reply.str, "v");
  EXPECT_TRUE(idle->connected());
  // The subscriber's shard may still be settling (a refresh that read the old map first): it
  // must come back by itself, bounded well below the periodic refresh.
  ASSERT_TRUE(run_until([&] { return s->connected(); }, 15s));
  // Subscribed again, on the promoted replica: one SPUBLISH reaches it (sent again while the
  // SSUBSCRIBE is still on its way; each published message that reached it is kept).
  Reply r;
  ASSERT_TRUE(run_until(
      [&] {
        r = sync(*idle, {"SPUBLISH", channel, "after kill"}).reply;
        if (r == Reply::integer_reply(1)) return true;
        run_until([] { return false; }, 100ms);  // a pause that keeps the clients running
        return false;
      },
      15s));
  EXPECT_TRUE(run_until([&] { return !got_[channel].empty(); }, 5s));
  EXPECT_EQ(got_[channel].front(), "after kill");
}

// A command in flight on a primary that is killed is answered with the error, not sent again to
// the promoted replica: it may have run there (a primary may die after running a command and
// before its reply). Here the primary holds it (CLIENT PAUSE WRITE) so it is surely in flight.
TEST_F(RedisClusterTest, ACommandInFlightOnAKilledPrimaryIsAnsweredWithTheError) {
  RedisCluster cluster;
  auto c = connect(cluster);
  const std::string key = "counter:{k3}";
  ASSERT_FALSE(sync(*c, {"SET", key, "10"}).ec);
  const std::size_t primary = cluster.primary_of_slot(key_slot(key));
  const std::size_t replica = cluster.replica_of(primary);
  cluster.wait_replicated(replica);
  ASSERT_EQ(cluster.command(primary, {"CLIENT", "PAUSE", "10000", "WRITE"}).str, "OK");
  auto r = std::make_shared<Result>();
  c->command({"INCR", key}, [r](std::error_code ec, Reply reply) {
    r->done = true;
    r->ec = ec;
    r->reply = std::move(reply);
  });
  run_until([] { return false; }, 200ms);  // written, held by the paused primary
  ASSERT_FALSE(r->done);
  cluster.kill(primary);
  ASSERT_TRUE(run_until([&] { return r->done; }, 20s));
  EXPECT_TRUE(r->ec == sig::redis::Errc::connection_lost || r->ec == sig::redis::Errc::timeout)
      << r->ec.message() << " " << r->reply.str;
  ASSERT_TRUE(run_until([&] { return cluster.is_primary(replica); }, 30s));
  cluster.wait_ok();
  std::optional<Result> got;
  ASSERT_TRUE(run_until(
      [&] {
        got = sync(*c, {"GET", key});
        return !got->ec;
      },
      20s));
  EXPECT_EQ(got->reply.str, "10");  // never run on the promoted replica
}

}  // namespace
