// The domain side of several nodes: remote participants in a session, events applied from other
// nodes, admission already decided by the store, all on a manual clock and recording endpoints.
#include <gtest/gtest.h>

#include "domain/hub.hpp"
#include "store/memory_presence.hpp"
#include "support/recording_endpoint.hpp"

using namespace sig;
using namespace std::chrono_literals;
using domain::RosterEntry;
using nlohmann::json;
using protocol::CloseCode;
using test_support::RecordingEndpoint;

namespace {

// Records what the domain tells its sink, to check what would be written to Redis.
class RecordingSink final : public domain::PresenceSink {
 public:
  void connected(std::string_view, std::string_view u, std::string_view c) override {
    events.push_back("connected " + std::string(u) + " " + std::string(c));
  }
  void disconnected(std::string_view, std::string_view u, std::string_view c) override {
    events.push_back("disconnected " + std::string(u) + " " + std::string(c));
  }
  void heartbeat(std::string_view, std::string_view, domain::WallTime) override {}
  void session_closed(std::string_view) override { events.push_back("closed"); }
  void started(std::string_view, domain::WallTime) override { events.push_back("started"); }
  void ended(std::string_view, domain::EndReason r, domain::WallTime) override {
    events.push_back("ended " + std::string(domain::to_string(r)));
  }
  void directory_changed(std::string_view, const domain::SessionSpec& spec, domain::WallTime) override {
    events.push_back("directory " + std::to_string(spec.participants.size()));
  }
  void deleted(std::string_view) override { events.push_back("deleted"); }
  std::vector<std::string> take() { return std::exchange(events, {}); }
  std::vector<std::string> events;
};

domain::SessionSpec spec() {
  domain::SessionSpec s;
  s.host_user_id = "a";
  s.participants = {{"a", "Alice"}, {"b", "Bob"}, {"c", "Carol"}, {"d", "Dave"}};
  return s;
}

RosterEntry remote(const std::string& user, const std::string& conn, std::uint64_t seq) {
  return {{user, "Remote " + user}, conn, seq};
}

json left(const std::string& u) {
  return {{"type", "participant-left"}, {"userId", u}};
}
json joined_msg(const std::string& u, const std::string& name) {
  return {{"type", "participant-joined"}, {"participant", {{"userId", u}, {"displayName", name}}}};
}

class ClusterSessionTest : public ::testing::Test {
 protected:
  ClusterSessionTest() : hub(clock, settings(), &sink) {
    hub.put_session("s1", spec());
    sink.take();
  }
  static domain::SessionSettings settings() {
    domain::SessionSettings s;
    s.max_participants = 3;
    return s;
  }
  struct Conn {
    std::shared_ptr<RecordingEndpoint> ep = std::make_shared<RecordingEndpoint>();
    domain::HubJoin join;
  };
  // A join admitted by the store with this seq and roster.
  Conn admit(const std::string& user, const std::string& conn, std::uint64_t seq,
             std::vector<RosterEntry> roster) {
    Conn c;
    domain::ClusterJoin cj;
    cj.seq = seq;
    cj.roster = std::move(roster);
    c.join = hub.join("s1", {user, ""}, conn, c.ep, &cj);
    return c;
  }

  domain::ManualClock clock;
  RecordingSink sink;
  domain::Hub hub;
};

}  // namespace

TEST_F(ClusterSessionTest, TheStoreRosterMakesTheJoinedListAndTheCapIsTheStores) {
  // The store admitted a fourth participant although max_participants is 3 here: its cap wins.
  auto a = admit("a", "n1:1", 4, {remote("b", "n2:1", 1), remote("c", "n3:1", 2), remote("d", "n2:2", 3)});
  ASSERT_FALSE(a.join.error);
  const auto msgs = a.ep->take();
  ASSERT_EQ(msgs.size(), 1U);
  EXPECT_EQ(msgs[0]["participants"], json::parse(R"([{"userId":"b","displayName":"Remote b"},
    {"userId":"c","displayName":"Remote c"},{"userId":"d","displayName":"Remote d"}])"));
  EXPECT_EQ(hub.snapshot("s1")->connected, (std::vector<std::string>{"b", "c", "d", "a"}));
  EXPECT_EQ(sink.take(), std::vector<std::string>{"connected a n1:1"})
      << "remote members are not this node's to write";
  EXPECT_EQ(hub.stats().participants, 1U) << "the metric counts this node's connections";
}

TEST_F(ClusterSessionTest, RemoteJoinAndLeaveAreToldToLocalMembersOnce) {
  auto a = admit("a", "n1:1", 1, {});
  a.ep->take();
  hub.apply_remote_joined("s1", remote("b", "n2:1", 2));
  hub.apply_remote_joined("s1", remote("b", "n2:1", 2));  // the same event again
  EXPECT_EQ(a.ep->take(), std::vector{joined_msg("b", "Remote b")});
  const auto msg = domain::make_payload(R"({"type":"offer"})");
  auto target = a.join.session->relay(*a.join.participant, "b", msg);
  EXPECT_FALSE(target.error);
  EXPECT_EQ(target.remote_connection, "n2:1");
  hub.apply_remote_left("s1", "n2:1");
  hub.apply_remote_left("s1", "n2:1");
  EXPECT_EQ(a.ep->take(), std::vector{left("b")});
  EXPECT_EQ(a.join.session->relay(*a.join.participant, "b", msg).error,
            protocol::ErrorCode::target_not_connected);
  // A late `joined` of a connection already gone does not bring it back.
  hub.apply_remote_joined("s1", remote("b", "n2:1", 2));
  EXPECT_TRUE(a.ep->take().empty());
  EXPECT_TRUE(sink.take().size() == 1U) << "only a's own connect was written";
}

TEST_F(ClusterSessionTest, ALeaveThatOvertakesItsJoinIsRemembered) {
  auto a = admit("a", "n1:1", 1, {});
  a.ep->take();
  hub.apply_remote_left("s1", "n2:7");
  hub.apply_remote_joined("s1", remote("b", "n2:7", 2));
  EXPECT_TRUE(a.ep->take().empty());
  clock.advance(11s);  // much later, the same connection id would be news again (never reused)
  hub.apply_remote_joined("s1", remote("b", "n2:7", 2));
  EXPECT_EQ(a.ep->take(), std::vector{joined_msg("b", "Remote b")});
}

TEST_F(ClusterSessionTest, ANewerConnectionOnAnotherNodeReplacesTheLocalOne) {
  auto a = admit("a", "n1:1", 1, {});
  auto b = admit("b", "n1:2", 2, {remote("a", "n1:1", 1)});
  a.ep->take();
  sink.take();
  hub.apply_remote_joined("s1", remote("b", "n2:5", 3));
  EXPECT_EQ(b.ep->closed(), CloseCode::replaced);
  EXPECT_EQ(b.ep->json().back()["code"], "replaced");
  EXPECT_EQ(a.ep->take(), (std::vector{left("b"), joined_msg("b", "Remote b")}));
  EXPECT_EQ(sink.take(), std::vector<std::string>{"disconnected b n1:2"});
  // An older connection of b announced late changes nothing.
  hub.apply_remote_joined("s1", remote("b", "n2:4", 2));
  EXPECT_TRUE(a.ep->take().empty());
}

TEST_F(ClusterSessionTest, JoiningReplacesAnOlderConnectionOfTheSameUserOnAnotherNode) {
  auto a = admit("a", "n1:1", 1, {});
  hub.apply_remote_joined("s1", remote("b", "n2:1", 2));
  a.ep->take();
  auto b = admit("b", "n1:2", 3, {remote("a", "n1:1", 1)});  // the store no longer lists n2:1
  EXPECT_EQ(a.ep->take(), (std::vector{left("b"), joined_msg("b", "Bob")}));
  EXPECT_EQ(b.ep->take()[0]["participants"], json::parse(R"([{"userId":"a","displayName":"Alice"}])"));
}

TEST_F(ClusterSessionTest, ParticipantsWhoJoinedLaterAreAnnouncedAfterJoined) {
  // The event of c (seq 5) arrived before the reply to a's join (seq 4).
  hub.apply_remote_joined("s1", remote("c", "n3:1", 5));
  auto a = admit("a", "n1:1", 4, {remote("b", "n2:1", 3)});
  const auto msgs = a.ep->take();
  ASSERT_EQ(msgs.size(), 2U);
  EXPECT_EQ(msgs[0]["type"], "joined");
  EXPECT_EQ(msgs[0]["participants"], json::parse(R"([{"userId":"b","displayName":"Remote b"}])"));
  EXPECT_EQ(msgs[1], joined_msg("c", "Remote c"));
  EXPECT_EQ(hub.snapshot("s1")->connected, (std::vector<std::string>{"b", "a", "c"}));
}

TEST_F(ClusterSessionTest, ReconcileDropsWhatTheStoreForgotButKeepsLaterJoins) {
  auto a = admit("a", "n1:1", 1, {});
  hub.apply_remote_joined("s1", remote("b", "n2:1", 2));
  hub.apply_remote_joined("s1", remote("c", "n3:1", 4));
  a.ep->take();
  // The store's view at seq 3: a and d; b is gone; c joined after that view.
  hub.reconcile("s1", {remote("a", "n1:1", 1), remote("d", "n3:2", 3)}, 3);
  EXPECT_EQ(a.ep->take(), (std::vector{left("b"), joined_msg("d", "Remote d")}));
  EXPECT_EQ(hub.snapshot("s1")->connected, (std::vector<std::string>{"a", "d", "c"}));
}

TEST_F(ClusterSessionTest, RecordsFromTheStoreStartAndEndTheSessionWithoutEcho) {
  auto a = admit("a", "n1:1", 1, {});
  a.ep->take();
  sink.take();
  auto record = *hub.snapshot("s1");
  record.status = domain::Status::started;
  record.started_at = clock.wall_now() - 2s;
  hub.apply_record("s1", record);
  hub.apply_record("s1", record);
  const auto started = a.ep->take();
  ASSERT_EQ(started.size(), 1U);
  EXPECT_EQ(started[0]["type"], "session-started");
  EXPECT_EQ(started[0]["startedAt"], "2026-09-21T14:13:18.000Z");
  record.status = domain::Status::ended;
  record.end_reason = domain::EndReason::completed;
  record.ended_at = clock.wall_now();
  hub.apply_record("s1", record);
  EXPECT_EQ(a.ep->take(), std::vector{json::parse(R"({"type":"session-ended","reason":"completed"})")});
  EXPECT_EQ(a.ep->closed(), CloseCode::normal);
  EXPECT_TRUE(sink.take().empty()) << "a change read from the store is not written back";
}

TEST_F(ClusterSessionTest, TimersEndTheSessionAndTellTheSinkOnce) {
  auto a = admit("a", "n1:1", 1, {});
  hub.apply_remote_joined("s1", remote("b", "n2:1", 2));
  ASSERT_FALSE(hub.start_session("s1"));
  sink.take();
  // Remote members are not this node's to time out: only a must speak.
  for (int i = 0; i < 5; ++i) {
    clock.advance(10s);
    a.join.participant->touch(clock.now());
    hub.tick(clock.now());
  }
  EXPECT_EQ(hub.snapshot("s1")->connected, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(sink.take().empty());
  ASSERT_FALSE(hub.end_session("s1"));
  EXPECT_EQ(sink.take(), (std::vector<std::string>{"ended host_ended", "closed"}));
}

TEST_F(ClusterSessionTest, DeliverReachesOnlyLocalConnections) {
  auto a = admit("a", "n1:1", 1, {});
  hub.apply_remote_joined("s1", remote("b", "n2:1", 2));
  a.ep->take();
  const auto msg = domain::make_payload(R"({"type":"offer","toUserId":"a","sdp":"x","fromUserId":"b"})");
  EXPECT_TRUE(hub.deliver("s1", "n1:1", msg));
  EXPECT_FALSE(hub.deliver("s1", "n2:1", msg)) << "a remote member is not delivered here";
  EXPECT_FALSE(hub.deliver("s1", "n1:9", msg));
  EXPECT_FALSE(hub.deliver("nope", "n1:1", msg));
  EXPECT_EQ(a.ep->take().size(), 1U);
}

TEST_F(ClusterSessionTest, AdminChangesAreToldToTheSinkAndDeletionFromElsewhereForgetsTheSession) {
  ASSERT_FALSE(hub.add_participant("s1", {"e", "Erin"}));
  EXPECT_EQ(sink.take(), std::vector<std::string>{"directory 5"});
  auto a = admit("a", "n1:1", 1, {});
  a.ep->take();
  hub.apply_deleted("s1");
  EXPECT_EQ(a.ep->take(), std::vector{json::parse(R"({"type":"session-ended","reason":"host_ended"})")});
  EXPECT_FALSE(hub.has_session("s1"));
  EXPECT_EQ(sink.take(), std::vector<std::string>{"connected a n1:1"});
}
