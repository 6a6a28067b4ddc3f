// The Lua scripts of the several-node mode against a real redis-server: the join's checks and
// cap, replacement, conditional leave, start and end exactly once, snapshot. Skipped when
// /usr/bin/redis-server is missing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/codec.hpp"
#include "cluster/keys.hpp"
#include "cluster/replies.hpp"
#include "cluster/scripts.hpp"
#include "redis/client.hpp"
#include "support/redis_fixtures.hpp"

using namespace sig;
using namespace std::chrono_literals;
using redis::Reply;

namespace {

const cluster::Layout keys;  // the one-server layout

class ClusterScriptsTest : public test::RedisClientTest {
 protected:
  void SetUp() override {
    server_errors_expected_ = true;  // the scripts' refusals are error replies
    RedisClientTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    cmd({"HSET", keys.dir("s"), "hostUserId", "a", "participants",
         R"([{"userId":"a","displayName":"Alice"},{"userId":"b"},{"userId":"c"}])", "status", "waiting"});
  }

  Reply join(const std::string& user, const std::string& conn, const std::string& name = "", int max = 2,
             const std::string& presented = "", const std::string& fresh = "rid-new",
             std::int64_t now = kT0) {
    return eval(cluster::scripts::join(),
                {keys.dir("s"), keys.ws("s"), keys.peers("s"), keys.heartbeat("s", user), keys.resume("s"),
                 keys.attendance("s")},
                {user, conn, name, std::to_string(max), "1800", std::to_string(now), "45", presented, fresh});
  }
  Reply leave(const std::string& user, const std::string& conn, std::int64_t now = kT0,
              const std::string& undo = "") {
    return eval(cluster::scripts::leave(),
                {keys.ws("s"), keys.peers("s"), keys.heartbeat("s", user), keys.resume("s"),
                 keys.attendance("s"), keys.dir("s")},
                {user, conn, keys.session_channel("s"), cluster::encode_left(user, conn), "0",
                 std::to_string(now), undo});
  }
  Reply lost(const std::string& user, const std::string& conn, std::int64_t now) {
    return eval(cluster::scripts::lost(), {keys.ws("s"), keys.attendance("s"), keys.dir("s")},
                {user, conn, std::to_string(now), "ch", "{}", "0"});
  }
  Reply end(std::int64_t now, const std::string& reason = "completed") {
    return eval(cluster::scripts::end(),
                {keys.dir("s"), keys.ws("s"), keys.peers("s"), keys.resume("s"), keys.attendance("s")},
                {reason, "2026-11-24T11:00:00.000Z", "ch", "{}", "3600", keys.heartbeat_prefix("s"),
                 std::to_string(now)});
  }
  // The attendance entry of a user, parsed (nullopt: none).
  std::optional<domain::AttendanceRecord> att(const std::string& user) {
    const auto r = cmd({"HGET", keys.attendance("s"), user});
    if (!r.is_string()) return std::nullopt;
    return cluster::parse_attendance(user, r.str);
  }
  long long rev() {
    const auto r = cmd({"HGET", keys.dir("s"), "rev"});
    return r.is_string() ? std::stoll(r.str) : 0;
  }
  static constexpr std::int64_t kT0 = 1795000000000;
};

}  // namespace

TEST_F(ClusterScriptsTest, JoinChecksStatusMembershipAndCapAndReturnsTheRoster) {
  auto r = join("a", "n1:1", "");
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.elements.size(), 10U);
  EXPECT_EQ(r.elements[6].integer, 0) << "a first join resumes nothing";
  EXPECT_EQ(r.elements[7].str, "rid-new");
  EXPECT_EQ(r.elements[0].str, "ok");
  EXPECT_EQ(r.elements[1].str, "");  // no previous connection
  EXPECT_EQ(r.elements[2].integer, 1);
  const auto roster =
      cluster::roster_from(cluster::fields_of(r.elements[3]), cluster::fields_of(r.elements[4]));
  ASSERT_EQ(roster.size(), 1U);
  EXPECT_EQ(roster[0].identity.display_name, "Alice") << "the directory's name when the token has none";
  EXPECT_EQ(cmd({"GET", keys.heartbeat("s", "a")}).str, "1795000000000");
  const auto ttl = cmd({"TTL", keys.ws("s")}).integer;
  EXPECT_TRUE(ttl > 1790 && ttl <= 1800) << ttl;
  EXPECT_LE(cmd({"TTL", keys.heartbeat("s", "a")}).integer, 45);

  EXPECT_EQ(join("b", "n2:1", "Bobby").elements[0].str, "ok");
  EXPECT_EQ(cmd({"HGET", keys.peers("s"), "b"}).str, "2|Bobby");
  EXPECT_EQ(join("c", "n1:2").elements[0].str, "session_full");
  EXPECT_EQ(cmd({"HLEN", keys.ws("s")}).integer, 2) << "a refused join writes nothing";
  // A full session still takes a newer connection of a user who is there: a replacement.
  auto again = join("b", "n3:1");
  EXPECT_EQ(again.elements[0].str, "ok");
  EXPECT_EQ(again.elements[1].str, "n2:1");
  EXPECT_EQ(again.elements[2].integer, 3);
  EXPECT_EQ(join("zed", "n1:3").elements[0].str, "not_participant");
  EXPECT_EQ(
      eval(cluster::scripts::join(), {keys.dir("x"), keys.ws("x"), keys.peers("x"), keys.heartbeat("x", "a")},
           {"a", "n1:9", "", "6", "1800", "1", "45"})
          .elements[0]
          .str,
      "session_not_found");
}

TEST_F(ClusterScriptsTest, LeaveRemovesOnlyTheConnectionItNames) {
  join("a", "n1:1");
  join("a", "n2:1");  // replaced on another node
  EXPECT_FALSE(cluster::decode_leave(leave("a", "n1:1"))->removed)
      << "the older connection leaving must not remove the newer one";
  EXPECT_EQ(cmd({"HGET", keys.ws("s"), "a"}).str, "n2:1");
  EXPECT_EQ(cmd({"EXISTS", keys.heartbeat("s", "a")}).integer, 1);
  EXPECT_TRUE(cluster::decode_leave(leave("a", "n2:1"))->removed);
  EXPECT_EQ(cmd({"EXISTS", keys.ws("s")}).integer, 0);
  EXPECT_EQ(cmd({"EXISTS", keys.peers("s")}).integer, 0);
  EXPECT_EQ(cmd({"EXISTS", keys.heartbeat("s", "a")}).integer, 0);
}

// Every presence change increments the directory's rev: the periodic sync reads the directory
// alone to tell whether a session changed (Mirror::sync). What changes nothing leaves it.
TEST_F(ClusterScriptsTest, EveryPresenceChangeIncrementsTheDirectoryRev) {
  EXPECT_EQ(rev(), 0);
  join("a", "n1:1");
  EXPECT_EQ(rev(), 1);
  join("b", "n1:2");
  EXPECT_EQ(rev(), 2);
  EXPECT_EQ(join("c", "n1:3").elements[0].str, "session_full");
  EXPECT_EQ(rev(), 2) << "a refused join";
  join("a", "n2:1", "", 2, "rid-new", "rid-x");  // a resume on another node
  EXPECT_EQ(rev(), 3);
  EXPECT_TRUE(cluster::decode_lost(lost("a", "n2:1", kT0 + 1000))->changed);
  EXPECT_EQ(rev(), 4);
  EXPECT_FALSE(cluster::decode_lost(lost("a", "n2:1", kT0 + 2000))->changed);
  EXPECT_EQ(rev(), 4) << "a loss already recorded";
  EXPECT_FALSE(cluster::decode_leave(leave("a", "n1:1"))->removed);
  EXPECT_EQ(rev(), 4) << "a leave of a connection no longer listed";
  EXPECT_TRUE(cluster::decode_leave(leave("a", "n2:1"))->removed);
  EXPECT_EQ(rev(), 5);
  // A session deleted meanwhile gets no directory back from a late leave.
  cmd({"DEL", keys.dir("s")});
  EXPECT_TRUE(cluster::decode_leave(leave("b", "n1:2"))->removed);
  EXPECT_EQ(cmd({"EXISTS", keys.dir("s")}).integer, 0);
}

TEST_F(ClusterScriptsTest, StartAndEndHappenOnce) {
  join("a", "n1:1");
  const std::vector<std::string> dir{keys.dir("s")};
  EXPECT_EQ(eval(cluster::scripts::start(), dir, {"2026-11-24T10:00:00.000Z", "ch", "{}"}).integer, 1);
  EXPECT_EQ(eval(cluster::scripts::start(), dir, {"2026-11-24T10:00:01.000Z", "ch", "{}"}).integer, 0);
  EXPECT_EQ(cmd({"HGET", keys.dir("s"), "startedAt"}).str, "2026-11-24T10:00:00.000Z");
  EXPECT_TRUE(cluster::decode_end(end(kT0 + 1000))->changed);
  const auto second = cluster::decode_end(end(kT0 + 2000, "timeout"));
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->changed) << "exactly one end wins";
  EXPECT_EQ(cmd({"HGET", keys.dir("s"), "endReason"}).str, "completed");
  EXPECT_EQ(cmd({"EXISTS", keys.ws("s")}).integer, 0);
  EXPECT_EQ(cmd({"EXISTS", keys.heartbeat("s", "a")}).integer, 0);
  EXPECT_GT(cmd({"TTL", keys.dir("s")}).integer, 0);
  EXPECT_EQ(join("b", "n1:2").elements[0].str, "session_ended");
}

TEST_F(ClusterScriptsTest, RestoreWritesTheNodesConnectionsAndDropsItsStaleOnes) {
  join("a", "n1:1");
  join("b", "n1:2");  // n1:2 is gone from node n1
  cmd({"FLUSHALL"});  // Redis lost everything
  auto snap =
      *cluster::record_from_fields("s",
                                   {{"hostUserId", "a"},
                                    {"participants", R"([{"userId":"a"},{"userId":"b"},{"userId":"c"}])"},
                                    {"status", "started"},
                                    {"createdAt", "2026-11-24T10:00:00.000Z"},
                                    {"startedAt", "2026-11-24T10:00:01.000Z"}},
                                   domain::WallTime{});
  // Max local seq 7; the node has seen join replies up to seq 7; no doubtful connection.
  std::vector<std::string> args{"n1:", "1800", keys.heartbeat_prefix("s"), "1795000000001", "45", "7", "7"};
  const auto fields = cluster::fields_of_record(snap);
  args.push_back(std::to_string(fields.size() * 2));
  args.emplace_back("0");
  for (const auto& [k, v] : fields) {
    args.push_back(k);
    args.push_back(v);
  }
  for (const auto& x : {"a", "n1:1", "1|A", "rid-a"})
    args.emplace_back(x);
  args.emplace_back("");  // no attendance known to the node: a minimal entry
  args.emplace_back("");  // live here
  const std::vector<std::string> k{keys.dir("s"), keys.ws("s"), keys.peers("s"), keys.resume("s"),
                                   keys.attendance("s")};
  EXPECT_TRUE(cluster::decode_restore(eval(cluster::scripts::restore(), k, args))->applied);
  ASSERT_TRUE(att("a")) << "Redis lost the attendance: the live participant gets an entry again";
  EXPECT_EQ(att("a")->display_name, "A");
  EXPECT_EQ(att("a")->connections, 1U);
  EXPECT_TRUE(att("a")->connected_since);
  EXPECT_EQ(cmd({"HGET", keys.resume("s"), "a"}).str, "rid-a") << "the resumeId is written again";
  EXPECT_EQ(cmd({"HGET", keys.dir("s"), "status"}).str, "started");
  EXPECT_EQ(cmd({"HGET", keys.dir("s"), "joinSeq"}).str, "7");
  EXPECT_EQ(rev(), 1) << "a restore changes presence: the directory says so";
  EXPECT_EQ(cmd({"HGETALL", keys.ws("s")}).elements.size(), 2U);
  EXPECT_EQ(cmd({"HGET", keys.ws("s"), "a"}).str, "n1:1");
  EXPECT_EQ(cmd({"GET", keys.heartbeat("s", "a")}).str, "1795000000001");
  // Later: another node's connection for b, and a stale n1 entry for c; restore again.
  cmd({"HSET", keys.ws("s"), "b", "n2:5", "c", "n1:9"});
  cmd({"HSET", keys.peers("s"), "b", "6|B", "c", "5|C"});
  EXPECT_TRUE(cluster::decode_restore(eval(cluster::scripts::restore(), k, args))->applied);
  EXPECT_EQ(cmd({"HGET", keys.ws("s"), "b"}).str, "n2:5") << "other nodes' entries stay";
  EXPECT_TRUE(cmd({"HGET", keys.ws("s"), "c"}).is_nil()) << "this node's stale entry goes";
  EXPECT_EQ(rev(), 2);
  // The directory is not overwritten when present.
  cmd({"HSET", keys.dir("s"), "hostUserId", "b"});
  eval(cluster::scripts::restore(), k, args);
  EXPECT_EQ(cmd({"HGET", keys.dir("s"), "hostUserId"}).str, "b");
}

// A join of this node that reached Redis just before the restore script (its reply not read yet
// when the node built the script's arguments) must survive it; a stale entry must not.
TEST_F(ClusterScriptsTest, RestoreKeepsAJoinNewerThanWhatTheNodeHasSeen) {
  cmd({"HSET", keys.dir("s"), "participants",
       R"([{"userId":"a"},{"userId":"b"},{"userId":"c"},{"userId":"d"}])"});
  join("a", "n1:1", "", 6);                                    // seq 1, seen by the node
  join("b", "n1:2", "", 6);                                    // seq 2, seen; n1:2 has left since
  ASSERT_EQ(join("c", "n1:3", "", 6).elements[2].integer, 3);  // seq 3, reply not read yet
  join("d", "n1:4", "", 6);                                    // seq 4: its reply was lost, and it left
  const auto restore = [&](std::string_view known, std::initializer_list<std::string_view> doubtful) {
    std::vector<std::string> args{"n1:",
                                  "1800",
                                  keys.heartbeat_prefix("s"),
                                  "1795000000001",
                                  "45",
                                  "1",
                                  std::string(known),
                                  "0",
                                  std::to_string(doubtful.size())};
    for (auto c : doubtful)
      args.emplace_back(c);
    for (const auto& x : {"a", "n1:1", "1|A", "", "", ""})
      args.emplace_back(x);
    const std::vector<std::string> k{keys.dir("s"), keys.ws("s"), keys.peers("s"), keys.resume("s"),
                                     keys.attendance("s")};
    const auto r = cluster::decode_restore(eval(cluster::scripts::restore(), k, args));
    return r && r->applied ? 1 : 0;
  };
  EXPECT_EQ(restore("2", {"n1:4"}), 1);
  EXPECT_EQ(cmd({"HGET", keys.ws("s"), "a"}).str, "n1:1");
  EXPECT_TRUE(cmd({"HGET", keys.ws("s"), "b"}).is_nil()) << "seen and gone: stale";
  EXPECT_TRUE(cmd({"HGET", keys.peers("s"), "b"}).is_nil());
  EXPECT_EQ(cmd({"HGET", keys.ws("s"), "c"}).str, "n1:3") << "newer than seen: a join in flight";
  EXPECT_EQ(cmd({"HGET", keys.peers("s"), "c"}).str, "3|c");
  EXPECT_TRUE(cmd({"HGET", keys.ws("s"), "d"}).is_nil()) << "doubtful and gone: stale";
  // Once the node has read c's reply (seen 4) and c has left too, c's entry goes.
  EXPECT_EQ(restore("4", {}), 1);
  EXPECT_TRUE(cmd({"HGET", keys.ws("s"), "c"}).is_nil());
}

// A resume: the presented resumeId must be the user's current one and the user still listed; it
// keeps the seq (its place in the join order) and the resumeId; anything else is a new
// incarnation with a new seq.
TEST_F(ClusterScriptsTest, JoinResumesOnlyTheCurrentIncarnation) {
  cmd({"HSET", keys.dir("s"), "participants", R"([{"userId":"a"},{"userId":"b"}])"});
  auto first = join("a", "n1:1", "", 2, "", "rid-1");
  ASSERT_EQ(first.elements[2].integer, 1);
  join("b", "n1:2", "", 2, "", "rid-b");
  auto resumed = join("a", "n2:7", "", 2, "rid-1", "rid-2");
  EXPECT_EQ(resumed.elements[0].str, "ok");
  EXPECT_EQ(resumed.elements[1].str, "n1:1");
  EXPECT_EQ(resumed.elements[2].integer, 1) << "same place in the join order";
  EXPECT_EQ(resumed.elements[6].integer, 1);
  EXPECT_EQ(resumed.elements[7].str, "rid-1") << "the incarnation keeps its resumeId";
  EXPECT_EQ(cmd({"HGET", keys.ws("s"), "a"}).str, "n2:7");
  auto wrong = join("a", "n2:8", "", 2, "rid-b", "rid-3");
  EXPECT_EQ(wrong.elements[6].integer, 0) << "another user's resumeId resumes nothing";
  EXPECT_EQ(wrong.elements[7].str, "rid-3");
  EXPECT_EQ(wrong.elements[2].integer, 3);
  leave("a", "n2:8");
  EXPECT_TRUE(cmd({"HGET", keys.resume("s"), "a"}).is_nil()) << "a departure forgets the resumeId";
  auto after = join("a", "n1:9", "", 2, "rid-3", "rid-4");
  EXPECT_EQ(after.elements[6].integer, 0) << "nothing to resume once gone";
}

// Attendance (session:attendance): one interval per participant from its join; a loss does not
// close it, a resume keeps it open (the gap counts), a clean leave closes it now, the expiry of a
// lost one closes it at the loss time. Times come from ARGV (the node's wall clock).
TEST_F(ClusterScriptsTest, AttendanceFollowsJoinsLossesResumesAndLeaves) {
  join("a", "n1:1", "Ann", 2, "", "rid-1", kT0);
  auto a = att("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->display_name, "Ann");
  EXPECT_EQ(a->connections, 1U);
  EXPECT_EQ(a->connected.count(), 0);
  EXPECT_FALSE(a->last_left);
  ASSERT_TRUE(a->connected_since);
  EXPECT_EQ(a->connected_since->time_since_epoch(), std::chrono::milliseconds(kT0));
  EXPECT_EQ(cmd({"TTL", keys.attendance("s")}).integer, -1) << "no TTL while the session lives";

  const auto l1 = cluster::decode_lost(lost("a", "n1:1", kT0 + 1000));
  ASSERT_TRUE(l1);
  EXPECT_TRUE(l1->changed);
  EXPECT_EQ(l1->display_name, "Ann");
  EXPECT_FALSE(cluster::decode_lost(lost("a", "n1:1", kT0 + 1500))->changed) << "the first loss time stays";
  EXPECT_FALSE(cluster::decode_lost(lost("a", "n9:9", kT0 + 1500))->changed) << "not its connection";

  // Resumed on another node 3 s later: the interval stays open from kT0, the loss is forgotten.
  auto r = join("a", "n2:1", "", 2, "rid-1", "rid-2", kT0 + 3000);
  ASSERT_EQ(r.elements[6].integer, 1);
  a = att("a");
  EXPECT_EQ(a->connections, 2U);
  EXPECT_EQ(a->connected_since->time_since_epoch(), std::chrono::milliseconds(kT0));
  EXPECT_TRUE(cluster::decode_lost(lost("a", "n2:1", kT0 + 4000))->changed) << "a new loss after the resume";
  join("a", "n1:2", "", 2, "rid-1", "rid-3", kT0 + 4500);  // resumed again
  // A clean leave at +5 s closes it now.
  const auto left = cluster::decode_leave(leave("a", "n1:2", kT0 + 5000));
  ASSERT_TRUE(left && left->removed);
  EXPECT_EQ(left->display_name, "Alice") << "the later joins had no token name: the directory's";
  EXPECT_EQ(left->closed_at->time_since_epoch(), std::chrono::milliseconds(kT0 + 5000));
  a = att("a");
  EXPECT_EQ(a->connected.count(), 5000) << "the reconnecting gaps count once resumed";
  EXPECT_EQ(a->last_left->time_since_epoch(), std::chrono::milliseconds(kT0 + 5000));
  EXPECT_FALSE(a->connected_since);
  EXPECT_EQ(a->connections, 3U);

  // Back at +10 s, lost at +11 s, the window expires at +20 s: closed at the loss time.
  join("a", "n1:3", "", 2, "", "rid-4", kT0 + 10'000);
  a = att("a");
  EXPECT_EQ(a->first_joined.time_since_epoch(), std::chrono::milliseconds(kT0)) << "the first join stays";
  EXPECT_FALSE(a->last_left) << "connected again";
  lost("a", "n1:3", kT0 + 11'000);
  const auto expired = cluster::decode_leave(leave("a", "n1:3", kT0 + 20'000));
  EXPECT_EQ(expired->closed_at->time_since_epoch(), std::chrono::milliseconds(kT0 + 11'000));
  a = att("a");
  EXPECT_EQ(a->connected.count(), 6000);
  EXPECT_EQ(a->last_left->time_since_epoch(), std::chrono::milliseconds(kT0 + 11'000));
  EXPECT_EQ(a->connections, 4U);
  // A second expiry (another node's copy of the same timer) changes nothing and says so.
  const auto again = cluster::decode_leave(leave("a", "n1:3", kT0 + 21'000));
  EXPECT_FALSE(again->removed);
  EXPECT_EQ(att("a")->connected.count(), 6000);
}

// A fresh incarnation replacing a lost one: the interval stays open (as on one node, where the
// replaced one leaves and the new one joins at the same instant), the loss is forgotten, and the
// reply names the replaced entry (its node emits participant.left "replaced").
TEST_F(ClusterScriptsTest, AReplacementClosesTheOldIntervalAndReturnsTheReplacedEntry) {
  join("b", "n1:1", "Bob", 2, "", "rid-1", kT0);
  lost("b", "n1:1", kT0 + 1000);
  auto r = join("b", "n2:1", "Bobby", 2, "", "rid-2", kT0 + 4000);
  ASSERT_EQ(r.elements.size(), 10U);
  EXPECT_EQ(r.elements[1].str, "n1:1");
  EXPECT_EQ(r.elements[6].integer, 0);
  EXPECT_EQ(r.elements[9].str, "1|Bob") << "the replaced entry's peers value";
  const auto before = cluster::parse_attendance("b", r.elements[8].str);
  ASSERT_TRUE(before) << "the attendance before the join, for an undo";
  EXPECT_EQ(before->connections, 1U);
  const auto b = att("b");
  EXPECT_EQ(b->connected.count(), 0);
  EXPECT_EQ(b->connections, 2U);
  EXPECT_EQ(b->display_name, "Bobby");
  EXPECT_EQ(b->connected_since->time_since_epoch(), std::chrono::milliseconds(kT0));
  EXPECT_TRUE(cluster::decode_lost(lost("b", "n2:1", kT0 + 5000))->changed) << "the old loss is forgotten";
  EXPECT_EQ(join("c", "n1:5", "", 6, "", "rid-c", kT0).elements[8].str, "") << "no entry before";
}

// A join the node refuses after its script (its copy has just ended) is taken back with the
// attendance as it was: no connection was admitted.
TEST_F(ClusterScriptsTest, TheUndoOfARefusedJoinPutsTheAttendanceBack) {
  auto first = join("c", "n1:1", "", 6, "", "rid", kT0);
  EXPECT_EQ(first.elements[8].str, "");
  leave("c", "n1:1", kT0 + 100, "-");
  EXPECT_FALSE(att("c")) << "a first join taken back leaves no entry";
  join("c", "n1:2", "", 6, "", "rid", kT0 + 1000);
  leave("c", "n1:2", kT0 + 2000);
  const auto kept = cmd({"HGET", keys.attendance("s"), "c"}).str;
  auto second = join("c", "n1:3", "", 6, "", "rid", kT0 + 3000);
  EXPECT_EQ(second.elements[8].str, kept);
  leave("c", "n1:3", kT0 + 3100, second.elements[8].str);
  EXPECT_EQ(cmd({"HGET", keys.attendance("s"), "c"}).str, kept);
  EXPECT_EQ(att("c")->connections, 1U);
}

// The end closes every interval (a lost one at its loss) and returns, once, the attendance and who
// was there; the hash then lives as long as the ended entry and goes with a delete.
TEST_F(ClusterScriptsTest, TheEndClosesEveryIntervalAndReturnsTheAttendanceOnce) {
  join("a", "n1:1", "", 2, "", "rid-a", kT0);
  join("b", "n2:1", "", 2, "", "rid-b", kT0 + 1000);
  lost("b", "n2:1", kT0 + 3000);
  const auto e = cluster::decode_end(end(kT0 + 10'000));
  ASSERT_TRUE(e && e->changed);
  ASSERT_EQ(e->present.size(), 2U);
  EXPECT_EQ(e->present[0].identity.user_id, "a") << "join order";
  EXPECT_EQ(e->present[0].identity.display_name, "Alice");
  EXPECT_EQ(e->present[1].identity.user_id, "b");
  ASSERT_EQ(e->attendance.size(), 2U);
  EXPECT_EQ(e->attendance[0].user_id, "a");
  EXPECT_EQ(e->attendance[0].connected.count(), 10'000);
  EXPECT_EQ(e->attendance[0].last_left->time_since_epoch(), std::chrono::milliseconds(kT0 + 10'000));
  EXPECT_FALSE(e->attendance[0].connected_since);
  EXPECT_EQ(e->attendance[1].connected.count(), 2000) << "a lost one closes at its loss";
  EXPECT_FALSE(e->started_at) << "never started";
  const auto ttl = cmd({"TTL", keys.attendance("s")}).integer;
  EXPECT_TRUE(ttl > 3590 && ttl <= 3600) << ttl;
  EXPECT_FALSE(cluster::decode_end(end(kT0 + 11'000))->changed);
  EXPECT_EQ(att("a")->connected.count(), 10'000) << "a second end changes nothing";
  // The snapshot reads it after the end.
  const auto snap = eval(cluster::scripts::snapshot(),
                         {keys.dir("s"), keys.ws("s"), keys.peers("s"), keys.attendance("s")}, {});
  ASSERT_EQ(snap.elements.size(), 4U);
  EXPECT_EQ(cluster::attendance_from(cluster::fields_of(snap.elements[3])).size(), 2U);
  eval(cluster::scripts::remove(),
       {keys.dir("s"), keys.ws("s"), keys.peers("s"), keys.resume("s"), keys.attendance("s")},
       {keys.heartbeat_prefix("s"), "ch", "{}"});
  EXPECT_EQ(cmd({"EXISTS", keys.attendance("s")}).integer, 0) << "deleted with the session";
}

// A node presumed dead (it stalled): the others recorded its participants' loss, or even closed
// them when the window expired; its restore clears the loss (reconnected) or re-opens the entry
// (joined), and says which, once.
TEST_F(ClusterScriptsTest, RestoreClearsALossOrReopensAClosedEntryOnce) {
  cmd({"HSET", keys.dir("s"), "participants", R"([{"userId":"a"},{"userId":"b"}])", "status", "started"});
  join("a", "n1:1", "", 6, "", "rid-a", kT0);
  join("b", "n1:2", "", 6, "", "rid-b", kT0);
  lost("a", "n1:1", kT0 + 1000);  // seen as lost by another node
  lost("b", "n1:2", kT0 + 1000);
  leave("b", "n1:2", kT0 + 9000);  // and b's window expired there
  const auto restore = [&] {
    std::vector<std::string> args{
        "n1:", "1800", keys.heartbeat_prefix("s"), std::to_string(kT0 + 12'000), "45", "2", "2", "0", "0"};
    for (const auto& x : {"a", "n1:1", "1|a", "rid-a", "", "", "b", "n1:2", "2|b", "rid-b", "", ""})
      args.emplace_back(x);
    return cluster::decode_restore(
        eval(cluster::scripts::restore(),
             {keys.dir("s"), keys.ws("s"), keys.peers("s"), keys.resume("s"), keys.attendance("s")}, args));
  };
  auto r = restore();
  ASSERT_TRUE(r && r->applied);
  EXPECT_EQ(r->resumed, std::vector<std::string>{"a"});
  EXPECT_EQ(r->rejoined, std::vector<std::string>{"b"});
  EXPECT_TRUE(cluster::decode_lost(lost("a", "n1:1", kT0 + 13'000))->changed)
      << "the loss was cleared: a new one can be recorded";
  join("a", "n1:1", "", 6, "rid-a", "rid-a", kT0 + 13'000);  // (its own resume clears it again)
  EXPECT_EQ(att("a")->connected_since->time_since_epoch(), std::chrono::milliseconds(kT0));
  EXPECT_EQ(att("b")->connections, 2U);
  EXPECT_EQ(att("b")->connected_since->time_since_epoch(), std::chrono::milliseconds(kT0 + 12'000));
  r = restore();
  EXPECT_TRUE(r->resumed.empty() && r->rejoined.empty()) << "nothing to report twice";
}

// A participant still reconnecting on its node (lost, within its window) when the node restores:
// its loss is kept (or written again after Redis lost its data), and it is not reported as back.
TEST_F(ClusterScriptsTest, RestoreKeepsTheLossOfAParticipantStillReconnectingHere) {
  cmd({"HSET", keys.dir("s"), "participants", R"([{"userId":"a"},{"userId":"b"}])", "status", "started"});
  join("a", "n1:1", "", 6, "", "rid-a", kT0);
  join("b", "n1:2", "", 6, "", "rid-b", kT0);
  lost("a", "n1:1", kT0 + 1000);  // a is lost on its own node n1, which keeps its place
  const auto restore = [&] {
    std::vector<std::string> args{
        "n1:", "1800", keys.heartbeat_prefix("s"), std::to_string(kT0 + 12'000), "45", "2", "2", "0", "0"};
    for (const std::string x : {"a", "n1:1", "1|a", "rid-a", ""})
      args.push_back(x);
    args.push_back(std::to_string(kT0 + 1000));  // still reconnecting here, lost then
    for (const std::string x : {"b", "n1:2", "2|b", "rid-b", "", ""})
      args.push_back(x);
    return cluster::decode_restore(
        eval(cluster::scripts::restore(),
             {keys.dir("s"), keys.ws("s"), keys.peers("s"), keys.resume("s"), keys.attendance("s")}, args));
  };
  const auto lost_at = [&](const std::string& user) {
    const auto j = nlohmann::json::parse(cmd({"HGET", keys.attendance("s"), user}).str);
    return j.at("r");
  };
  auto r = restore();
  ASSERT_TRUE(r && r->applied);
  EXPECT_TRUE(r->resumed.empty()) << "a is still gone: not reconnected";
  EXPECT_TRUE(r->rejoined.empty());
  EXPECT_EQ(lost_at("a"), kT0 + 1000) << "its loss is kept";
  EXPECT_EQ(lost_at("b"), false);
  cmd({"FLUSHALL"});  // Redis lost everything: the node writes it again, with the loss
  cmd({"HSET", keys.dir("s"), "participants", R"([{"userId":"a"},{"userId":"b"}])", "status", "started"});
  r = restore();
  ASSERT_TRUE(r && r->applied);
  EXPECT_TRUE(r->resumed.empty() && r->rejoined.empty());
  EXPECT_EQ(lost_at("a"), kT0 + 1000) << "the loss is written again";
  EXPECT_EQ(lost_at("b"), false);
  EXPECT_FALSE(cluster::decode_lost(lost("a", "n1:1", kT0 + 13'000))->changed) << "still lost";
}
