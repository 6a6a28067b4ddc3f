// The attendance rules (docs/webhooks.md, "Attendance") on the manual clock, to the millisecond:
// first join, last departure, connections (joins and resumes), connected time (a loss keeps the
// interval open, a resume keeps it open, an expired window closes it at the loss, a clean leave
// and the session's end close it when they happen).
#include <gtest/gtest.h>

#include "domain/attendance.hpp"

using namespace sig;
using namespace std::chrono_literals;
using domain::Attendance;
using domain::AttendanceRecord;

namespace {

class AttendanceTest : public ::testing::Test {
 protected:
  domain::WallTime now() const { return clock.wall_now(); }
  AttendanceRecord only() const {
    const auto r = attendance.records();
    EXPECT_EQ(r.size(), 1U);
    return r.empty() ? AttendanceRecord{} : r.front();
  }
  domain::ManualClock clock;
  Attendance attendance;
};

}  // namespace

TEST_F(AttendanceTest, AJoinOpensAnIntervalAndCountsAConnection) {
  const auto t0 = now();
  attendance.joined("a", "Ann", t0);
  const auto r = only();
  EXPECT_EQ(r.user_id, "a");
  EXPECT_EQ(r.display_name, "Ann");
  EXPECT_EQ(r.first_joined, t0);
  EXPECT_FALSE(r.last_left);
  EXPECT_EQ(r.connections, 1U);
  EXPECT_EQ(r.connected, 0ms) << "closed intervals only";
  EXPECT_EQ(r.connected_since, t0);
  clock.advance(2'345ms);
  EXPECT_EQ(domain::connected_as_of(r, now()), 2'345ms) << "the open interval counts so far";
}

TEST_F(AttendanceTest, ACleanLeaveClosesTheIntervalNow) {
  attendance.joined("a", "Ann", now());
  clock.advance(12'345ms);
  const auto t1 = now();
  attendance.left("a", t1);
  const auto r = only();
  EXPECT_EQ(r.connected, 12'345ms);
  EXPECT_EQ(r.last_left, t1);
  EXPECT_FALSE(r.connected_since);
  clock.advance(5s);
  EXPECT_EQ(domain::connected_as_of(r, now()), 12'345ms) << "nothing counts while away";
  attendance.left("a", now());
  EXPECT_EQ(only().connected, 12'345ms) << "a second departure changes nothing";
  EXPECT_EQ(only().last_left, t1);
}

TEST_F(AttendanceTest, ARejoinCountsAgainAndKeepsTheFirstJoin) {
  const auto t0 = now();
  attendance.joined("a", "Ann", t0);
  clock.advance(1'001ms);
  attendance.left("a", now());
  clock.advance(30s);  // away: not counted
  const auto t2 = now();
  attendance.joined("a", "Ann B.", t2);
  auto r = only();
  EXPECT_EQ(r.first_joined, t0);
  EXPECT_FALSE(r.last_left) << "connected again";
  EXPECT_EQ(r.connections, 2U);
  EXPECT_EQ(r.connected_since, t2);
  EXPECT_EQ(r.display_name, "Ann B.") << "the latest name";
  clock.advance(2'002ms);
  attendance.left("a", now());
  r = only();
  EXPECT_EQ(r.connected, 3'003ms);
  EXPECT_EQ(r.last_left, now());
}

TEST_F(AttendanceTest, ALossKeepsTheIntervalOpenAndAResumeCountsTheGap) {
  const auto t0 = now();
  attendance.joined("a", "Ann", t0);
  clock.advance(1'500ms);
  attendance.lost("a", now());
  auto r = only();
  EXPECT_EQ(r.connected_since, t0) << "still open while reconnecting";
  EXPECT_FALSE(r.last_left);
  clock.advance(2'750ms);
  attendance.resumed("a", "Ann", now());
  r = only();
  EXPECT_EQ(r.connections, 2U) << "a resume is a connection";
  EXPECT_EQ(r.connected_since, t0) << "the interval never closed";
  clock.advance(5'751ms);
  attendance.left("a", now());
  EXPECT_EQ(only().connected, 10'001ms) << "1.5 s + the 2.75 s gap + 5.751 s";
}

TEST_F(AttendanceTest, AnExpiredWindowClosesTheIntervalAtTheLoss) {
  attendance.joined("a", "Ann", now());
  clock.advance(3'200ms);
  const auto lost_at = now();
  attendance.lost("a", lost_at);
  clock.advance(4s);
  attendance.lost("a", now());  // told again: the first loss stands
  clock.advance(6s);
  attendance.expired("a", now());
  const auto r = only();
  EXPECT_EQ(r.connected, 3'200ms) << "the window's 10 s did not count";
  EXPECT_EQ(r.last_left, lost_at);
  EXPECT_FALSE(r.connected_since);
  EXPECT_EQ(r.connections, 1U);
}

TEST_F(AttendanceTest, AResumeForgetsTheLossSoALaterExpiryClosesAtTheNewLoss) {
  attendance.joined("a", "Ann", now());
  clock.advance(1s);
  attendance.lost("a", now());
  clock.advance(1s);
  attendance.resumed("a", "Ann", now());
  clock.advance(2'500ms);
  const auto second_loss = now();
  attendance.lost("a", second_loss);
  clock.advance(10s);
  attendance.expired("a", now());
  EXPECT_EQ(only().connected, 4'500ms);
  EXPECT_EQ(only().last_left, second_loss);
}

TEST_F(AttendanceTest, ADepartureWhileReconnectingClosesNow) {
  // A removal or a replacement while the connection is lost: decided now, so the gap counts.
  attendance.joined("a", "Ann", now());
  clock.advance(1s);
  attendance.lost("a", now());
  clock.advance(2'222ms);
  attendance.left("a", now());
  EXPECT_EQ(only().connected, 3'222ms);
  EXPECT_EQ(only().last_left, now());
}

TEST_F(AttendanceTest, TheEndClosesEveryOpenIntervalAndKeepsJoinOrder) {
  const auto t0 = now();
  attendance.joined("b", "Bob", t0);
  clock.advance(100ms);
  attendance.joined("a", "Ann", now());
  clock.advance(400ms);
  attendance.joined("c", "Cid", now());
  clock.advance(500ms);
  attendance.left("c", now());  // c: 0.5 s, left at t0 + 1 s
  clock.advance(1s);
  attendance.lost("a", now());  // a: reconnecting when the session ends
  clock.advance(3s);
  const auto end = now();
  attendance.end(end);
  const auto r = attendance.records();
  ASSERT_EQ(r.size(), 3U);
  EXPECT_EQ(r[0].user_id, "b");
  EXPECT_EQ(r[1].user_id, "a");
  EXPECT_EQ(r[2].user_id, "c");
  EXPECT_EQ(r[0].connected, 5'000ms);
  EXPECT_EQ(r[0].last_left, end);
  EXPECT_EQ(r[1].connected, 1'900ms) << "the end closes a reconnecting one at its loss";
  EXPECT_EQ(r[1].last_left, end - 3s);
  EXPECT_EQ(r[2].connected, 500ms) << "already closed: unchanged";
  EXPECT_EQ(r[2].last_left, t0 + 1s);
  for (const auto& x : r)
    EXPECT_FALSE(x.connected_since);
}

TEST_F(AttendanceTest, UnknownUsersAndAStepBackOfTheWallClockChangeNothingBadly) {
  attendance.left("nobody", now());
  attendance.lost("nobody", now());
  attendance.expired("nobody", now());
  EXPECT_TRUE(attendance.empty());
  const auto t0 = now();
  attendance.joined("a", "Ann", t0);
  attendance.left("a", t0 - 5s);  // the wall clock stepped back: an empty interval
  EXPECT_EQ(only().connected, 0ms);
  AttendanceRecord open;
  open.connected = 1s;
  open.connected_since = t0;
  EXPECT_EQ(domain::connected_as_of(open, t0 - 1s), 1s);
}
