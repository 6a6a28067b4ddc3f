// The typed script calls (cluster/calls.hpp): each struct encoded into the script's KEYS and ARGV
// for both layouts, and the replies decoded. Pure; the scripts themselves run against Redis in
// cluster_scripts_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/calls.hpp"
#include "cluster/scripts.hpp"

using namespace sig;
using namespace sig::cluster;
using redis::Reply;

namespace {

Reply str(std::string s) {
  Reply r;
  r.type = Reply::Type::string;
  r.str = std::move(s);
  return r;
}
Reply integer(long long v) {
  Reply r;
  r.type = Reply::Type::integer;
  r.integer = v;
  return r;
}
Reply array(std::vector<Reply> el) {
  Reply r;
  r.type = Reply::Type::array;
  r.elements = std::move(el);
  return r;
}

}  // namespace

TEST(ClusterCalls, JoinEncodesEveryKeyOfTheSessionInItsSlot) {
  JoinArgs a{"s1",
             {"u1", "Ann"},
             "n1:7",
             6,
             std::chrono::seconds(1800),
             1795000000000,
             std::chrono::seconds(45),
             "rid-old",
             "rid-new"};
  const auto one = encode(Layout{}, a);
  EXPECT_EQ(one.script, &scripts::join(false));
  EXPECT_EQ(one.keys, (std::vector<std::string>{"session:dir:s1", "session:ws:s1", "session:peers:s1",
                                                "session:heartbeat:s1:u1", "session:resume:s1",
                                                "session:attendance:s1"}));
  EXPECT_EQ(one.args, (std::vector<std::string>{"u1", "n1:7", "Ann", "6", "1800", "1795000000000", "45",
                                                "rid-old", "rid-new"}));
  const auto cl = encode(Layout(true), a);
  EXPECT_EQ(cl.script, &scripts::join(true));
  EXPECT_EQ(cl.keys[3], "session:heartbeat:{s1}:u1");
  for (const auto& k : cl.keys)
    EXPECT_NE(k.find("{s1}"), std::string::npos) << k;
}

TEST(ClusterCalls, TheShardedVariantsPublishWithSpublish) {
  for (const auto* s : {&scripts::leave(true), &scripts::lost(true), &scripts::start(true),
                        &scripts::end(true), &scripts::put(true), &scripts::remove(true)}) {
    EXPECT_EQ(s->source().find("'PUBLISH'"), std::string::npos);
    EXPECT_NE(s->source().find("'SPUBLISH'"), std::string::npos);
  }
  EXPECT_NE(scripts::leave(false).source().find("'PUBLISH'"), std::string::npos);
}

TEST(ClusterCalls, JoinReplyAdmittedAndRefused) {
  const auto ok = decode_join(array({str("ok"), str("n2:1"), integer(4), array({str("u1"), str("n1:7")}),
                                     array({str("u1"), str("4|Ann")}), array({}), integer(0), str("rid"),
                                     str(""), str("3|Old name")}));
  ASSERT_TRUE(ok);
  EXPECT_FALSE(ok->refused);
  EXPECT_EQ(ok->previous, "n2:1");
  EXPECT_EQ(ok->seq, 4U);
  EXPECT_EQ(ok->ws.size(), 1U);
  EXPECT_FALSE(ok->resumed);
  EXPECT_EQ(ok->resume_id, "rid");
  EXPECT_EQ(ok->attendance_before, "-") << "no entry before: an undo deletes it";
  EXPECT_EQ(ok->replaced_name, "Old name");
  const auto full = decode_join(array({str("session_full")}));
  ASSERT_TRUE(full && full->refused);
  EXPECT_EQ(*full->refused, protocol::ErrorCode::session_full);
  const auto odd = decode_join(array({str("internal")}));
  ASSERT_TRUE(odd && odd->refused);
  EXPECT_EQ(*odd->refused, protocol::ErrorCode::session_not_found) << "only the admission refusals";
  EXPECT_FALSE(decode_join(integer(1))) << "not a reply of the script: store_unavailable";
}

TEST(ClusterCalls, AnOkJoinReplyCutShortIsMalformedNotARefusal) {
  // Nothing says the session is gone: nullopt (store_unavailable, 1013), never session_not_found.
  EXPECT_FALSE(decode_join(array({str("ok")})));
  EXPECT_FALSE(decode_join(array({str("ok"), str(""), integer(4), array({}), array({}), array({}), integer(0),
                                  str(""), str("")})));  // 9 of 10
}

TEST(ClusterCalls, RestoreComputesItsArgumentsOnce) {
  RestoreArgs a;
  a.session_id = "s1";
  a.node_id = "n1";
  a.now_ms = 1795000000000;
  a.known_seq = 3;
  a.dir = {{"status", "started"}};
  a.doubtful = {"n1:9"};
  a.members.push_back({"u1", "n1:1", "Ann", "rid1", 5, "", std::nullopt});
  a.members.push_back({"u2", "n1:2", "Bob", "", 2, "{}", 1794999999000});
  const auto c = encode(Layout{}, a);
  ASSERT_EQ(c.args.size(), 9U + 2U + 1U + 12U);
  EXPECT_EQ(c.args[0], "n1:");
  EXPECT_EQ(c.args[5], "5") << "the highest local seq";
  EXPECT_EQ(c.args[6], "3");
  EXPECT_EQ(c.args[7], "2");
  EXPECT_EQ(c.args[8], "1");
  EXPECT_EQ(c.args[11], "n1:9");
  EXPECT_EQ(c.args[14], "5|Ann");
  EXPECT_EQ(c.args[17], "");
  EXPECT_EQ(c.args[23], "1794999999000");
}

TEST(ClusterCalls, LeaveLostAndSnapshot) {
  const auto leave = encode(Layout(true), LeaveArgs{"s1", "u1", "n1:1", true, 42, "-"});
  EXPECT_EQ(leave.keys[2], "session:heartbeat:{s1}:u1");
  EXPECT_EQ(leave.args[2], "signaling:session:{s1}");
  EXPECT_EQ(leave.args[4], "1");
  EXPECT_EQ(leave.args[6], "-");
  const auto lost = encode(Layout{}, LostArgs{"s1", "u1", "n1:1", 42, false});
  EXPECT_EQ(lost.args[4], "");
  EXPECT_EQ(lost.args[5], "0");
  EXPECT_FALSE(decode_snapshot(array({array({})})));
  const auto snap =
      decode_snapshot(array({array({str("status"), str("waiting")}), array({}), array({}), array({})}));
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->dir.size(), 1U);
  EXPECT_EQ(decode_start(integer(1)), std::optional<bool>(true));
  EXPECT_FALSE(decode_start(integer(7)));
}
