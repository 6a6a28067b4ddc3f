// A whole cluster::Node (its parts as the server composes them) against a real redis-server: with
// no local participant, its Redis traffic over its ticks does not depend on how many sessions are
// declared (0 or 2,000 `session:dir:*` hashes). The periodic sync runs at every tick here
// (--cluster-sync as short as the tick), so a sync that read every declared session would show.
// Counted with the server's INFO total_commands_processed, less the test's own commands; the window
// is a number of the node's ticks (its alive-key refreshes, one EVALSHA each), not a duration. Skipped when
// /usr/bin/redis-server is missing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "cluster/node.hpp"
#include "support/cluster_rig.hpp"
#include "support/redis_server.hpp"

using namespace sig;
using namespace std::chrono_literals;
using sig::test::Probe;
using sig::test::RedisServer;

namespace {

constexpr long long kTicks = 6;

struct Traffic {
  long long commands = 0;  // the node's, over kTicks ticks
  long long ticks = 0;     // alive-key refreshes (EVALSHA) counted
};

class ClusterNodeIdleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::available()) GTEST_SKIP() << "no " << RedisServer::kBinary;
  }

  // Starts a node on a fresh server holding `declared` sessions and counts its commands.
  Traffic measure(int declared) {
    boost::asio::io_context io;
    domain::ManualClock clock;
    RedisServer server;
    Probe probe(io, server.url());
    // The sessions as the admin API declares them, in one script (a fast set-up).
    probe.cmd({"EVAL",
               "for i = 1, tonumber(ARGV[1]) do redis.call('HSET', 'session:dir:s' .. i, 'hostUserId', 'a', "
               "'participants', '[{\"userId\":\"a\"}]', 'status', 'waiting') end return 1",
               "0", std::to_string(declared)});
    EXPECT_EQ(probe.cmd({"DBSIZE"}).integer, declared);

    cluster::NodeOptions o;
    o.redis_url = server.url();
    o.node_id = "n1";
    o.node_ttl = 300ms;      // a tick every 100 ms
    o.sync_interval = 50ms;  // a sync at every tick
    cluster::Node node(io.get_executor(), clock, o);
    domain::Hub hub(clock, domain::SessionSettings{}, &node, node.events());
    node.attach(hub);
    std::optional<std::error_code> started;
    node.start([&](std::error_code ec) { started = ec; });
    EXPECT_TRUE(test::run_until(io, [&] { return started.has_value(); }));
    EXPECT_FALSE(started.value_or(std::make_error_code(std::errc::timed_out)));
    // Past the start-up (connection handshakes, script loads, the first sync).
    const auto set0 = probe.info("commandstats", "cmdstat_evalsha");
    EXPECT_TRUE(
        test::run_until(io, [&] { return probe.info("commandstats", "cmdstat_evalsha") >= set0 + 2; }));

    const auto set1 = probe.info("commandstats", "cmdstat_evalsha");
    const auto total1 = probe.info("stats", "total_commands_processed");
    const auto own1 = probe.sent();
    EXPECT_TRUE(
        test::run_until(io, [&] { return probe.info("commandstats", "cmdstat_evalsha") >= set1 + kTicks; }));
    const auto own2 = probe.sent();
    const auto total2 = probe.info("stats", "total_commands_processed");
    const auto set2 = probe.info("commandstats", "cmdstat_evalsha");
    node.stop();
    test::run_until(
        io, [] { return false; }, 50ms);
    node.close();
    test::run_until(
        io, [] { return false; }, 50ms);
    // The probe's commands between the two totals (the first INFO "stats" itself is counted in
    // its own total or not: the same in both runs).
    return {total2 - total1 - (own2 - own1), set2 - set1};
  }
};

}  // namespace

TEST_F(ClusterNodeIdleTest, IdleTrafficDoesNotDependOnTheNumberOfDeclaredSessions) {
  const auto none = measure(0);
  const auto many = measure(2000);
  std::cout << "idle node over " << kTicks << " ticks: " << none.commands << " commands with 0 sessions ("
            << none.ticks << " ticks), " << many.commands << " with 2000 (" << many.ticks << " ticks)\n";
  // At least the alive key of each tick was counted: the measure sees the node.
  EXPECT_GE(none.commands, kTicks);
  EXPECT_GE(many.commands, kTicks);
  // Equal within a small constant (a tick more or less in the window), far from one read per
  // declared session (2,000 per sync).
  EXPECT_LE(std::llabs(many.commands - none.commands), 2 * (none.commands / none.ticks + 1))
      << none.commands << " vs " << many.commands;
  EXPECT_LT(many.commands, 100);
}
