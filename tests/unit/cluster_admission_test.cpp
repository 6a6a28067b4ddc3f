// cluster::Admission against a real redis-server (tests/support/cluster_rig.hpp): a join the
// script admits is written (session:ws/peers/heartbeat) and hosted; each refusal of the script
// reaches the caller and writes nothing; the same user twice: the second connection replaces the
// first, on one node and across two. Skipped when /usr/bin/redis-server is missing.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "support/redis_fixtures.hpp"

using namespace sig;
using protocol::ErrorCode;
using sig::test::Rig;

namespace {

const cluster::Layout layout;  // the one-server layout

class ClusterAdmissionTest : public test::RigTest {
 protected:
  std::unique_ptr<Rig> rig(const std::string& id, std::size_t max_participants = 6) {
    return make_rig(id, [&](cluster::NodeOptions& o) { o.max_participants = max_participants; });
  }
  bool subscribed(const std::string& session) { return has_subscriber(layout.session_channel(session)); }
};

}  // namespace

TEST_F(ClusterAdmissionTest, AnAdmittedJoinIsWrittenAndHosted) {
  test::declare(*probe_, layout, "s");
  auto n1 = rig("n1");
  const auto j = n1->join("s", "a", "n1:1");
  ASSERT_TRUE(j.has_value());
  ASSERT_FALSE(j->error);
  ASSERT_TRUE(j->participant);
  EXPECT_EQ(probe_->hget(layout.ws("s"), "a"), "n1:1");
  // peers: `<seq>|<displayName>` (the directory's name).
  const auto peer = probe_->hget(layout.peers("s"), "a");
  EXPECT_TRUE(peer.ends_with("|Alice")) << peer;
  EXPECT_TRUE(probe_->exists(layout.heartbeat("s", "a")));
  EXPECT_GT(probe_->cmd({"TTL", layout.ws("s")}).integer, 0);
  // Hosted: in the hub as a local member, and the node listens to the session's channel.
  ASSERT_EQ(n1->hub.local_members("s").size(), 1U);
  EXPECT_EQ(n1->hub.local_members("s")[0].connection_id, "n1:1");
  EXPECT_EQ(n1->mirror.hosted(), 1U);
  EXPECT_TRUE(subscribed("s"));
}

TEST_F(ClusterAdmissionTest, EachRefusalReachesTheCallerAndWritesNothing) {
  test::declare(*probe_, layout, "s");
  test::declare(*probe_, layout, "over", "ended");
  auto n1 = rig("n1", 1);
  struct Case {
    const char* session;
    const char* user;
    ErrorCode expected;
  };
  const Case cases[] = {
      {"nowhere", "a", ErrorCode::session_not_found},
      {"over", "a", ErrorCode::session_ended},
      {"s", "zed", ErrorCode::not_participant},
  };
  for (const auto& c : cases) {
    const auto j = n1->join(c.session, c.user, "n1:9");
    ASSERT_TRUE(j.has_value()) << c.session;
    EXPECT_EQ(j->error, c.expected) << c.session;
    EXPECT_FALSE(j->participant);
    EXPECT_EQ(probe_->hget(layout.ws(c.session), c.user), "") << c.session;
    EXPECT_TRUE(n1->hub.local_members(c.session).empty());
    // A refused join leaves nothing hosted: the channel is released.
    EXPECT_TRUE(test::run_until(io_, [&] { return !subscribed(c.session); })) << c.session;
  }
  // The cap (here 1): the second participant is refused; the first stays.
  const auto first = n1->join("s", "a", "n1:1");
  ASSERT_TRUE(first && !first->error);
  const auto second = n1->join("s", "b", "n1:2");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->error, ErrorCode::session_full);
  EXPECT_EQ(probe_->hget(layout.ws("s"), "b"), "");
  EXPECT_EQ(probe_->hget(layout.ws("s"), "a"), "n1:1");
  EXPECT_EQ(n1->hub.local_members("s").size(), 1U);
  EXPECT_TRUE(subscribed("s"));
}

TEST_F(ClusterAdmissionTest, TheSameUserTwiceOnOneNodeTheSecondReplacesTheFirst) {
  test::declare(*probe_, layout, "s");
  auto n1 = rig("n1");
  auto ep1 = std::make_shared<test_support::RecordingEndpoint>();
  auto ep2 = std::make_shared<test_support::RecordingEndpoint>();
  const auto j1 = n1->join("s", "a", "n1:1", ep1);
  ASSERT_TRUE(j1 && !j1->error);
  const auto j2 = n1->join("s", "a", "n1:2", ep2);
  ASSERT_TRUE(j2 && !j2->error);
  EXPECT_EQ(probe_->hget(layout.ws("s"), "a"), "n1:2");
  EXPECT_TRUE(ep1->closed().has_value());
  EXPECT_FALSE(ep2->closed().has_value());
  const auto locals = n1->hub.local_members("s");
  ASSERT_EQ(locals.size(), 1U);
  EXPECT_EQ(locals[0].connection_id, "n1:2");
}

TEST_F(ClusterAdmissionTest, TheSameUserOnAnotherNodeReplacesTheFirstConnection) {
  test::declare(*probe_, layout, "s");
  auto n1 = rig("n1");
  auto n2 = rig("n2");
  auto ep1 = std::make_shared<test_support::RecordingEndpoint>();
  const auto j1 = n1->join("s", "a", "n1:1", ep1);
  ASSERT_TRUE(j1 && !j1->error);
  const auto j2 = n2->join("s", "a", "n2:1");
  ASSERT_TRUE(j2 && !j2->error);
  EXPECT_EQ(probe_->hget(layout.ws("s"), "a"), "n2:1");
  // n1 hears the join on the session channel: its connection of the same user is closed.
  EXPECT_TRUE(test::run_until(io_, [&] { return ep1->closed().has_value(); }));
  EXPECT_TRUE(test::run_until(io_, [&] { return n1->hub.local_members("s").empty(); }));
  EXPECT_EQ(probe_->hget(layout.ws("s"), "a"), "n2:1");  // n1's departure did not remove n2's entry
}

TEST_F(ClusterAdmissionTest, RedisDownAJoinOfASessionThisNodeHasNoCopyOfIsStoreUnavailable) {
  test::declare(*probe_, layout, "s");
  test::declare(*probe_, layout, "t");
  auto n1 = rig("n1");
  const auto a = n1->join("t", "a", "n1:1");
  ASSERT_TRUE(a && !a->error);
  probe_.reset();
  server_->stop();
  ASSERT_TRUE(test::run_until(io_, [&] { return !n1->ctx.client->connected(); }));
  // Not held here: it may well exist (other nodes host it), so never session_not_found.
  const auto unhosted = n1->join("s", "a", "n1:2");
  ASSERT_TRUE(unhosted.has_value());
  EXPECT_EQ(unhosted->error, ErrorCode::store_unavailable);
  EXPECT_FALSE(n1->hub.has_session("s"));
  // Hosted here: admitted against this node's copy (written when Redis is back).
  const auto hosted = n1->join("t", "b", "n1:3");
  ASSERT_TRUE(hosted.has_value());
  EXPECT_FALSE(hosted->error);
  EXPECT_TRUE(hosted->participant);
}
