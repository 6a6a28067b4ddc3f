// cluster::Restore against a real redis-server (tests/support/cluster_rig.hpp): after Redis lost
// its data (FLUSHALL) the node writes its sessions and local participants again, called directly
// and through the liveness tick that finds the node's own alive key gone; another node's
// participants are not written by this one. Skipped when /usr/bin/redis-server is missing.
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

class ClusterRestoreTest : public test::RigTest {
 protected:
  void SetUp() override {
    RigTest::SetUp();
    if (!IsSkipped()) test::declare(*probe_, layout, "s");
  }
  std::unique_ptr<Rig> rig(const std::string& id, std::chrono::milliseconds node_ttl = 10s,
                           std::chrono::milliseconds resume_window = 10s) {
    return make_rig(id, [&](cluster::NodeOptions& o) {
      o.node_ttl = node_ttl;
      o.resume_window = resume_window;
    });
  }
};

}  // namespace

TEST_F(ClusterRestoreTest, AfterAFlushTheNodeWritesItsSessionAndLocalParticipantsAgain) {
  auto n1 = rig("n1");
  auto n2 = rig("n2");
  ASSERT_TRUE(n1->join("s", "a", "n1:1").value().participant);
  ASSERT_TRUE(n1->join("s", "c", "n1:2").value().participant);
  ASSERT_TRUE(n2->join("s", "b", "n2:1").value().participant);
  const auto peer_a = probe_->hget(layout.peers("s"), "a");
  ASSERT_FALSE(peer_a.empty());

  probe_->cmd({"FLUSHALL"});
  ASSERT_EQ(probe_->cmd({"DBSIZE"}).integer, 0);
  bool done = false;
  on_strand(*n1, [&] { n1->restore.run([&] { done = true; }); });
  ASSERT_TRUE(test::run_until(io_, [&] { return done; }));

  // The directory entry, from the node's copy.
  EXPECT_EQ(probe_->hget(layout.dir("s"), "hostUserId"), "a");
  EXPECT_EQ(probe_->hget(layout.dir("s"), "status"), "waiting");
  // Its own participants, with their place (seq) and name.
  EXPECT_EQ(probe_->hget(layout.ws("s"), "a"), "n1:1");
  EXPECT_EQ(probe_->hget(layout.ws("s"), "c"), "n1:2");
  EXPECT_EQ(probe_->hget(layout.peers("s"), "a"), peer_a);
  EXPECT_GT(probe_->cmd({"TTL", layout.ws("s")}).integer, 0);
  // Not another node's: n2 restores its own.
  EXPECT_EQ(probe_->hget(layout.ws("s"), "b"), "");
  // The node's connections stayed open.
  EXPECT_EQ(n1->hub.local_members("s").size(), 2U);
}

TEST_F(ClusterRestoreTest, TheTickThatFindsItsAliveKeyGoneRestoresTheNode) {
  auto n1 = rig("n1", 900ms);  // a tick every 300 ms
  auto ep = std::make_shared<test_support::RecordingEndpoint>();
  ASSERT_TRUE(n1->join("s", "a", "n1:1", ep).value().participant);
  on_strand(*n1, [&] { n1->liveness.start(); });
  ASSERT_TRUE(test::run_until(io_, [&] { return probe_->cmd({"EXISTS", layout.alive("n1")}).integer == 1; }));

  probe_->cmd({"FLUSHALL"});
  EXPECT_TRUE(test::run_until(io_, [&] { return probe_->hget(layout.ws("s"), "a") == "n1:1"; }));
  EXPECT_EQ(probe_->hget(layout.dir("s"), "hostUserId"), "a");
  EXPECT_EQ(probe_->cmd({"EXISTS", layout.alive("n1")}).integer, 1);
  // With a resume window the connection stays open (its state is announced as resumed).
  EXPECT_FALSE(ep->closed().has_value());
  EXPECT_EQ(n1->hub.local_members("s").size(), 1U);
  on_strand(*n1, [&] { n1->ctx.stopping = true; });
}

TEST_F(ClusterRestoreTest, WithoutAResumeWindowANodePresumedDeadClosesItsConnections) {
  auto n1 = rig("n1", 900ms, 0ms);
  auto ep = std::make_shared<test_support::RecordingEndpoint>();
  ASSERT_TRUE(n1->join("s", "a", "n1:1", ep).value().participant);
  on_strand(*n1, [&] { n1->liveness.start(); });
  ASSERT_TRUE(test::run_until(io_, [&] { return probe_->cmd({"EXISTS", layout.alive("n1")}).integer == 1; }));

  probe_->cmd({"FLUSHALL"});
  // The others have removed its participants meanwhile: its clients are told to rejoin.
  EXPECT_TRUE(test::run_until(io_, [&] { return ep->closed().has_value(); }));
  EXPECT_TRUE(test::run_until(io_, [&] { return probe_->cmd({"EXISTS", layout.alive("n1")}).integer == 1; }));
  on_strand(*n1, [&] { n1->ctx.stopping = true; });
}
