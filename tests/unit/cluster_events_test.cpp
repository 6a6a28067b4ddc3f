// The cluster's EventGate: which of the domain's events it lets through, holds or keeps back
// (cluster/events.hpp), without Redis.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/events.hpp"

using namespace sig;
using domain::EventType;
using domain::LeftReason;
using domain::PlatformEvent;

namespace {

struct Recorder final : domain::EventSink {
  std::vector<PlatformEvent> got;
  void publish(PlatformEvent e) override { got.push_back(std::move(e)); }
};

PlatformEvent ev(EventType type, std::string session, std::string user = {},
                 std::optional<LeftReason> reason = std::nullopt) {
  PlatformEvent e;
  e.type = type;
  e.session_id = std::move(session);
  e.user_id = std::move(user);
  e.left_reason = reason;
  return e;
}

}  // namespace

TEST(ClusterEventGate, PassesTheDomainsOwnDecisionsAndKeepsBackTheEnd) {
  Recorder out;
  cluster::EventGate gate(&out);
  gate.publish(ev(EventType::participant_joined, "s", "u1"));
  gate.publish(ev(EventType::participant_left, "s", "u2", LeftReason::left));
  gate.publish(ev(EventType::participant_left, "s", "u1", LeftReason::session_ended));
  gate.publish(ev(EventType::session_ended, "s"));
  gate.publish(ev(EventType::session_ended, "t"));
  ASSERT_EQ(out.got.size(), 2U) << "the end is the end script's to emit";
  EXPECT_EQ(out.got[0].user_id, "u1");
  EXPECT_EQ(out.got[1].left_reason, LeftReason::left);
  const auto kept = gate.take_ended("s");
  ASSERT_EQ(kept.size(), 2U) << "kept in order for the fallback";
  EXPECT_EQ(kept[0].type, EventType::participant_left);
  EXPECT_EQ(kept[1].type, EventType::session_ended);
  EXPECT_TRUE(gate.take_ended("s").empty()) << "taken once";
  EXPECT_EQ(gate.take_ended("t").size(), 1U);
  gate.publish(ev(EventType::session_started, "s"));
  EXPECT_EQ(out.got.size(), 2U) << "the start is kept back for the start script's verdict";
  gate.settle_started("s", false);
  EXPECT_EQ(out.got.size(), 2U) << "another node started it";
  gate.settle_started("t", true);  // the verdict first, then the event
  gate.publish(ev(EventType::session_started, "t"));
  ASSERT_EQ(out.got.size(), 3U);
  EXPECT_EQ(out.got[2].session_id, "t");
  gate.publish(ev(EventType::session_started, "s"));
  gate.settle_started("s", true);
  ASSERT_EQ(out.got.size(), 4U);
  EXPECT_TRUE(gate.take_ended("s").empty());
  gate.emit(ev(EventType::session_ended, "s"));
  EXPECT_EQ(out.got.size(), 5U) << "emit() goes straight through";
}

TEST(ClusterEventGate, HoldsTheEventsOfAJoinOnThisThreadOnly) {
  Recorder out;
  cluster::EventGate gate(&out);
  std::vector<PlatformEvent> held;
  {
    cluster::EventGate::Hold hold;
    gate.publish(ev(EventType::participant_left, "s", "u1", LeftReason::replaced));
    gate.publish(ev(EventType::participant_joined, "s", "u1"));
    EXPECT_TRUE(out.got.empty());
    held = hold.take();
  }
  ASSERT_EQ(held.size(), 2U);
  EXPECT_EQ(held[1].type, EventType::participant_joined);
  gate.publish(ev(EventType::participant_joined, "s", "u2"));
  EXPECT_EQ(out.got.size(), 1U) << "no hold once the scope is left";
  cluster::EventGate none(nullptr);
  none.publish(ev(EventType::participant_joined, "s", "u3"));  // no sink: dropped, no crash
}
