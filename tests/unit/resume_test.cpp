// The presence state machine of a resume (docs/protocol.md, "Resume"), on the manual clock:
// lost connections, the resume window, the heartbeat-timeout bound, new incarnations, the bounded
// queue, and the same transitions for participants of other nodes.
#include <gtest/gtest.h>

#include "domain/hub.hpp"
#include "support/recording_endpoint.hpp"

using namespace sig;
using namespace std::chrono_literals;
using domain::RosterEntry;
using nlohmann::json;
using protocol::CloseCode;
using test_support::RecordingEndpoint;

namespace {

class Sink final : public domain::PresenceSink {
 public:
  void connected(std::string_view, std::string_view u, std::string_view c) override {
    add("connected " + std::string(u) + " " + std::string(c));
  }
  void disconnected(std::string_view, std::string_view u, std::string_view c) override {
    add("disconnected " + std::string(u) + " " + std::string(c));
  }
  void heartbeat(std::string_view, std::string_view, domain::WallTime) override {}
  void session_closed(std::string_view) override {}
  void lost(std::string_view, std::string_view u, std::string_view c) override {
    add("lost " + std::string(u) + " " + std::string(c));
  }
  void expired(std::string_view, std::string_view u, std::string_view c) override {
    add("expired " + std::string(u) + " " + std::string(c));
  }
  void send_remote(std::string_view, std::string_view c, const domain::Payload& m) override {
    add("remote " + std::string(c) + " " + *m);
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mu_);
    return std::exchange(events_, {});
  }

 private:
  void add(std::string e) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  std::mutex mu_;
  std::vector<std::string> events_;
};

json msg(const std::string& type, const std::string& user) {
  return {{"type", type}, {"userId", user}};
}

class ResumeTest : public ::testing::Test {
 protected:
  explicit ResumeTest(domain::SessionSettings s = settings()) : hub(clock, s, &sink) {
    domain::SessionSpec spec;
    spec.host_user_id = "a";
    spec.participants = {{"a", "Ann"}, {"b", "Bob"}, {"c", "Cid"}, {"d", "Dee"}};
    hub.put_session("s1", spec);
  }
  static domain::SessionSettings settings() {
    domain::SessionSettings s;
    s.max_participants = 3;
    s.heartbeat_timeout = 30s;
    s.resume_window = 10s;
    s.remote_resume_window = 10s;
    s.resume_queue_messages = 3;
    s.resume_queue_bytes = 1000;
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
    c.join = hub.join("s1", {user, ""}, "n:" + std::to_string(serial), c.ep, nullptr, &r);
    return c;
  }
  void lose(const Conn& c) { c.join.session->lose(c.join.participant, clock.now()); }
  void relay(const Conn& from, const std::string& to, const std::string& text) {
    const auto r = from.join.session->relay(*from.join.participant, to, domain::make_payload(text));
    last_relay_error = r.error;
  }
  void advance(std::chrono::milliseconds d) {
    clock.advance(d);
    hub.tick(clock.now());
  }

  domain::ManualClock clock;
  Sink sink;
  domain::Hub hub;
  int serial = 0;
  std::optional<protocol::ErrorCode> last_relay_error;
};

}  // namespace

TEST_F(ResumeTest, ALostConnectionIsReconnectingThenResumesWithoutLeftOrJoined) {
  auto a = connect("a"), b = connect("b");
  const auto joined = b.ep->take();
  ASSERT_EQ(joined.size(), 1U);
  EXPECT_EQ(joined[0]["resumed"], false);
  EXPECT_EQ(joined[0]["resumeId"], b.resume_id());
  a.ep->take();
  sink.take();

  lose(b);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-reconnecting", "b")});
  EXPECT_EQ(sink.take(), std::vector<std::string>{"lost b n:2"}) << "the store entry stays";
  EXPECT_EQ(hub.snapshot("s1")->reconnecting, std::vector<std::string>{"b"});
  advance(9s);
  EXPECT_TRUE(a.ep->take().empty()) << "still within the window";

  auto b2 = connect("b", b.resume_id());
  ASSERT_FALSE(b2.join.error);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-reconnected", "b")}) << "nothing else";
  const auto resumed = b2.ep->take();
  ASSERT_EQ(resumed.size(), 1U);
  EXPECT_EQ(resumed[0]["resumed"], true);
  EXPECT_EQ(resumed[0]["resumeId"], b.resume_id()) << "the incarnation keeps its resumeId";
  EXPECT_EQ(resumed[0]["participants"], json::parse(R"([{"userId":"a","displayName":"Ann"}])"));
  EXPECT_EQ(sink.take(), std::vector<std::string>{"connected b n:3"});
  EXPECT_TRUE(hub.snapshot("s1")->reconnecting.empty());
  // The resumed connection relays, and the old one can do nothing any more.
  relay(a, "b", R"({"type":"offer","n":1})");
  EXPECT_FALSE(last_relay_error);
  EXPECT_EQ(b2.ep->take().size(), 1U);
  b.join.session->leave(b.join.participant, clock.now());
  EXPECT_TRUE(a.ep->take().empty()) << "the lost connection's late close changes nothing";
  advance(20s);
  EXPECT_TRUE(a.ep->take().empty()) << "no expiry after a resume";
}

TEST_F(ResumeTest, TheWindowClosingAnnouncesTheDeparture) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  lose(b);
  a.ep->take();
  sink.take();
  advance(9999ms);
  EXPECT_TRUE(a.ep->take().empty());
  advance(1ms);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-left", "b")});
  EXPECT_EQ(sink.take(), std::vector<std::string>{"disconnected b n:2"});
  // Too late: its resumeId is a new incarnation now.
  auto b2 = connect("b", b.resume_id());
  EXPECT_EQ(b2.ep->take()[0]["resumed"], false);
  EXPECT_NE(b2.resume_id(), b.resume_id());
}

TEST_F(ResumeTest, NobodyIsAnnouncedLaterThanTheHeartbeatTimeoutAfterTheirLastMessage) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  advance(25s);
  a.join.participant->touch(clock.now());
  lose(b);  // silent for 25 s: 5 s of the window are left, not 10
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-reconnecting", "b")});
  advance(4999ms);
  EXPECT_TRUE(a.ep->take().empty());
  advance(1ms);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-left", "b")}) << "30 s after b's last message";
}

TEST_F(ResumeTest, ALossAfterTheHeartbeatTimeoutLeavesAtOnce) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  clock.advance(31s);  // no tick: the loss is seen first
  a.join.participant->touch(clock.now());
  lose(b);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-left", "b")});
}

TEST_F(ResumeTest, ACleanLeaveIsAnnouncedAtOnce) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  b.join.session->leave(b.join.participant, clock.now());
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-left", "b")});
  lose(b);  // the socket closing afterwards
  EXPECT_TRUE(a.ep->take().empty());
}

TEST_F(ResumeTest, ASilentConnectionIsClosedWith4408AndLeftAtOnce) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  advance(29s);
  a.join.participant->touch(clock.now());
  advance(1s);
  EXPECT_EQ(b.ep->closed(), CloseCode::heartbeat_timeout);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-left", "b")}) << "no reconnecting state";
}

TEST_F(ResumeTest, ANewIncarnationIsLeftThenJoined) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  lose(b);
  a.ep->take();
  for (const std::string& presented : {std::string(), std::string("not-the-id")}) {
    auto b2 = connect("b", presented);
    const auto seen = a.ep->take();
    ASSERT_EQ(seen.size(), 2U) << presented;
    EXPECT_EQ(seen[0], msg("participant-left", "b"));
    EXPECT_EQ(seen[1]["type"], "participant-joined");
    EXPECT_EQ(b2.ep->take()[0]["resumed"], false);
  }
}

TEST_F(ResumeTest, AResumeBeforeTheLossIsNoticedReplacesTheOldConnectionQuietly) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  auto b2 = connect("b", b.resume_id());
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-reconnected", "b")});
  EXPECT_EQ(b.ep->closed(), CloseCode::replaced);
  EXPECT_EQ(b2.ep->take()[0]["resumed"], true);
}

TEST_F(ResumeTest, AReconnectingParticipantKeepsItsPlaceUnderTheCap) {
  auto a = connect("a"), b = connect("b"), c = connect("c");
  lose(c);
  EXPECT_EQ(connect("d").join.error, protocol::ErrorCode::session_full);
  EXPECT_FALSE(connect("c", c.resume_id()).join.error);
}

TEST_F(ResumeTest, MessagesAreKeptInOrderAndBoundedAndTheSenderHearsOfWhatIsDropped) {
  auto a = connect("a"), b = connect("b");
  lose(b);
  a.ep->take();
  for (int i = 1; i <= 3; ++i) {
    relay(a, "b", R"({"type":"ice-candidate","n":)" + std::to_string(i) + "}");
    EXPECT_FALSE(last_relay_error) << i;
  }
  relay(a, "b", R"({"type":"ice-candidate","n":4})");
  EXPECT_EQ(last_relay_error, protocol::ErrorCode::undelivered) << "beyond the count bound";
  auto b2 = connect("b", b.resume_id());
  const auto got = b2.ep->take();
  ASSERT_EQ(got.size(), 4U);
  EXPECT_EQ(got[0]["type"], "joined");
  for (int i = 1; i <= 3; ++i)
    EXPECT_EQ(got[static_cast<std::size_t>(i)]["n"], i) << "in order, after joined";
}

TEST_F(ResumeTest, TheByteBoundHoldsToo) {
  auto a = connect("a"), b = connect("b");
  lose(b);
  relay(a, "b", R"({"type":"offer","sdp":")" + std::string(900, 'x') + "\"}");
  EXPECT_FALSE(last_relay_error);
  relay(a, "b", R"({"type":"offer","sdp":")" + std::string(200, 'x') + "\"}");
  EXPECT_EQ(last_relay_error, protocol::ErrorCode::undelivered);
}

TEST_F(ResumeTest, WhenTheWindowClosesTheSendersOfKeptMessagesAreTold) {
  auto a = connect("a"), b = connect("b"), c = connect("c");
  lose(b);
  relay(a, "b", R"({"type":"offer"})");
  relay(a, "b", R"({"type":"ice-candidate"})");
  relay(c, "b", R"({"type":"ice-candidate"})");
  a.ep->take();
  c.ep->take();
  advance(10s);
  const auto to_a = a.ep->take();
  ASSERT_EQ(to_a.size(), 2U);
  EXPECT_EQ(to_a[0], msg("participant-left", "b"));
  EXPECT_EQ(to_a[1]["code"], "undelivered");
  EXPECT_EQ(to_a[1]["toUserId"], "b");
  EXPECT_EQ(c.ep->take().size(), 2U) << "c too, once";
}

class NoResumeTest : public ResumeTest {
 protected:
  NoResumeTest() : ResumeTest(no_window()) {}
  static domain::SessionSettings no_window() {
    auto s = settings();
    s.resume_window = 0ms;
    s.remote_resume_window = 0ms;
    return s;
  }
};

TEST_F(NoResumeTest, AWindowOfZeroIsTodaysBehaviour) {
  auto a = connect("a"), b = connect("b");
  a.ep->take();
  lose(b);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-left", "b")});
  auto b2 = connect("b", b.resume_id());
  EXPECT_EQ(b2.ep->take()[0]["resumed"], false);
}

// --- Participants of other nodes.

TEST_F(ResumeTest, ARemoteParticipantReconnectingAndResumingElsewhere) {
  auto a = connect("a");
  hub.apply_remote_joined("s1", {{"b", "Bob"}, "n2:1", 2});
  a.ep->take();
  hub.apply_remote_reconnecting("s1", "n2:1");
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-reconnecting", "b")});
  // Its node keeps the messages: they are handed to it.
  const auto r = a.join.session->relay(*a.join.participant, "b", domain::make_payload(R"({"type":"offer"})"));
  EXPECT_EQ(r.remote_connection, "n2:1");
  hub.apply_remote_joined("s1", {{"b", "Bob"}, "n3:4", 2}, true);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-reconnected", "b")});
  EXPECT_EQ(a.join.session->relay(*a.join.participant, "b", domain::make_payload("{}")).remote_connection,
            "n3:4");
}

TEST_F(ResumeTest, WhenANodeDiesItsParticipantsAreReconnectingAndTheirMessagesKeptHere) {
  auto a = connect("a");
  hub.apply_remote_joined("s1", {{"b", "Bob"}, "n2:1", 2});
  a.ep->take();
  sink.take();
  hub.apply_node_lost("s1", "n2:1");
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-reconnecting", "b")});
  relay(a, "b", R"({"type":"offer","n":1})");
  EXPECT_FALSE(last_relay_error);
  EXPECT_TRUE(sink.take().empty()) << "kept here, not sent to the dead node";
  // It resumes on a third node: what was kept goes there, in order.
  hub.apply_remote_joined("s1", {{"b", "Bob"}, "n3:4", 2}, true);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-reconnected", "b")});
  EXPECT_EQ(sink.take(), std::vector<std::string>{R"(remote n3:4 {"type":"offer","n":1})"});
}

TEST_F(ResumeTest, ADeadNodesParticipantWhoDoesNotComeBackLeavesAfterTheWindow) {
  auto a = connect("a");
  hub.apply_remote_joined("s1", {{"b", "Bob"}, "n2:1", 2});
  hub.apply_node_lost("s1", "n2:1");
  a.ep->take();
  sink.take();
  advance(10s);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-left", "b")});
  EXPECT_EQ(sink.take(), std::vector<std::string>{"expired b n2:1"}) << "its entry is removed from the store";
}

TEST_F(ResumeTest, ALocalParticipantResumingOnAnotherNodeHandsOverItsQueue) {
  auto a = connect("a"), b = connect("b");
  lose(b);
  relay(a, "b", R"({"type":"offer","n":1})");
  a.ep->take();
  sink.take();
  hub.apply_remote_joined("s1", {{"b", "Bob"}, "n9:1", 0}, true);
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-reconnected", "b")});
  EXPECT_EQ(sink.take(), std::vector<std::string>{R"(remote n9:1 {"type":"offer","n":1})"})
      << "no departure written: the entry is the new node's now";
  // A message still addressed to the old connection follows the user.
  EXPECT_TRUE(hub.deliver("s1", "n:2", domain::make_payload(R"({"late":1})"), "c"));
  EXPECT_EQ(sink.take(), std::vector<std::string>{R"(remote n9:1 {"late":1})"});
  advance(20s);
  EXPECT_TRUE(a.ep->take().empty()) << "the old connection's window does not fire";
}

TEST_F(ResumeTest, AMessageFromAnotherNodeForAReconnectingParticipantIsKeptOrRefused) {
  auto a = connect("a"), b = connect("b");
  hub.apply_remote_joined("s1", {{"c", "Cid"}, "n2:1", 3});
  lose(b);
  sink.take();
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(hub.deliver("s1", "n:2", domain::make_payload("{}"), "c"));
  EXPECT_TRUE(sink.take().empty());
  EXPECT_TRUE(hub.deliver("s1", "n:2", domain::make_payload("{}"), "c"));
  const auto told = sink.take();
  ASSERT_EQ(told.size(), 1U);
  EXPECT_NE(told[0].find(R"("code":"undelivered")"), std::string::npos) << told[0];
  EXPECT_EQ(told[0].rfind("remote n2:1 ", 0), 0U) << "to the sender's connection";
}

TEST_F(ResumeTest, ANodePresumedDeadThatComesBackEndsTheReconnectingStateOfItsParticipants) {
  auto a = connect("a");
  hub.apply_remote_joined("s1", {{"b", "Bob"}, "n2:1", 2});
  hub.apply_node_lost("s1", "n2:1");
  relay(a, "b", R"({"type":"offer"})");
  a.ep->take();
  sink.take();
  hub.apply_remote_joined("s1", {{"b", "Bob"}, "n2:1", 2}, true);  // the same connection again
  EXPECT_EQ(a.ep->take(), std::vector{msg("participant-reconnected", "b")});
  EXPECT_EQ(sink.take(), std::vector<std::string>{R"(remote n2:1 {"type":"offer"})"});
  advance(20s);
  EXPECT_TRUE(a.ep->take().empty()) << "no expiry any more";
}
