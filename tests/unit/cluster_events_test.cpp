// The cluster's EventGate: which of the domain's events it lets through, holds or keeps back
// (cluster/events.hpp), without Redis.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/events.hpp"
#include "domain/hub.hpp"

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

// The store's attendance, read with the directory entry, is what the hub shows (GET), ended or not.
TEST(ClusterEventGate, TheHubShowsTheStoresAttendance) {
  domain::ManualClock clock;
  domain::Hub hub(clock, domain::SessionSettings{});
  domain::SessionSnapshot record;
  record.session_id = "s";
  record.spec.host_user_id = "a";
  record.spec.participants = {{"a", "Ann"}, {"b", "Bob"}};
  record.created_at = clock.wall_now();
  domain::AttendanceRecord r;
  r.user_id = "b";
  r.display_name = "Bob";
  r.first_joined = clock.wall_now() - std::chrono::minutes(5);
  r.connections = 3;
  r.connected = std::chrono::milliseconds(120'500);
  r.last_left = clock.wall_now() - std::chrono::minutes(1);
  record.attendance = {r};
  hub.apply_record("s", record);
  auto snap = hub.snapshot("s");
  ASSERT_TRUE(snap);
  ASSERT_EQ(snap->attendance.size(), 1U);
  EXPECT_EQ(snap->attendance[0].connections, 3U);
  EXPECT_EQ(snap->attendance[0].connected, std::chrono::milliseconds(120'500));
  // Ended: the store's final figures still replace the copy's.
  record.status = domain::Status::ended;
  record.end_reason = domain::EndReason::completed;
  record.ended_at = clock.wall_now();
  record.attendance[0].connections = 4;
  hub.apply_record("s", record);
  hub.apply_record("s", record);
  EXPECT_EQ(hub.snapshot("s")->attendance.at(0).connections, 4U);
  // A record without attendance (a join's reply reads the directory only) leaves it alone.
  record.attendance.clear();
  hub.apply_record("s", record);
  EXPECT_EQ(hub.snapshot("s")->attendance.size(), 1U);
}

namespace {
PlatformEvent local_left(std::string session, std::string user, std::string connection,
                         LeftReason reason = LeftReason::left) {
  auto e = ev(EventType::participant_left, std::move(session), std::move(user), reason);
  e.connection_id = std::move(connection);
  return e;
}
}  // namespace

// A local participant.left waits for its leave script: emitted when the script removed the entry
// (or could not run), dropped when another node had removed it (its join or end emitted the
// departure). The verdict may come before the event.
TEST(ClusterEventGate, ALocalLeftWaitsForItsLeaveScript) {
  Recorder out;
  cluster::EventGate gate(&out);
  gate.publish(local_left("s", "u1", "n1:1"));
  EXPECT_TRUE(out.got.empty()) << "kept back until the leave script answers";
  gate.settle_left("s", "n1:1", false);
  EXPECT_TRUE(out.got.empty()) << "another node removed it: its departure is that node's";
  gate.publish(local_left("s", "u2", "n1:2", LeftReason::disconnected));
  gate.settle_left("s", "n1:2", true);
  ASSERT_EQ(out.got.size(), 1U);
  EXPECT_EQ(out.got[0].user_id, "u2");
  gate.settle_left("s", "n1:3", true);  // the verdict first
  gate.publish(local_left("s", "u3", "n1:3"));
  ASSERT_EQ(out.got.size(), 2U);
  EXPECT_EQ(out.got[1].user_id, "u3");
  gate.settle_left("s", "n1:4", false);
  gate.publish(local_left("s", "u4", "n1:4"));
  EXPECT_EQ(out.got.size(), 2U);
  gate.settle_left("s", "n1:9", true);  // no event follows (a shutdown): nothing, and no match
  gate.publish(local_left("s", "u9", "n1:10"));
  EXPECT_EQ(out.got.size(), 2U) << "a verdict is for its own connection only";
}

// What comes after a kept-back event of a session waits behind it; other sessions do not.
TEST(ClusterEventGate, KeptBackEventsKeepTheSessionsOrder) {
  Recorder out;
  cluster::EventGate gate(&out);
  gate.publish(ev(EventType::session_started, "s"));
  gate.publish(ev(EventType::participant_joined, "s", "u1"));
  gate.publish(local_left("s", "u1", "n1:1"));
  gate.publish(ev(EventType::participant_reconnecting, "s", "u2"));
  gate.emit(ev(EventType::participant_left, "s", "u3", LeftReason::disconnected));  // a script's
  gate.publish(ev(EventType::participant_joined, "t", "u1"));
  ASSERT_EQ(out.got.size(), 1U) << "only the other session's event";
  EXPECT_EQ(out.got[0].session_id, "t");
  gate.settle_left("s", "n1:1", true);
  EXPECT_EQ(out.got.size(), 1U) << "the start still holds the queue";
  gate.settle_started("s", true);
  ASSERT_EQ(out.got.size(), 6U);
  EXPECT_EQ(out.got[1].type, EventType::session_started);
  EXPECT_EQ(out.got[2].type, EventType::participant_joined);
  EXPECT_EQ(out.got[3].user_id, "u1");
  EXPECT_EQ(out.got[3].type, EventType::participant_left);
  EXPECT_EQ(out.got[4].type, EventType::participant_reconnecting);
  EXPECT_EQ(out.got[5].user_id, "u3");
  // A dropped left in the middle: what follows it goes on once it is settled.
  gate.publish(local_left("s", "u4", "n1:4"));
  gate.publish(ev(EventType::participant_joined, "s", "u5"));
  EXPECT_EQ(out.got.size(), 6U);
  gate.settle_left("s", "n1:4", false);
  ASSERT_EQ(out.got.size(), 7U);
  EXPECT_EQ(out.got[6].user_id, "u5");
  gate.publish(ev(EventType::participant_joined, "s", "u6"));
  EXPECT_EQ(out.got.size(), 8U) << "nothing held: straight through";
}
