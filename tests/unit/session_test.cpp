// Session lifecycle, relay rules and the heartbeat monitor, driven by a manual clock.
#include <gtest/gtest.h>

#include "domain/hub.hpp"
#include "domain/rate_limiter.hpp"
#include "store/memory_presence.hpp"
#include "support/recording_endpoint.hpp"

using namespace sig;
using namespace std::chrono_literals;
using domain::Status;
using protocol::CloseCode;
using test_support::RecordingEndpoint;

namespace {

domain::SessionSpec four_person_spec(std::chrono::seconds duration = 0s) {
  domain::SessionSpec spec;
  spec.host_user_id = "a";
  spec.participants = {{"a", "Alice"}, {"b", "Bob"}, {"c", "Carol"}, {"d", "Dave"}, {"e", ""}};
  spec.duration = duration;
  return spec;
}

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() : hub(clock, settings(), &presence) {
    EXPECT_TRUE(hub.put_session("s1", four_person_spec()).created);
  }

  static domain::SessionSettings settings() {
    domain::SessionSettings s;
    s.max_participants = 4;
    s.heartbeat_timeout = 30s;
    s.start_timeout = 1h;
    s.empty_timeout = 5min;
    s.ended_retention = 10min;
    return s;
  }

  struct Conn {
    std::shared_ptr<RecordingEndpoint> ep = std::make_shared<RecordingEndpoint>();
    domain::HubJoin join;
  };

  Conn connect(const std::string& user, const std::string& token_name = "",
               const std::string& session = "s1") {
    Conn c;
    c.join = hub.join(session, {user, token_name}, "node:" + user + std::to_string(++serial), c.ep);
    return c;
  }

  domain::ManualClock clock;
  store::MemoryPresence presence;
  domain::Hub hub;
  int serial = 0;
};

}  // namespace

TEST_F(SessionTest, NewcomerGetsRosterAndOthersGetParticipantJoined) {
  auto a = connect("a", "Alice T");
  ASSERT_FALSE(a.join.error);
  auto msgs = a.ep->take();
  ASSERT_EQ(msgs.size(), 1U);
  EXPECT_EQ(msgs[0]["type"], "joined");
  EXPECT_EQ(msgs[0]["self"]["displayName"], "Alice T");  // the token's name wins
  EXPECT_TRUE(msgs[0]["participants"].empty());
  EXPECT_EQ(msgs[0]["hostUserId"], "a");
  EXPECT_EQ(msgs[0]["status"], "waiting");

  auto b = connect("b");  // no name in the token: the directory's
  auto bm = b.ep->take();
  ASSERT_EQ(bm.size(), 1U);
  EXPECT_EQ(bm[0]["participants"], nlohmann::json::parse(R"([{"userId":"a","displayName":"Alice T"}])"));
  EXPECT_EQ(bm[0]["self"]["displayName"], "Bob");
  EXPECT_EQ(a.ep->take(),
            std::vector{nlohmann::json::parse(
                R"({"type":"participant-joined","participant":{"userId":"b","displayName":"Bob"}})")});

  auto e = connect("e");  // neither: the user id
  EXPECT_EQ(e.ep->take()[0]["self"]["displayName"], "e");
  EXPECT_EQ(presence.connections("s1").size(), 3U);
}

TEST_F(SessionTest, RefusesUnknownSessionNonParticipantFullAndEnded) {
  EXPECT_EQ(connect("a", "", "nope").join.error, protocol::ErrorCode::session_not_found);
  EXPECT_EQ(connect("zed").join.error, protocol::ErrorCode::not_participant);
  auto a = connect("a"), b = connect("b"), c = connect("c"), d = connect("d");
  a.ep->take();
  auto e = connect("e");
  EXPECT_EQ(e.join.error, protocol::ErrorCode::session_full);
  EXPECT_TRUE(e.ep->messages().empty());
  EXPECT_TRUE(a.ep->take().empty()) << "nobody hears of a refused connection";
  ASSERT_FALSE(hub.end_session("s1"));
  EXPECT_EQ(connect("a").join.error, protocol::ErrorCode::session_ended);
}

TEST_F(SessionTest, LeaveIsAnnouncedExactlyOnce) {
  auto a = connect("a"), b = connect("b"), c = connect("c");
  a.ep->take();
  c.ep->take();
  b.join.session->leave(b.join.participant, clock.now());
  b.join.session->leave(b.join.participant, clock.now());  // the socket closing afterwards
  const auto left = nlohmann::json::parse(R"({"type":"participant-left","userId":"b"})");
  EXPECT_EQ(a.ep->take(), std::vector{left});
  EXPECT_EQ(c.ep->take(), std::vector{left});
  EXPECT_EQ(presence.connections("s1").count("b"), 0U);
}

TEST_F(SessionTest, RelayRules) {
  auto a = connect("a"), b = connect("b");
  auto& s = *a.join.session;
  b.ep->take();
  const auto msg = domain::make_payload(R"({"type":"offer","n":1})");
  EXPECT_FALSE(s.relay(*a.join.participant, "b", msg).error);
  EXPECT_EQ(b.ep->take(), std::vector{nlohmann::json::parse(*msg)});
  EXPECT_EQ(s.relay(*a.join.participant, "a", msg).error, protocol::ErrorCode::invalid_target);
  EXPECT_EQ(s.relay(*a.join.participant, "c", msg).error, protocol::ErrorCode::target_not_connected);
  EXPECT_EQ(s.relay(*a.join.participant, "zed", msg).error, protocol::ErrorCode::target_not_connected);
  s.leave(b.join.participant, clock.now());
  EXPECT_EQ(s.relay(*a.join.participant, "b", msg).error, protocol::ErrorCode::target_not_connected);
  // A participant that has left cannot send either.
  EXPECT_EQ(s.relay(*b.join.participant, "a", msg).error, protocol::ErrorCode::target_not_connected);
}

TEST_F(SessionTest, DuplicateConnectionReplacesTheOlderOne) {
  auto a = connect("a"), b1 = connect("b");
  a.ep->take();
  auto b2 = connect("b");
  ASSERT_FALSE(b2.join.error);
  EXPECT_EQ(b1.ep->closed(), CloseCode::replaced);
  EXPECT_EQ(b1.ep->take().back()["code"], "replaced");
  const auto seen = a.ep->take();
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0]["type"], "participant-left");
  EXPECT_EQ(seen[1]["type"], "participant-joined");
  const auto b2m = b2.ep->take();
  EXPECT_EQ(b2m[0]["type"], "joined");
  EXPECT_EQ(b2m[0]["participants"].size(), 1U);
  // The old connection closing later changes nothing.
  b1.join.session->leave(b1.join.participant, clock.now());
  EXPECT_TRUE(a.ep->take().empty());
  EXPECT_EQ(presence.connections("s1").at("b"), b2.join.participant->connection_id());
}

TEST_F(SessionTest, OnlyTheHostStartsAndEnds) {
  auto a = connect("a"), b = connect("b");
  auto& s = *a.join.session;
  EXPECT_EQ(s.start(b.join.participant.get(), clock.now(), clock.wall_now()), protocol::ErrorCode::not_host);
  a.ep->take();
  b.ep->take();
  EXPECT_FALSE(s.start(a.join.participant.get(), clock.now(), clock.wall_now()));
  EXPECT_EQ(s.start(a.join.participant.get(), clock.now(), clock.wall_now()),
            protocol::ErrorCode::invalid_state);
  const auto started = b.ep->take();
  ASSERT_EQ(started.size(), 1U);
  EXPECT_EQ(started[0]["type"], "session-started");
  EXPECT_EQ(started[0]["startedAt"], "2026-09-21T14:13:20.000Z");
  auto c = connect("c");
  EXPECT_EQ(c.ep->take()[0]["startedAt"], "2026-09-21T14:13:20.000Z");

  EXPECT_EQ(s.end(b.join.participant.get(), domain::EndReason::host_ended, clock.now(), clock.wall_now()),
            protocol::ErrorCode::not_host);
  EXPECT_FALSE(s.end(a.join.participant.get(), domain::EndReason::host_ended, clock.now(), clock.wall_now()));
  EXPECT_EQ(b.ep->take().back(), nlohmann::json::parse(R"({"type":"session-ended","reason":"host_ended"})"));
  EXPECT_EQ(b.ep->closed(), CloseCode::normal);
  EXPECT_EQ(a.ep->closed(), CloseCode::normal);
  EXPECT_TRUE(presence.connections("s1").empty());
  EXPECT_EQ(hub.snapshot("s1")->status, Status::ended);
}

TEST_F(SessionTest, HeartbeatMonitorClosesSilentConnections) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  clock.advance(20s);
  a.join.participant->touch(clock.now());  // a speaks, b stays silent
  hub.tick(clock.now());
  EXPECT_FALSE(b.ep->closed());
  clock.advance(10s);  // b: 30 s of silence; a: 10 s
  hub.tick(clock.now());
  EXPECT_EQ(b.ep->closed(), CloseCode::heartbeat_timeout);
  EXPECT_EQ(b.ep->json().back()["code"], "heartbeat_timeout");
  EXPECT_FALSE(a.ep->closed());
  EXPECT_EQ(a.ep->take(), std::vector{nlohmann::json::parse(R"({"type":"participant-left","userId":"b"})")});
}

TEST_F(SessionTest, CompletedAfterDuration) {
  ASSERT_FALSE(hub.put_session("s2", four_person_spec(60s)).error);
  auto a = connect("a", "", "s2");
  ASSERT_FALSE(hub.start_session("s2"));
  a.ep->take();
  clock.advance(59s);
  a.join.participant->touch(clock.now());
  hub.tick(clock.now());
  EXPECT_FALSE(a.ep->closed());
  clock.advance(1s);
  hub.tick(clock.now());
  EXPECT_EQ(a.ep->take().back(), nlohmann::json::parse(R"({"type":"session-ended","reason":"completed"})"));
  EXPECT_EQ(hub.snapshot("s2")->end_reason, domain::EndReason::completed);
}

TEST_F(SessionTest, TimeoutWhenNeverStarted) {
  clock.advance(59min);
  hub.tick(clock.now());
  EXPECT_EQ(hub.snapshot("s1")->status, Status::waiting);
  clock.advance(1min);
  hub.tick(clock.now());
  EXPECT_EQ(hub.snapshot("s1")->status, Status::ended);
  EXPECT_EQ(hub.snapshot("s1")->end_reason, domain::EndReason::timeout);
}

TEST_F(SessionTest, TimeoutWhenStartedAndEmpty) {
  auto a = connect("a");
  ASSERT_FALSE(hub.start_session("s1"));
  clock.advance(10min);
  a.join.participant->touch(clock.now());
  hub.tick(clock.now());
  EXPECT_EQ(hub.snapshot("s1")->status, Status::started) << "not empty: no timeout";
  a.join.session->leave(a.join.participant, clock.now());
  clock.advance(4min);
  hub.tick(clock.now());
  EXPECT_EQ(hub.snapshot("s1")->status, Status::started);
  clock.advance(1min);
  hub.tick(clock.now());
  EXPECT_EQ(hub.snapshot("s1")->end_reason, domain::EndReason::timeout);
}

TEST_F(SessionTest, EndedSessionsAreForgottenAfterRetention) {
  ASSERT_FALSE(hub.end_session("s1"));
  clock.advance(9min);
  hub.tick(clock.now());
  EXPECT_TRUE(hub.snapshot("s1").has_value());
  clock.advance(1min);
  hub.tick(clock.now());
  EXPECT_FALSE(hub.snapshot("s1").has_value());
}

TEST_F(SessionTest, ReplacingTheDirectoryRemovesDroppedParticipants) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  auto spec = four_person_spec();
  spec.participants.erase(spec.participants.begin() + 1);  // no more b
  const auto result = hub.put_session("s1", spec);
  EXPECT_FALSE(result.created);
  EXPECT_EQ(b.ep->closed(), CloseCode::removed);
  EXPECT_EQ(a.ep->take(), std::vector{nlohmann::json::parse(R"({"type":"participant-left","userId":"b"})")});
  EXPECT_EQ(connect("b").join.error, protocol::ErrorCode::not_participant);
}

TEST_F(SessionTest, RemoveAndAddParticipant) {
  auto a = connect("a"), c = connect("c");
  EXPECT_FALSE(hub.remove_participant("s1", "c"));
  EXPECT_EQ(c.ep->closed(), CloseCode::removed);
  EXPECT_EQ(hub.remove_participant("s1", "a"), domain::AdminError::invalid_state) << "the host stays";
  EXPECT_EQ(hub.remove_participant("s1", "zed"), domain::AdminError::not_found);
  EXPECT_FALSE(hub.add_participant("s1", {"zed", "Zed"}));
  EXPECT_FALSE(connect("zed").join.error);
}

TEST_F(SessionTest, ValidatesTheDirectoryEntry) {
  auto spec = four_person_spec();
  spec.host_user_id = "nobody";
  EXPECT_EQ(hub.put_session("s3", spec).error, domain::AdminError::invalid_body);
  spec = four_person_spec();
  spec.participants.push_back({"a", "again"});
  EXPECT_EQ(hub.put_session("s3", spec).error, domain::AdminError::invalid_body);
  spec.participants.clear();
  EXPECT_EQ(hub.put_session("s3", spec).error, domain::AdminError::invalid_body);
}

TEST_F(SessionTest, ShutdownClosesEveryoneWithGoingAway) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  hub.shutdown();
  EXPECT_EQ(a.ep->closed(), CloseCode::going_away);
  EXPECT_EQ(b.ep->closed(), CloseCode::going_away);
  EXPECT_TRUE(a.ep->take().empty()) << "no participant-left on shutdown";
}

TEST_F(SessionTest, TickIntervalFollowsTheHeartbeatTimeout) {
  EXPECT_EQ(hub.tick_interval(), std::chrono::milliseconds(1000));
}

TEST(RateLimiter, AcceptsBurstThenWarnsOncePerSecondThenFloods) {
  domain::ManualClock clock;
  domain::RateLimiter limiter(10, 20, clock.now());
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(limiter.on_message(clock.now()), domain::RateLimiter::Verdict::accept);
  EXPECT_EQ(limiter.on_message(clock.now()), domain::RateLimiter::Verdict::drop_and_warn);
  EXPECT_EQ(limiter.on_message(clock.now()), domain::RateLimiter::Verdict::drop);
  clock.advance(100ms);  // one token back
  EXPECT_EQ(limiter.on_message(clock.now()), domain::RateLimiter::Verdict::accept);
  int floods = 0;
  for (int i = 0; i < 100; ++i)
    floods += limiter.on_message(clock.now()) == domain::RateLimiter::Verdict::flood;
  EXPECT_GT(floods, 0) << "more than 4 x burst drops within a second is a flood";
}

TEST(RateLimiter, ZeroRateDisables) {
  domain::ManualClock clock;
  domain::RateLimiter limiter(0, 1, clock.now());
  for (int i = 0; i < 10000; ++i)
    ASSERT_EQ(limiter.on_message(clock.now()), domain::RateLimiter::Verdict::accept);
}
