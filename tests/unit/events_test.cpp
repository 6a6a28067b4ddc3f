// The platform events the domain publishes (docs/webhooks.md), on the manual clock: each event,
// the order of one session, the reason of every departure, and nothing for what another node
// decided (those are published by that node).
#include <gtest/gtest.h>

#include <mutex>

#include "domain/hub.hpp"
#include "support/recording_endpoint.hpp"

using namespace sig;
using namespace std::chrono_literals;
using domain::EventType;
using domain::PlatformEvent;
using domain::RosterEntry;
using test_support::RecordingEndpoint;

namespace {

class RecordingEvents final : public domain::EventSink {
 public:
  void publish(PlatformEvent e) override {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  std::vector<PlatformEvent> take() {
    std::lock_guard lock(mu_);
    return std::exchange(events_, {});
  }
  // "participant.left b replaced", "session.ended host_ended", "participant.joined a"...
  std::vector<std::string> take_names() {
    std::vector<std::string> out;
    for (const auto& e : take())
      out.push_back(name(e));
    return out;
  }
  static std::string name(const PlatformEvent& e) {
    std::string s(domain::to_string(e.type));
    if (!e.user_id.empty()) s += " " + e.user_id;
    if (e.left_reason) s += " " + std::string(domain::to_string(*e.left_reason));
    if (!e.end_reason.empty()) s += " " + e.end_reason;
    return s;
  }

 private:
  std::mutex mu_;
  std::vector<PlatformEvent> events_;
};

using Names = std::vector<std::string>;

class EventsTest : public ::testing::Test {
 protected:
  explicit EventsTest(domain::SessionSettings s = settings()) : hub(clock, s, nullptr, &events) {
    domain::SessionSpec spec;
    spec.host_user_id = "a";
    spec.participants = {{"a", "Ann"}, {"b", "Bob"}, {"c", "Cid"}};
    spec.duration = 1h;
    hub.put_session("s1", spec);
  }
  static domain::SessionSettings settings() {
    domain::SessionSettings s;
    s.max_participants = 3;
    s.heartbeat_timeout = 30s;
    s.resume_window = 10s;
    s.start_timeout = 1h;
    s.empty_timeout = 5min;
    return s;
  }
  struct Conn {
    std::shared_ptr<RecordingEndpoint> ep = std::make_shared<RecordingEndpoint>();
    domain::HubJoin join;
    std::string resume_id() const { return join.participant ? join.participant->resume_id() : ""; }
  };
  Conn connect(const std::string& user, const std::string& presented = "") {
    Conn c;
    const domain::ResumeRequest r{presented, "rid-" + user + "-" + std::to_string(++serial)};
    c.join = hub.join("s1", {user, ""}, "n1:" + std::to_string(serial), c.ep, nullptr, &r);
    EXPECT_FALSE(c.join.error);
    return c;
  }
  void lose(const Conn& c) { c.join.session->lose(c.join.participant, clock.now()); }
  void leave(const Conn& c, domain::LeaveCause cause = domain::LeaveCause::left) {
    c.join.session->leave(c.join.participant, clock.now(), cause);
  }
  void advance(std::chrono::milliseconds d) {
    clock.advance(d);
    hub.tick(clock.now());
  }

  domain::ManualClock clock;
  RecordingEvents events;
  domain::Hub hub;
  int serial = 0;
};

class NoResumeEventsTest : public EventsTest {
 protected:
  NoResumeEventsTest() : EventsTest(no_window()) {}
  static domain::SessionSettings no_window() {
    auto s = settings();
    s.resume_window = 0s;
    return s;
  }
};

}  // namespace

TEST_F(EventsTest, OneSessionInOrderWithItsFieldsAndTheFinalAttendance) {
  const auto t0 = clock.wall_now();
  auto a = connect("a");
  clock.advance(1s);
  auto b = connect("b");
  clock.advance(1s);
  ASSERT_FALSE(hub.start_session("s1"));
  const auto started_at = clock.wall_now();
  clock.advance(2'500ms);
  leave(b);
  clock.advance(500ms);
  ASSERT_FALSE(hub.end_session("s1"));
  const auto ended_at = clock.wall_now();

  const auto all = events.take();
  Names names;
  for (const auto& e : all)
    names.push_back(RecordingEvents::name(e));
  EXPECT_EQ(names, (Names{"participant.joined a", "participant.joined b", "session.started",
                          "participant.left b left", "participant.left a session_ended",
                          "session.ended host_ended"}));
  ASSERT_EQ(all.size(), 6U);
  for (const auto& e : all)
    EXPECT_EQ(e.session_id, "s1");
  EXPECT_EQ(all[0].at, t0);
  EXPECT_EQ(all[0].display_name, "Ann") << "the directory's name when the token has none";
  EXPECT_EQ(all[1].at, t0 + 1s);
  EXPECT_EQ(all[2].started_at, started_at);
  EXPECT_EQ(all[3].at, t0 + 4'500ms);
  EXPECT_EQ(all[4].at, ended_at);
  const auto& ended = all[5];
  EXPECT_EQ(ended.at, ended_at);
  EXPECT_EQ(ended.started_at, started_at);
  EXPECT_EQ(ended.ended_at, ended_at);
  ASSERT_EQ(ended.attendance.size(), 2U);
  EXPECT_EQ(ended.attendance[0].user_id, "a");
  EXPECT_EQ(ended.attendance[0].connected, 5'000ms);
  EXPECT_EQ(ended.attendance[0].last_left, ended_at);
  EXPECT_EQ(ended.attendance[1].user_id, "b");
  EXPECT_EQ(ended.attendance[1].display_name, "Bob");
  EXPECT_EQ(ended.attendance[1].first_joined, t0 + 1s);
  EXPECT_EQ(ended.attendance[1].connected, 3'500ms);
  EXPECT_EQ(ended.attendance[1].connections, 1U);
  // The admin API's copy is the same.
  const auto snap = hub.snapshot("s1");
  ASSERT_EQ(snap->attendance.size(), 2U);
  EXPECT_EQ(snap->attendance[0].connected, 5'000ms);
}

TEST_F(EventsTest, ALossIsReconnectingAndAResumeIsReconnectedAndCountsAConnection) {
  auto a = connect("a"), b = connect("b");
  events.take();
  clock.advance(2s);
  lose(b);
  EXPECT_EQ(events.take_names(), Names{"participant.reconnecting b"});
  advance(3s);
  auto b2 = connect("b", b.resume_id());
  EXPECT_EQ(events.take_names(), Names{"participant.reconnected b"});
  leave(b);  // the lost connection's late close
  EXPECT_TRUE(events.take().empty());
  clock.advance(1s);
  leave(b2);
  EXPECT_EQ(events.take_names(), Names{"participant.left b left"});
  const auto snap = hub.snapshot("s1");
  ASSERT_EQ(snap->attendance.size(), 2U);
  EXPECT_EQ(snap->attendance[1].connections, 2U);
  EXPECT_EQ(snap->attendance[1].connected, 6'000ms) << "the reconnecting gap counts";
}

TEST_F(EventsTest, AWindowThatClosesIsDisconnectedAndTheGapDoesNotCount) {
  auto a = connect("a"), b = connect("b");
  clock.advance(4s);
  lose(b);
  events.take();
  advance(9'999ms);
  EXPECT_TRUE(events.take().empty());
  advance(1ms);
  EXPECT_EQ(events.take_names(), Names{"participant.left b disconnected"});
  const auto snap = hub.snapshot("s1");
  EXPECT_EQ(snap->attendance[1].connected, 4'000ms);
  EXPECT_EQ(snap->attendance[1].last_left, snap->attendance[1].first_joined + 4s) << "at the loss";
}

TEST_F(EventsTest, AHeartbeatTimeoutIsItsOwnReason) {
  auto a = connect("a"), b = connect("b");
  events.take();
  clock.advance(20s);
  a.join.participant->touch(clock.now());
  advance(10s);
  EXPECT_EQ(events.take_names(), Names{"participant.left b heartbeat_timeout"});
}

TEST_F(EventsTest, ANewIncarnationReplacesTheOldOneEvenWhileReconnecting) {
  auto a = connect("a"), b = connect("b");
  events.take();
  auto b2 = connect("b");  // no resumeId: a new incarnation
  EXPECT_EQ(events.take_names(), (Names{"participant.left b replaced", "participant.joined b"}));
  lose(b2);
  events.take();
  clock.advance(2s);
  auto b3 = connect("b", "not-" + b2.resume_id());
  EXPECT_EQ(events.take_names(), (Names{"participant.left b replaced", "participant.joined b"}));
  EXPECT_EQ(hub.snapshot("s1")->attendance[1].connections, 3U);
}

TEST_F(EventsTest, ARemovalAndAFloodHaveTheirReasons) {
  auto a = connect("a"), b = connect("b"), c = connect("c");
  events.take();
  ASSERT_FALSE(hub.remove_participant("s1", "b"));
  EXPECT_EQ(events.take_names(), Names{"participant.left b removed"});
  leave(c, domain::LeaveCause::closed);  // closed by the server (a message flood)
  EXPECT_EQ(events.take_names(), Names{"participant.left c disconnected"});
}

TEST_F(NoResumeEventsTest, ALostConnectionWithoutAWindowIsDisconnectedAtOnce) {
  auto a = connect("a"), b = connect("b");
  events.take();
  lose(b);
  EXPECT_EQ(events.take_names(), Names{"participant.left b disconnected"});
}

TEST_F(EventsTest, TheSessionsOwnEndsHaveTheirReasons) {
  auto a = connect("a");
  ASSERT_FALSE(hub.start_session("s1"));
  events.take();
  clock.advance(1h);  // the 1 h duration; a kept its connection alive meanwhile
  a.join.participant->touch(clock.now());
  hub.tick(clock.now());
  EXPECT_EQ(events.take_names(), (Names{"participant.left a session_ended", "session.ended completed"}));

  // Never started: a timeout, with no startedAt.
  domain::SessionSpec spec;
  spec.host_user_id = "a";
  spec.participants = {{"a", "Ann"}};
  hub.put_session("s2", spec);
  advance(1h);
  const auto ended = events.take();
  ASSERT_EQ(ended.size(), 1U);
  EXPECT_EQ(RecordingEvents::name(ended[0]), "session.ended timeout");
  EXPECT_EQ(ended[0].session_id, "s2");
  EXPECT_FALSE(ended[0].started_at);
  EXPECT_TRUE(ended[0].attendance.empty());
}

TEST_F(EventsTest, DeletingALiveSessionEndsItWithItsEvents) {
  auto a = connect("a");
  events.take();
  ASSERT_FALSE(hub.delete_session("s1"));
  EXPECT_EQ(events.take_names(), (Names{"participant.left a session_ended", "session.ended host_ended"}));
  ASSERT_TRUE(hub.delete_session("s1"));  // gone: nothing more
  EXPECT_TRUE(events.take().empty());
}

TEST_F(EventsTest, NothingForWhatAnotherNodeDecided) {
  auto a = connect("a");
  events.take();
  hub.apply_remote_joined("s1", RosterEntry{{"b", "Bob"}, "n2:1", 0});
  hub.apply_remote_reconnecting("s1", "n2:1");
  hub.apply_remote_joined("s1", RosterEntry{{"b", "Bob"}, "n2:2", 0}, true);  // resumed there
  hub.apply_remote_left("s1", "n2:2");
  hub.reconcile("s1", {RosterEntry{{"c", "Cid"}, "n3:1", 0}}, 0);
  hub.apply_node_lost("s1", "n3:1");
  advance(11s);  // c's window (its node died) closes here
  EXPECT_EQ(hub.snapshot("s1")->connected, std::vector<std::string>{"a"}) << "all of it happened";
  // A newer connection of a local user on another node replaces the local one.
  hub.apply_remote_joined("s1", RosterEntry{{"a", "Ann"}, "n2:3", 0});
  EXPECT_EQ(a.ep->closed(), protocol::CloseCode::replaced);
  EXPECT_TRUE(events.take().empty());

  // Directory changes and the end, read from the store.
  auto c = connect("c");
  events.take();
  auto record = *hub.snapshot("s1");
  record.spec.participants = {{"a", "Ann"}, {"b", "Bob"}};  // c no longer listed
  record.status = domain::Status::started;
  record.started_at = clock.wall_now();
  hub.apply_record("s1", record);
  EXPECT_EQ(c.ep->closed(), protocol::CloseCode::removed);
  auto b = connect("b");
  events.take();
  record.status = domain::Status::ended;
  record.ended_at = clock.wall_now();
  record.end_reason = domain::EndReason::completed;
  hub.apply_record("s1", record);
  EXPECT_EQ(b.ep->closed(), protocol::CloseCode::normal);
  EXPECT_TRUE(events.take().empty());
  EXPECT_EQ(hub.snapshot("s1")->status, domain::Status::ended);
}

TEST_F(EventsTest, NothingForASessionDeletedElsewhere) {
  auto a = connect("a");
  events.take();
  hub.apply_deleted("s1");
  EXPECT_EQ(a.ep->closed(), protocol::CloseCode::normal);
  EXPECT_TRUE(events.take().empty());
}

TEST_F(EventsTest, AJoinAdmittedByTheStoreIsPublishedButNotTheRosterItBrings) {
  domain::ClusterJoin cj;
  cj.seq = 3;
  cj.roster = {RosterEntry{{"b", "Bob"}, "n2:1", 1}, RosterEntry{{"c", "Cid"}, "n3:1", 2}};
  Conn a;
  a.join = hub.join("s1", {"a", ""}, "n1:9", a.ep, &cj);
  ASSERT_FALSE(a.join.error);
  EXPECT_EQ(events.take_names(), Names{"participant.joined a"});
  // A resume the store granted, the old incarnation being on another node.
  domain::ClusterJoin resumed;
  resumed.seq = 1;
  resumed.resumed = true;
  resumed.resume_id = "r";
  resumed.roster = {RosterEntry{{"a", "Ann"}, "n1:9", 3}, RosterEntry{{"c", "Cid"}, "n3:1", 2}};
  Conn b;
  b.join = hub.join("s1", {"b", ""}, "n1:10", b.ep, &resumed);
  ASSERT_FALSE(b.join.error);
  EXPECT_EQ(events.take_names(), Names{"participant.reconnected b"});
}
