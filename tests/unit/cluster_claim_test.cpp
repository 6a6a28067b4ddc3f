// The node id claim (NodeClaim: claim, compare-and-set refresh, release) and the fence against a
// real redis-server. Skipped when /usr/bin/redis-server is missing.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/fence.hpp"
#include "cluster/node_claim.hpp"
#include "domain/clock.hpp"
#include "redis/client.hpp"
#include "support/redis_fixtures.hpp"

using namespace sig;
using namespace std::chrono_literals;
using cluster::Fence;
using cluster::NodeClaim;
using redis::Reply;
using Outcome = NodeClaim::Outcome;

namespace {

constexpr const char* kKey = "signaling:node:n1:alive";

class ClusterClaimTest : public test::RedisClientTest {
 protected:
  cluster::EvalFn eval_fn() {
    return [c = client_](const redis::Script& s, std::span<const std::string_view> k,
                         std::span<const std::string_view> a,
                         redis::ReplyCallback cb) { c->eval(s, k, a, std::move(cb)); };
  }
  std::unique_ptr<NodeClaim> make_claim(std::chrono::milliseconds ttl = 10s) {
    return std::make_unique<NodeClaim>(eval_fn(), kKey, ttl);
  }
  template <typename Start>
  NodeClaim::Result wait(Start start) {
    std::optional<NodeClaim::Result> out;
    start([&](const NodeClaim::Result& r) { out = r; });
    for (int i = 0; i < 500 && !out; ++i)
      io_.run_for(10ms);
    EXPECT_TRUE(out.has_value()) << "no reply";
    return out.value_or(NodeClaim::Result{});
  }
  Reply cmd(std::initializer_list<std::string_view> args) {
    std::optional<Reply> out;
    client_->command(args, [&](std::error_code, Reply r) { out = std::move(r); });
    for (int i = 0; i < 500 && !out; ++i)
      io_.run_for(10ms);
    return out.value_or(Reply{});
  }
  void run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i)
      io_.run_for(10ms);
  }
};

}  // namespace

TEST_F(ClusterClaimTest, AClaimTakesAFreeIdAndRefusesALiveOne) {
  auto first = make_claim();
  EXPECT_EQ(first->token().size(), 32U);
  auto r = wait([&](auto cb) { first->claim(cb); });
  EXPECT_EQ(r.outcome, Outcome::current);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(cmd({"GET", kKey}).str, first->token() + ":0") << "<token>:<epoch>";
  const auto pttl = cmd({"PTTL", kKey}).integer;
  EXPECT_TRUE(pttl > 9000 && pttl <= 10000) << pttl;

  auto second = make_claim();
  EXPECT_NE(second->token(), first->token()) << "an epoch token per process";
  r = wait([&](auto cb) { second->claim(cb); });
  EXPECT_EQ(r.outcome, Outcome::taken);
  EXPECT_EQ(r.holder, first->token());
  EXPECT_EQ(r.error, cluster::ClaimErrc::held_by_live_node);
  EXPECT_EQ(r.error.message(), "another live node holds this node id");
  EXPECT_EQ(cmd({"GET", kKey}).str, first->token() + ":0") << "the live node's claim is untouched";

  // Claiming again what is ours is fine (a claim retried after a lost reply).
  EXPECT_EQ(wait([&](auto cb) { first->claim(cb); }).outcome, Outcome::current);
}

TEST_F(ClusterClaimTest, AClaimAfterTheKeyExpiredSucceeds) {
  auto dead = make_claim(200ms);
  ASSERT_EQ(wait([&](auto cb) { dead->claim(cb); }).outcome, Outcome::current);
  auto next = make_claim();
  EXPECT_EQ(wait([&](auto cb) { next->claim(cb); }).outcome, Outcome::taken);
  run_until([&] { return cmd({"EXISTS", kKey}).integer == 0; });
  EXPECT_EQ(wait([&](auto cb) { next->claim(cb); }).outcome, Outcome::current);
  EXPECT_EQ(cmd({"GET", kKey}).str, next->token() + ":0");
}

TEST_F(ClusterClaimTest, ARefreshRenewsItsOwnKeyWritesAMissingOneAndLeavesAnotherTokenAlone) {
  auto claim = make_claim();
  ASSERT_EQ(wait([&](auto cb) { claim->claim(cb); }).outcome, Outcome::current);
  cmd({"PEXPIRE", kKey, "500"});
  EXPECT_EQ(wait([&](auto cb) { claim->refresh(cb); }).outcome, Outcome::current);
  EXPECT_GT(cmd({"PTTL", kKey}).integer, 9000) << "renewed";

  // Expired (the node was frozen, or Redis lost its data): written again, and said so.
  cmd({"DEL", kKey});
  EXPECT_EQ(wait([&](auto cb) { claim->refresh(cb); }).outcome, Outcome::expired);
  EXPECT_EQ(cmd({"GET", kKey}).str, claim->token() + ":1") << "the next epoch";
  EXPECT_EQ(claim->epoch(), 1U);
  EXPECT_GT(cmd({"PTTL", kKey}).integer, 9000);
  EXPECT_EQ(wait([&](auto cb) { claim->refresh(cb); }).outcome, Outcome::current);

  // Taken over by another process meanwhile: not overwritten.
  cmd({"SET", kKey, "someone-else", "PX", "5000"});
  const auto r = wait([&](auto cb) { claim->refresh(cb); });
  EXPECT_EQ(r.outcome, Outcome::taken);
  EXPECT_EQ(r.holder, "someone-else");
  EXPECT_EQ(cmd({"GET", kKey}).str, "someone-else");
  EXPECT_LE(cmd({"PTTL", kKey}).integer, 5000) << "its TTL untouched";
}

// A frozen node wakes up past the Redis client's reply timeout: its first refresh found the key
// gone and wrote it again, but the reply was lost with the link. The next refresh must still say
// that the key had expired (the others may have presumed the node dead), not "current".
TEST_F(ClusterClaimTest, ARefreshWhoseReplyWasLostIsSeenByTheNextOneAsANewerEpoch) {
  auto claim = make_claim();
  ASSERT_EQ(wait([&](auto cb) { claim->claim(cb); }).outcome, Outcome::current);
  cmd({"DEL", kKey});
  // What the lost refresh did: the refresh script's own write of the next epoch.
  std::optional<Reply> lost;
  const std::vector<std::string_view> keys{kKey};
  const std::vector<std::string_view> args{claim->token(), "10000", "0"};
  client_->eval(NodeClaim::refresh_script(), keys, args,
                [&](std::error_code, Reply r) { lost = std::move(r); });
  run_until([&] { return lost.has_value(); });
  ASSERT_EQ(cmd({"GET", kKey}).str, claim->token() + ":1");
  EXPECT_EQ(claim->epoch(), 0U) << "this process never saw that reply";

  const auto r = wait([&](auto cb) { claim->refresh(cb); });
  EXPECT_EQ(r.outcome, Outcome::expired);
  EXPECT_EQ(claim->epoch(), 1U);
  EXPECT_EQ(cmd({"GET", kKey}).str, claim->token() + ":1") << "not written again";
  EXPECT_EQ(wait([&](auto cb) { claim->refresh(cb); }).outcome, Outcome::current);

  // An older epoch of its own token (a write lost in a failover, the replica lagging): written
  // again with the next epoch, once; not "expired" at every refresh after.
  cmd({"SET", kKey, claim->token() + ":0", "PX", "10000"});
  EXPECT_EQ(wait([&](auto cb) { claim->refresh(cb); }).outcome, Outcome::expired);
  EXPECT_EQ(cmd({"GET", kKey}).str, claim->token() + ":2");
  EXPECT_EQ(claim->epoch(), 2U);
  EXPECT_EQ(wait([&](auto cb) { claim->refresh(cb); }).outcome, Outcome::current);
}

TEST_F(ClusterClaimTest, AReleaseDeletesOnlyItsOwnKey) {
  auto claim = make_claim();
  ASSERT_EQ(wait([&](auto cb) { claim->claim(cb); }).outcome, Outcome::current);
  cmd({"SET", kKey, "someone-else"});
  wait([&](auto cb) { claim->release(cb); });
  EXPECT_EQ(cmd({"GET", kKey}).str, "someone-else");
  cmd({"SET", kKey, claim->token() + ":3"});
  wait([&](auto cb) { claim->release(cb); });
  EXPECT_EQ(cmd({"EXISTS", kKey}).integer, 0);
}

TEST_F(ClusterClaimTest, ARefreshWithoutRedisFails) {
  auto claim = make_claim();
  server_->stop();
  const auto r = wait([&](auto cb) { claim->refresh(cb); });
  EXPECT_EQ(r.outcome, Outcome::failed);
  EXPECT_TRUE(r.error);
}

// ---------------------------------------------------------------------------------------------
// Fence

namespace {

class FenceTest : public ClusterClaimTest {
 protected:
  void SetUp() override {
    ClusterClaimTest::SetUp();
    if (IsSkipped()) return;
    claim_ = make_claim(3s);
    ASSERT_EQ(wait([&](auto cb) { claim_->claim(cb); }).outcome, Outcome::current);
    fence_ = std::make_unique<Fence>(*claim_, clock_, boost::asio::make_strand(io_.get_executor()));
    // As the node does: current confirms, expired or taken drops.
    fence_->on_verdict([this](const NodeClaim::Result& r, domain::SteadyTime sent) {
      verdicts_.push_back(r.outcome);
      if (r.outcome == Outcome::current) fence_->confirm(sent);
      if (r.outcome == Outcome::expired || r.outcome == Outcome::taken) dropped_ += fence_->drop();
    });
  }
  // Advances the manual clock and lets the strand run.
  void later(std::chrono::milliseconds d) {
    clock_.advance(d);
    io_.run_for(20ms);
  }

  domain::ManualClock clock_;
  std::unique_ptr<NodeClaim> claim_;
  std::unique_ptr<Fence> fence_;
  std::vector<Outcome> verdicts_;
  std::size_t dropped_ = 0;
  std::vector<int> ran_;
};

}  // namespace

TEST_F(FenceTest, ShutUntilARefreshConfirmsThenOpenForTwoThirdsOfTheTtl) {
  EXPECT_FALSE(fence_->open()) << "nothing confirmed yet";
  fence_->submit([&] { ran_.push_back(1); });
  fence_->submit([&] { ran_.push_back(2); });
  EXPECT_TRUE(ran_.empty()) << "held";
  run_until([&] { return ran_.size() == 2; });
  EXPECT_EQ(ran_, (std::vector<int>{1, 2})) << "released in order once Redis confirmed";
  EXPECT_EQ(verdicts_, std::vector<Outcome>{Outcome::current});
  EXPECT_TRUE(fence_->open());
  fence_->submit([&] { ran_.push_back(3); });
  EXPECT_EQ(ran_.size(), 3U) << "open: runs at once, on the caller's thread";

  later(1900ms);  // < 2 s: still within the window of a 3 s TTL
  EXPECT_TRUE(fence_->open());
  later(200ms);
  EXPECT_FALSE(fence_->open()) << "past TTL minus a third without a confirmed refresh";
}

TEST_F(FenceTest, AFrozenNodeWhoseKeyExpiredDropsWhatItHeld) {
  fence_->refresh();
  run_until([&] { return fence_->open(); });
  // Frozen past the TTL: its key is gone (the others presumed it dead).
  cmd({"DEL", kKey});
  clock_.advance(5s);
  for (int i = 0; i < 25; ++i)
    fence_->submit([&, i] { ran_.push_back(i); });
  run_until([&] { return !verdicts_.empty() && verdicts_.back() != Outcome::current; });
  io_.run_for(50ms);
  EXPECT_TRUE(ran_.empty()) << "nothing relayed";
  EXPECT_EQ(dropped_, 25U);
  EXPECT_EQ(fence_->held(), 0U);
  EXPECT_EQ(verdicts_.back(), Outcome::expired);
  // Shut until the node has written its state again.
  fence_->submit([&] { ran_.push_back(100); });
  io_.run_for(50ms);
  EXPECT_TRUE(ran_.empty());
  fence_->reopen(clock_.now());
  EXPECT_TRUE(ran_.empty())
      << "what was held while shut (read after the verdict, sent while frozen) is dropped";
  EXPECT_TRUE(fence_->open());
  fence_->submit([&] { ran_.push_back(101); });
  EXPECT_EQ(ran_, std::vector<int>{101}) << "open again";
}

TEST_F(FenceTest, AnActionWhoseEpochWasReadBeforeADropIsDroppedEvenOnceTheFenceReopens) {
  fence_->refresh();
  run_until([&] { return fence_->open(); });
  // A connection thread reads the epoch, the domain lets its frame through (its sender still
  // connected), then the node learns it was presumed dead, closes its connections, writes its
  // state again and reopens, all before that thread reaches the fence.
  const auto before = fence_->epoch();
  dropped_ += fence_->drop();
  EXPECT_NE(fence_->epoch(), before);
  const auto while_shut = fence_->epoch();
  fence_->reopen(clock_.now());
  EXPECT_TRUE(fence_->open());
  fence_->submit([&] { ran_.push_back(1); }, 0, before);
  fence_->submit([&] { ran_.push_back(2); }, 0, while_shut);
  io_.run_for(50ms);
  EXPECT_TRUE(ran_.empty()) << "a frame accepted before the reopen never goes out";
  EXPECT_EQ(fence_->dropped_total(), 2U);
  fence_->submit([&] { ran_.push_back(3); }, 0, fence_->epoch());
  fence_->submit([&] { ran_.push_back(4); });  // kAnyEpoch: the node's own announcements
  EXPECT_EQ(ran_, (std::vector<int>{3, 4}));
}

TEST_F(FenceTest, AHeldActionWhoseEpochWentStaleBeforeTheStrandRanItIsDropped) {
  // Not confirmed yet: held (posted to the strand); a drop comes first on the strand.
  fence_->submit([&] { ran_.push_back(1); }, 0, fence_->epoch());
  dropped_ += fence_->drop();
  fence_->reopen(clock_.now());
  io_.run_for(50ms);
  EXPECT_TRUE(ran_.empty());
  fence_->submit([&] { ran_.push_back(2); }, 0, fence_->epoch());
  run_until([&] { return !ran_.empty(); });
  EXPECT_EQ(ran_, std::vector<int>{2});
}

TEST_F(FenceTest, ANodeWhoseIdWasTakenOverRelaysNothing) {
  cmd({"SET", kKey, "another-process"});
  fence_->submit([&] { ran_.push_back(1); });
  run_until([&] { return !verdicts_.empty(); });
  io_.run_for(50ms);
  EXPECT_EQ(verdicts_.back(), Outcome::taken);
  EXPECT_TRUE(ran_.empty());
  EXPECT_EQ(dropped_, 1U);
  EXPECT_FALSE(fence_->open());
}

TEST_F(FenceTest, AStillCurrentNodeReleasesAfterALongPause) {
  fence_->refresh();
  run_until([&] { return fence_->open(); });
  clock_.advance(2500ms);  // a pause past the window, but within the key's TTL in Redis
  fence_->submit([&] { ran_.push_back(1); });
  EXPECT_TRUE(ran_.empty());
  run_until([&] { return !ran_.empty(); });
  EXPECT_EQ(ran_, std::vector<int>{1});
  EXPECT_EQ(dropped_, 0U);
}

TEST_F(FenceTest, WhatIsHeldIsBoundedInBytesTheOldestDropped) {
  // Not confirmed yet: everything is held. 20 frames of 1 MiB each (declared): 16 fit.
  constexpr std::size_t kMiB = std::size_t{1} << 20U;
  static_assert(Fence::kMaxHeldBytes == 16 * kMiB);
  for (int i = 0; i < 20; ++i)
    fence_->submit([&, i] { ran_.push_back(i); }, kMiB);
  run_until([&] { return !ran_.empty(); });
  std::vector<int> expected;
  for (int i = 4; i < 20; ++i)
    expected.push_back(i);
  EXPECT_EQ(ran_, expected) << "the 4 oldest were dropped, the rest released in order";
  EXPECT_EQ(fence_->dropped_total(), 4U);
  EXPECT_EQ(fence_->held_bytes(), 0U);
  // One frame over the bound on its own is never held.
  clock_.advance(5s);
  fence_->submit([&] { ran_.push_back(100); }, Fence::kMaxHeldBytes + 1);
  io_.run_for(50ms);
  EXPECT_EQ(fence_->dropped_total(), 5U);
  EXPECT_EQ(ran_.back(), 19);
}
