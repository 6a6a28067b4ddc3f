// cluster::Liveness against a real redis-server (tests/support/cluster_rig.hpp): the node's alive
// key is written with its TTL at each tick and deleted at stop; another node whose alive key is
// missing at two checks in a row is presumed gone and its members leave (--resume-window 0).
// Skipped when /usr/bin/redis-server is missing.
//
// Relies on (liveness.cpp, node_claim.cpp): the alive key `signaling:node:<id>:alive` holds the
// node's token, claimed at start-up and refreshed (its TTL reset to --node-ttl) by a
// compare-and-set script every third of --node-ttl; another node checked with one EXISTS per
// tick; two misses in a row make the verdict.
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <memory>
#include <string>

#include "support/redis_fixtures.hpp"

using namespace sig;
using namespace std::chrono_literals;
using sig::test::Rig;

namespace {

const cluster::Layout layout;  // the one-server layout

class ClusterLivenessTest : public test::RigTest {
 protected:
  void SetUp() override {
    RigTest::SetUp();
    if (!IsSkipped()) test::declare(*probe_, layout, "s");
  }
  std::unique_ptr<Rig> rig(const std::string& id, std::chrono::milliseconds node_ttl,
                           std::chrono::milliseconds resume_window = 10s) {
    return make_rig(id, [&](cluster::NodeOptions& o) {
      o.node_ttl = node_ttl;
      o.resume_window = resume_window;
    });
  }
  std::string alive_value(const std::string& node) {
    const auto r = probe_->cmd({"GET", layout.alive(node)});
    return r.is_string() ? r.str : std::string();
  }
  long long exists_calls() { return probe_->info("commandstats", "cmdstat_exists"); }
};

}  // namespace

TEST_F(ClusterLivenessTest, TheAliveKeyIsWrittenWithItsTtlAtEachTickAndDeletedAtStop) {
  // The rig claimed the id, as Node does at start-up: the key holds the node's token.
  auto n1 = rig("n1", 3000ms);
  const auto token = alive_value("n1");
  ASSERT_FALSE(token.empty());
  on_strand(*n1, [&] { n1->liveness.start(); });
  const auto pttl = probe_->cmd({"PTTL", layout.alive("n1")}).integer;
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 3000);
  // Refreshed at the next ticks: the TTL goes back to --node-ttl, the token stays.
  probe_->cmd({"PEXPIRE", layout.alive("n1"), "600000"});
  clock_.advance(1h);
  EXPECT_TRUE(test::run_until(io_, [&] {
    const auto p = probe_->cmd({"PTTL", layout.alive("n1")}).integer;
    return p > 0 && p <= 3000;
  }));
  EXPECT_EQ(alive_value("n1"), token);
  on_strand(*n1, [&] {
    n1->ctx.stopping = true;
    n1->liveness.stop();
  });
  EXPECT_TRUE(test::run_until(io_, [&] { return alive_value("n1").empty(); }));
}

TEST_F(ClusterLivenessTest, ANodeWhoseAliveKeyIsMissingAtTwoChecksIsPresumedGone) {
  // n1 ticks every 500 ms; n2 does not tick: its alive key, written once, lives 60 s unless deleted.
  auto n1 = rig("n1", 1500ms, 0ms);
  auto n2 = rig("n2", 60s);
  ASSERT_TRUE(n1->join("s", "a", "n1:1").value().participant);
  ASSERT_TRUE(n2->join("s", "b", "n2:1").value().participant);
  ASSERT_TRUE(test::run_until(io_, [&] { return n1->hosts_remote("n2:1"); }));
  on_strand(*n2, [&] { n2->liveness.write_alive(); });
  on_strand(*n1, [&] { n1->liveness.start(); });

  // n2 alive: checked at several ticks, its member stays.
  const auto base = exists_calls();
  ASSERT_TRUE(test::run_until(io_, [&] { return exists_calls() >= base + 3; }));
  EXPECT_EQ(probe_->hget(layout.ws("s"), "b"), "n2:1");
  EXPECT_TRUE(n1->hosts_remote("n2:1"));

  // n2's alive key gone: one missing check is not a verdict (a failed write is retried).
  probe_->cmd({"DEL", layout.alive("n2")});
  const auto after_del = exists_calls();
  ASSERT_TRUE(test::run_until(io_, [&] { return exists_calls() >= after_del + 1; }));
  EXPECT_EQ(probe_->hget(layout.ws("s"), "b"), "n2:1");
  EXPECT_TRUE(n1->hosts_remote("n2:1"));

  // The second: n2's members leave, in Redis and in n1's hub; n1's own stays.
  EXPECT_TRUE(test::run_until(io_, [&] { return probe_->hget(layout.ws("s"), "b").empty(); }));
  EXPECT_TRUE(test::run_until(io_, [&] { return !n1->hosts_remote("n2:1"); }));
  EXPECT_EQ(probe_->hget(layout.ws("s"), "a"), "n1:1");
  EXPECT_EQ(n1->hub.local_members("s").size(), 1U);
}

TEST_F(ClusterLivenessTest, WithAResumeWindowTheMembersOfAGoneNodeAreReconnecting) {
  auto n1 = rig("n1", 1500ms, 10s);
  auto n2 = rig("n2", 60s);
  ASSERT_TRUE(n1->join("s", "a", "n1:1").value().participant);
  ASSERT_TRUE(n2->join("s", "b", "n2:1").value().participant);
  ASSERT_TRUE(test::run_until(io_, [&] { return n1->hosts_remote("n2:1"); }));
  probe_->cmd({"DEL", layout.alive("n2")});  // n2's claim: gone as if it had died
  on_strand(*n1, [&] { n1->liveness.start(); });
  // The lost script records the loss time in b's attendance ("r"); its place is kept in session:ws.
  EXPECT_TRUE(test::run_until(io_, [&] {
    const auto att = probe_->hget(layout.attendance("s"), "b");
    return att.find("\"r\":") != std::string::npos && att.find("\"r\":false") == std::string::npos;
  }));
  EXPECT_EQ(probe_->hget(layout.ws("s"), "b"), "n2:1");
  EXPECT_TRUE(n1->hosts_remote("n2:1"));  // reconnecting, not gone
}
