// cluster::Mirror against a real redis-server (tests/support/cluster_rig.hpp): the node subscribes
// to a session's channel at its first local participant and unsubscribes at its last (seen by the
// server: PUBSUB CHANNELS); events another node publishes reach this node's hub; a session without
// local participants is dropped from the hub. Skipped when /usr/bin/redis-server is missing.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "cluster/codec.hpp"
#include "support/redis_fixtures.hpp"

using namespace sig;
using namespace std::chrono_literals;
using sig::test::Rig;

namespace {

const cluster::Layout layout;  // the one-server layout

class ClusterMirrorTest : public test::RigTest {
 protected:
  void SetUp() override {
    RigTest::SetUp();
    if (!IsSkipped()) test::declare(*probe_, layout, "s");
  }
  std::unique_ptr<Rig> rig(const std::string& id) { return make_rig(id); }
  long long subscribers(const std::string& session) {
    const auto r = probe_->cmd({"PUBSUB", "NUMSUB", layout.session_channel(session)});
    return r.elements.size() == 2 ? r.elements[1].integer : -1;
  }
  bool subscribed(const std::string& session) { return has_subscriber(layout.session_channel(session)); }
  void leave(const domain::HubJoin& j) { j.session->leave(j.participant, clock_.now()); }
};

}  // namespace

TEST_F(ClusterMirrorTest, SubscribesAtTheFirstLocalParticipantAndUnsubscribesAtTheLast) {
  auto n1 = rig("n1");
  EXPECT_FALSE(subscribed("s"));
  const auto a = n1->join("s", "a", "n1:1");
  ASSERT_TRUE(a && !a->error);
  EXPECT_TRUE(subscribed("s"));
  const auto b = n1->join("s", "b", "n1:2");
  ASSERT_TRUE(b && !b->error);
  EXPECT_EQ(subscribers("s"), 1);  // one subscription per node, not per participant
  EXPECT_EQ(n1->mirror.hosted(), 1U);

  leave(*a);
  ASSERT_TRUE(test::run_until(io_, [&] { return probe_->hget(layout.ws("s"), "a").empty(); }));
  EXPECT_TRUE(subscribed("s"));  // b is still here
  EXPECT_TRUE(n1->hub.has_session("s"));

  leave(*b);
  EXPECT_TRUE(test::run_until(io_, [&] { return !subscribed("s"); }));
  EXPECT_EQ(n1->mirror.hosted(), 0U);
  EXPECT_FALSE(n1->hub.has_session("s"));        // dropped with its last local participant
  EXPECT_TRUE(probe_->exists(layout.dir("s")));  // the directory entry stays in Redis
}

TEST_F(ClusterMirrorTest, TheJoinSeqKeptForRestoreGoesWithTheLastLocalParticipant) {
  auto n1 = rig("n1");
  const auto a = n1->join("s", "a", "n1:1");
  ASSERT_TRUE(a && !a->error);
  const auto b = n1->join("s", "b", "n1:2");
  ASSERT_TRUE(b && !b->error);
  // Hosted: restore needs the highest join seq read.
  ASSERT_TRUE(n1->admission.seen_seq().contains("s"));
  EXPECT_GT(n1->admission.seen_seq().at("s"), 0U);
  leave(*a);
  ASSERT_TRUE(test::run_until(io_, [&] { return probe_->hget(layout.ws("s"), "a").empty(); }));
  EXPECT_TRUE(n1->admission.seen_seq().contains("s")) << "b is still here";
  leave(*b);
  ASSERT_TRUE(test::run_until(io_, [&] { return n1->mirror.hosted() == 0; }));
  EXPECT_FALSE(n1->admission.seen_seq().contains("s")) << "not kept for a session no longer hosted";
  // Hosted again: kept again.
  const auto c = n1->join("s", "c", "n1:3");
  ASSERT_TRUE(c && !c->error);
  EXPECT_TRUE(n1->admission.seen_seq().contains("s"));
}

TEST_F(ClusterMirrorTest, EventsPublishedByAnotherNodeReachTheHub) {
  auto n1 = rig("n1");
  auto n2 = rig("n2");
  ASSERT_TRUE(n1->join("s", "a", "n1:1").value().participant);
  const auto b = n2->join("s", "b", "n2:1");
  ASSERT_TRUE(b && !b->error);
  // n2's join, published on the session channel, reaches n1's hub (and n2 read n1's from Redis).
  EXPECT_TRUE(test::run_until(io_, [&] { return n1->hosts_remote("n2:1"); }));
  EXPECT_TRUE(n2->hosts_remote("n1:1"));
  // Its departure too.
  leave(*b);
  EXPECT_TRUE(test::run_until(io_, [&] { return !n1->hosts_remote("n2:1"); }));
  // An event of a node that is not in this test (published by hand as a node's script does).
  probe_->cmd(
      {"PUBLISH", layout.session_channel("s"), cluster::encode_joined({{"c", "Cy"}, "n3:7", 99}, false)});
  EXPECT_TRUE(test::run_until(io_, [&] { return n1->hosts_remote("n3:7"); }));
  probe_->cmd({"PUBLISH", layout.session_channel("s"), cluster::encode_left("c", "n3:7")});
  EXPECT_TRUE(test::run_until(io_, [&] { return !n1->hosts_remote("n3:7"); }));
}

TEST_F(ClusterMirrorTest, ASessionReadWithoutLocalParticipantsIsDropped) {
  auto n1 = rig("n1");
  // An admin call's read: the session is in the hub for the answer, not hosted.
  bool loaded = false;
  n1->mirror.load("s", [&](bool) { loaded = true; });
  ASSERT_TRUE(test::run_until(io_, [&] { return loaded; }));
  ASSERT_TRUE(n1->hub.has_session("s"));
  EXPECT_EQ(n1->mirror.hosted(), 0U);
  EXPECT_FALSE(subscribed("s"));
  bool released = false;
  auto release_idle = [&] {
    released = false;
    boost::asio::post(n1->ctx.strand, [&] {
      n1->mirror.release_idle();
      released = true;
    });
    ASSERT_TRUE(test::run_until(io_, [&] { return released; }));
  };
  release_idle();
  EXPECT_TRUE(n1->hub.has_session("s"));  // kept a few seconds (the hub may end it meanwhile)
  clock_.advance(cluster::Mirror::kVisitorKeep);
  release_idle();
  EXPECT_FALSE(n1->hub.has_session("s"));
  EXPECT_TRUE(probe_->exists(layout.dir("s")));  // only this node's copy is dropped
}

// The periodic sync reads a session whole only when something changed since its last read: a
// session whose copy matches Redis costs one HGETALL of its directory (whose `rev` every presence
// script increments, and which the platform's own writes change). A change whose event was lost
// is read at the next sync; a member Redis no longer lists is removed at the second read (as
// before: one read may come before another node's restore), and only then is the session settled.
TEST_F(ClusterMirrorTest, TheSyncReadsASessionWholeOnlyWhenItsDirectoryChanged) {
  auto n1 = rig("n1");
  auto n2 = rig("n2");
  ASSERT_TRUE(n1->join("s", "a", "n1:1").value().participant);
  ASSERT_TRUE(n2->join("s", "b", "n2:1").value().participant);
  ASSERT_TRUE(test::run_until(io_, [&] { return n1->hosts_remote("n2:1"); }));
  auto sync = [&] {
    bool done = false;
    boost::asio::post(n1->ctx.strand, [&] { n1->mirror.sync([&] { done = true; }); });
    EXPECT_TRUE(test::run_until(io_, [&] { return done; }));
  };
  auto reads = [&] { return n1->mirror.sync_reads(); };
  sync();  // an event came since the join: read whole
  EXPECT_EQ(reads(), 1U);
  sync();
  sync();
  EXPECT_EQ(reads(), 1U) << "nothing changed: the directory alone";
  EXPECT_EQ(n1->mirror.sync_unchanged(), 2U);

  // b's departure as its leave script writes it, its event lost.
  probe_->cmd({"HDEL", layout.ws("s"), "b"});
  probe_->cmd({"HDEL", layout.peers("s"), "b"});
  probe_->cmd({"HINCRBY", layout.dir("s"), "rev", "1"});
  sync();
  EXPECT_EQ(reads(), 2U);
  EXPECT_TRUE(n1->hosts_remote("n2:1")) << "missing once: kept until the next read";
  sync();
  EXPECT_EQ(reads(), 3U) << "not settled while a member is missing";
  EXPECT_FALSE(n1->hosts_remote("n2:1"));
  sync();
  EXPECT_EQ(reads(), 3U);

  // The platform writes the directory itself (no rev): read whole, applied.
  probe_->cmd({"HSET", layout.dir("s"), "durationSeconds", "1234"});
  sync();
  EXPECT_EQ(reads(), 4U);
  const auto snaps = n1->hub.snapshots();
  ASSERT_EQ(snaps.size(), 1U);
  EXPECT_EQ(snaps[0].spec.duration, std::chrono::seconds(1234));
  sync();
  EXPECT_EQ(reads(), 4U);
}
