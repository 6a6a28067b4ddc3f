// The pure parts of the several-node mode: the Redis layout's values and the messages between
// nodes.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "cluster/codec.hpp"
#include "cluster/keys.hpp"
#include "cluster/replies.hpp"
#include "common/time.hpp"
#include "common/utf8.hpp"
#include "redis/cluster_map.hpp"

using namespace sig;
using namespace sig::cluster;
using namespace std::chrono_literals;

TEST(ClusterKeys, TheUserStoryLayout) {
  const Layout l;
  EXPECT_EQ(l.ws("s1"), "session:ws:s1");
  EXPECT_EQ(l.peers("s1"), "session:peers:s1");
  EXPECT_EQ(l.resume("s1"), "session:resume:s1");
  EXPECT_EQ(l.heartbeat("s1", "u:1"), "session:heartbeat:s1:u:1");
  EXPECT_EQ(l.heartbeat_prefix("s1"), "session:heartbeat:s1:");
  EXPECT_EQ(l.dir("s1"), "session:dir:s1");
  EXPECT_EQ(l.attendance("s1"), "session:attendance:s1");
  EXPECT_EQ(l.alive("n1"), "signaling:node:n1:alive");
  EXPECT_EQ(l.node_channel("n1"), "signaling:node:n1");
  EXPECT_EQ(l.session_channel("s1"), "signaling:session:s1");
  EXPECT_EQ(l.session_of_channel("signaling:session:s1"), "s1");
  EXPECT_EQ(l.session_of_channel("signaling:node:s1"), "");
  EXPECT_EQ(l.publish(), "PUBLISH");
  EXPECT_FALSE(l.cluster());
  EXPECT_EQ(keys::node_of("n1:42"), "n1");
  EXPECT_EQ(keys::node_of("a:b:7"), "a:b");
  EXPECT_EQ(keys::node_of("nocolon"), "");
}

// --redis-cluster: every key of a session carries its hash tag (one slot for a script's keys),
// the node's keys the node id's; sharded pub/sub.
TEST(ClusterKeys, TheClusterLayout) {
  const Layout l(true);
  EXPECT_EQ(l.dir("s1"), "session:dir:{s1}");
  EXPECT_EQ(l.ws("s1"), "session:ws:{s1}");
  EXPECT_EQ(l.peers("s1"), "session:peers:{s1}");
  EXPECT_EQ(l.resume("s1"), "session:resume:{s1}");
  EXPECT_EQ(l.attendance("s1"), "session:attendance:{s1}");
  EXPECT_EQ(l.heartbeat("s1", "u:1"), "session:heartbeat:{s1}:u:1");
  EXPECT_EQ(l.heartbeat_prefix("s1"), "session:heartbeat:{s1}:");
  EXPECT_EQ(l.session_channel("s1"), "signaling:session:{s1}");
  EXPECT_EQ(l.node_channel("n1"), "signaling:node:{n1}");
  EXPECT_EQ(l.alive("n1"), "signaling:node:{n1}:alive");
  EXPECT_EQ(l.session_of_channel("signaling:session:{s1}"), "s1");
  EXPECT_EQ(l.session_of_channel("signaling:session:s1"), "");
  EXPECT_EQ(l.publish(), "SPUBLISH");
}

// Every key of a session in one slot, for any id the layout accepts; an id that begins with '}'
// (an empty tag: Redis hashes each whole key) is refused in cluster mode only.
TEST(ClusterKeys, ASessionsKeysShareOneSlotAndAnEmptyTagIsRefused) {
  const Layout l(true);
  for (const std::string id : {"s1", "a}b", "{x", "a{b}c", "é}", "}x", "}"}) {
    const auto keys = {l.dir(id),
                       l.ws(id),
                       l.peers(id),
                       l.resume(id),
                       l.attendance(id),
                       l.heartbeat(id, "u"),
                       l.session_channel(id)};
    std::set<std::uint16_t> slots;
    for (const auto& k : keys)
      slots.insert(redis::cluster::key_slot(k));
    EXPECT_EQ(slots.size() == 1, l.accepts(id)) << id;
  }
  EXPECT_TRUE(Layout(false).accepts("}x")) << "one Redis: any id";
}

TEST(ClusterCodec, Iso8601RoundTrip) {
  const auto t = domain::WallTime(std::chrono::milliseconds(1'795'000'123'456));
  EXPECT_EQ(parse_iso8601(format_iso8601(t)), t);
  EXPECT_EQ(parse_iso8601("2026-11-24T10:15:30Z"), parse_iso8601("2026-11-24T10:15:30.000Z"));
  EXPECT_FALSE(parse_iso8601("2026-11-24 10:15:30.000Z"));
  EXPECT_FALSE(parse_iso8601("2026-11-24T10:15:30.000"));
  EXPECT_FALSE(parse_iso8601("2026-13-24T10:15:30.000Z"));
  EXPECT_FALSE(parse_iso8601(""));
}

TEST(ClusterCodec, DirectoryRecordRoundTrip) {
  domain::SessionSnapshot r;
  r.session_id = "s1";
  r.spec.host_user_id = "a";
  r.spec.participants = {{"a", "Alice \"A\""}, {"b", ""}};
  r.spec.duration = 90s;
  r.status = domain::Status::ended;
  r.created_at = domain::WallTime(std::chrono::milliseconds(1'795'000'000'000));
  r.started_at = r.created_at + 5s;
  r.ended_at = r.created_at + 95s;
  r.end_reason = domain::EndReason::completed;
  auto fields = fields_of_record(r);
  fields.emplace_back("joinSeq", "17");
  std::uint64_t seq = 0;
  const auto back = record_from_fields("s1", fields, domain::WallTime{}, &seq);
  ASSERT_TRUE(back);
  EXPECT_EQ(seq, 17U);
  EXPECT_EQ(back->spec.host_user_id, "a");
  ASSERT_EQ(back->spec.participants.size(), 2U);
  EXPECT_EQ(back->spec.participants[0].display_name, "Alice \"A\"");
  EXPECT_EQ(back->spec.duration, 90s);
  EXPECT_EQ(back->status, domain::Status::ended);
  EXPECT_EQ(back->created_at, r.created_at);
  EXPECT_EQ(back->started_at, r.started_at);
  EXPECT_EQ(back->ended_at, r.ended_at);
  EXPECT_EQ(back->end_reason, domain::EndReason::completed);
}

TEST(ClusterCodec, IceTransportPolicyRoundTripAndBadValue) {
  domain::SessionSnapshot r;
  r.spec.host_user_id = "a";
  r.spec.participants = {{"a", ""}};
  r.created_at = domain::WallTime(std::chrono::milliseconds(1'795'000'000'000));
  EXPECT_FALSE(
      record_from_fields("s1", fields_of_record(r), domain::WallTime{}, nullptr)->spec.ice_transport_policy);
  r.spec.ice_transport_policy = domain::IceTransportPolicy::relay;
  const auto back = record_from_fields("s1", fields_of_record(r), domain::WallTime{}, nullptr);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->spec.ice_transport_policy, domain::IceTransportPolicy::relay);
  auto fields = fields_of_record(r);
  for (auto& [k, v] : fields) {
    if (k == "iceTransportPolicy") v = "sometimes";
  }
  std::string why;
  EXPECT_FALSE(record_from_fields("s1", fields, domain::WallTime{}, nullptr, &why));
  EXPECT_NE(why.find("iceTransportPolicy"), std::string::npos);
}

TEST(ClusterCodec, AMinimalEntryWrittenByThePlatform) {
  const Fields f{{"hostUserId", "a"}, {"participants", R"([{"userId":"a"}])"}};
  const auto now = domain::WallTime(std::chrono::seconds(1'795'000'000));
  const auto r = record_from_fields("s1", f, now);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, domain::Status::waiting);
  EXPECT_EQ(r->created_at, now);
  EXPECT_EQ(r->spec.participants[0].display_name, "");
  EXPECT_FALSE(record_from_fields("s1", {{"hostUserId", "a"}}, now)) << "no participants";
  EXPECT_FALSE(record_from_fields("s1", {{"participants", "{}"}}, now)) << "not an array";
}

TEST(ClusterCodec, RosterIsInJoinOrderWithDisplayNames) {
  const Fields ws{{"b", "n2:1"}, {"a", "n1:4"}, {"c", "n1:5"}};
  const Fields peers{{"a", "3|Alice|x"}, {"b", "7|Bob"}};
  const auto roster = roster_from(ws, peers);
  ASSERT_EQ(roster.size(), 3U);
  EXPECT_EQ(roster[0].identity.user_id, "c");  // unknown seq: 0, first
  EXPECT_EQ(roster[0].identity.display_name, "c");
  EXPECT_EQ(roster[1].identity.display_name, "Alice|x");
  EXPECT_EQ(roster[1].seq, 3U);
  EXPECT_EQ(roster[2].connection_id, "n2:1");
  EXPECT_EQ(peer_value(12, "Zoé"), "12|Zoé");
}

TEST(ClusterCodec, Events) {
  const auto j = decode_event(encode_joined({{"u1", "Ünï \"q\""}, "n1:3", 9}));
  ASSERT_TRUE(j);
  EXPECT_EQ(j->kind, Event::Kind::joined);
  EXPECT_EQ(j->member.identity.display_name, "Ünï \"q\"");
  EXPECT_EQ(j->member.connection_id, "n1:3");
  EXPECT_EQ(j->member.seq, 9U);
  const auto l = decode_event(encode_left("u1", "n1:3"));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->kind, Event::Kind::left);
  EXPECT_EQ(decode_event(encode_changed())->kind, Event::Kind::changed);
  EXPECT_EQ(decode_event(encode_deleted())->kind, Event::Kind::deleted);
  EXPECT_FALSE(decode_event("not json"));
  EXPECT_FALSE(decode_event(R"({"e":"left","userId":"u1"})")) << "no connection";
  EXPECT_FALSE(decode_event(R"({"e":"other"})"));
}

TEST(ClusterCodec, RelayFramesAreBinarySafe) {
  using namespace std::string_literals;
  const std::string payload = "{\"type\":\"offer\",\"sdp\":\"a:b\\r\\n\0x\"}"s;
  ASSERT_EQ(payload.size(), 34U);
  const auto frame = encode_relay("s:1", "n1:42", "u:7", payload);
  const auto r = decode_relay(frame);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->session_id, "s:1");
  EXPECT_EQ(r->connection_id, "n1:42");
  EXPECT_EQ(r->from_user_id, "u:7");
  EXPECT_EQ(r->payload, payload);
  EXPECT_FALSE(decode_relay("5:ab"));
  EXPECT_FALSE(decode_relay("x:ab"));
  EXPECT_FALSE(decode_relay("2:ab3:n:12:u1"));  // no payload
  EXPECT_FALSE(decode_relay("2:ab3:n:1{}"));    // no sender field
  EXPECT_TRUE(decode_relay("2:ab3:n:10:{}"));   // an empty sender is allowed (a forwarded message)
}

TEST(ClusterCodec, ResumeEvents) {
  const auto joined = decode_event(encode_joined({{"u1", "Ann"}, "n2:5", 3}, true));
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->kind, Event::Kind::joined);
  EXPECT_TRUE(joined->resumed);
  EXPECT_EQ(joined->member.seq, 3U);
  EXPECT_FALSE(decode_event(encode_joined({{"u1", "Ann"}, "n2:5", 3}))->resumed);
  const auto lost = decode_event(encode_reconnecting("u1", "n1:4"));
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->kind, Event::Kind::reconnecting);
  EXPECT_EQ(lost->member.identity.user_id, "u1");
  EXPECT_EQ(lost->member.connection_id, "n1:4");
  EXPECT_FALSE(decode_event(R"({"e":"reconnecting","userId":"u1"})")) << "no connection";
  EXPECT_FALSE(decode_event(R"({"e":"joined","userId":"u1","connection":"n:1","resumed":"yes"})")->resumed);
}

// Issue 9, points 3 and 5: what Redis holds may have been written by anyone.
TEST(ClusterCodec, StoredTimeStampsOutsideTheYears2000To2199AreRefused) {
  EXPECT_TRUE(parse_iso8601("2000-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_iso8601("2199-12-31T23:59:59.999Z"));
  EXPECT_FALSE(parse_iso8601("1999-12-31T23:59:59Z"));
  EXPECT_FALSE(parse_iso8601("2200-01-01T00:00:00Z"));
  EXPECT_FALSE(parse_iso8601("9999-12-31T23:59:59Z")) << "used to wrap around (64-bit nanoseconds)";
  EXPECT_FALSE(parse_iso8601("0000-01-01T00:00:00Z"));
}

TEST(ClusterCodec, ARecordWithABadValueIsSkippedWithAReason) {
  const auto now = domain::WallTime(std::chrono::seconds(1'795'000'000));
  const Fields good{{"hostUserId", "a"},
                    {"participants", R"([{"userId":"a","displayName":"Zoë"}])"},
                    {"durationSeconds", "604800"},
                    {"createdAt", "2026-11-24T10:00:00.000Z"}};
  std::string why;
  ASSERT_TRUE(record_from_fields("s1", good, now, nullptr, &why));
  EXPECT_EQ(why, "");
  const auto with = [&](std::string name, std::string value) {
    Fields f = good;
    bool replaced = false;
    for (auto& [k, v] : f) {
      if (k == name) {
        v = value;
        replaced = true;
      }
    }
    if (!replaced) f.emplace_back(name, value);
    return f;
  };
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"hostUserId", "a\xFF"},
                                                        {"participants", "[{\"userId\":\"a\xC0\xAF\"}]"},
                                                        {"participants", R"([{"userId":"\udc00"}])"},
                                                        {"durationSeconds", "604801"},
                                                        {"durationSeconds", "9300000000"},
                                                        {"durationSeconds", "-1"},
                                                        {"durationSeconds", "1h"},
                                                        {"createdAt", "9999-01-01T00:00:00.000Z"},
                                                        {"createdAt", "yesterday"},
                                                        {"startedAt", "1970-01-01T00:00:00Z"},
                                                        {"endedAt", "2300-01-01T00:00:00Z"}}) {
    why.clear();
    EXPECT_FALSE(record_from_fields("s1", with(name, value), now, nullptr, &why)) << name;
    EXPECT_FALSE(why.empty()) << name;
    EXPECT_TRUE(sig::utf8::valid(why)) << name;
  }
  EXPECT_FALSE(record_from_fields("s\xFF", good, now, nullptr, &why));
  EXPECT_EQ(why, "the session id is not valid UTF-8");
}

TEST(ClusterCodec, RosterEntriesThatAreNotUtf8AreSkippedAndTheOthersKept) {
  const Fields ws{{"a", "n1:1"}, {"b\xFF", "n1:2"}, {"c", "n1:\xC0\xAF"}, {"d", "n2:1"}, {"", "n2:2"}};
  const Fields peers{{"a", "1|Alice"}, {"d", "4|D\xED\xA0\x80"}};
  std::vector<std::string> skipped;
  const auto roster = roster_from(ws, peers, &skipped);
  ASSERT_EQ(roster.size(), 1U);
  EXPECT_EQ(roster[0].identity.user_id, "a");
  ASSERT_EQ(skipped.size(), 4U);
  for (const auto& s : skipped)
    EXPECT_TRUE(sig::utf8::valid(s)) << s;
  EXPECT_EQ(skipped[0].rfind("b\\xFF: ", 0), 0U) << skipped[0];
}

TEST(ClusterCodec, EventsAndRelaysNeverYieldInvalidUtf8) {
  // nlohmann's parser refuses invalid bytes and lone surrogate escapes in an event.
  EXPECT_FALSE(decode_event("{\"e\":\"joined\",\"userId\":\"u\xFF\",\"connection\":\"n:1\"}"));
  EXPECT_FALSE(decode_event(R"({"e":"joined","userId":"u","displayName":"\ud800","connection":"n:1"})"));
  const auto ok =
      decode_event(R"({"e":"joined","userId":"u","displayName":"\ud83c\udf89","connection":"n:1"})");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(sig::utf8::valid(ok->member.identity.display_name));
  // A relayed payload goes to a browser in a text frame.
  EXPECT_FALSE(decode_relay(encode_relay("s", "n1:1", "u", "{\"sdp\":\"\xFF\"}")));
  EXPECT_FALSE(decode_relay(encode_relay("s\xC0", "n1:1", "u", "{}")));
  EXPECT_FALSE(decode_relay(encode_relay("s", "n1:\xED\xA0\x80", "u", "{}")));
  EXPECT_FALSE(decode_relay(encode_relay("s", "n1:1", "u\xFF", "{}")));
  EXPECT_TRUE(decode_relay(encode_relay("sé", "n1:1", "u", "{\"n\":\"🎉\"}")));
  // Encoding what came from outside never throws, whatever the bytes.
  EXPECT_NO_THROW((void)encode_left("u\xFF", "n:1"));
  EXPECT_NO_THROW((void)encode_joined({{"u", "\xC0\xAF"}, "n:1", 1}));
  EXPECT_NO_THROW((void)participants_json({{"\xFF", "\xFE"}}));
}

namespace {
redis::Reply integer(std::int64_t v) {
  return redis::Reply::integer_reply(v);
}
redis::Reply text(std::string v) {
  return redis::Reply::string_reply(std::move(v));
}
redis::Reply array(std::vector<redis::Reply> v) {
  redis::Reply r;
  r.type = redis::Reply::Type::array;
  r.elements = std::move(v);
  return r;
}
constexpr std::int64_t kT0 = 1'795'000'000'000;
domain::WallTime at_ms(std::int64_t ms) {
  return domain::WallTime(std::chrono::milliseconds(ms));
}
}  // namespace

TEST(ClusterReplies, AttendanceEntriesParseAndRoundTrip) {
  const auto r = parse_attendance(
      "u1", R"({"n":"Ann","f":1795000000000,"l":false,"c":2,"t":1500,"s":1795000001000,"r":false})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user_id, "u1");
  EXPECT_EQ(r->display_name, "Ann");
  EXPECT_EQ(r->first_joined, at_ms(kT0));
  EXPECT_FALSE(r->last_left);
  EXPECT_EQ(r->connections, 2U);
  EXPECT_EQ(r->connected, 1500ms);
  EXPECT_EQ(r->connected_since, at_ms(kT0 + 1000));
  const auto back = parse_attendance("u1", attendance_json(*r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->connected_since, r->connected_since);
  EXPECT_EQ(back->connected, r->connected);
  // cjson may write a large integer in exponent form.
  EXPECT_EQ(parse_attendance("u1", R"({"f":1.795e+12,"c":1,"t":0})")->first_joined, at_ms(kT0));
  EXPECT_EQ(parse_attendance("u1", R"({"f":1795000000000})")->display_name, "u1") << "no name: the user id";
  for (const auto* bad : {"", "[]", "{}", R"({"f":"x"})", R"({"f":12})", R"({"f":1795000000000,"c":-1})",
                          R"({"f":1795000000000,"t":1.5})", R"({"f":1795000000000,"l":true})",
                          R"({"f":1795000000000,"s":99999999999999999})"}) {
    EXPECT_FALSE(parse_attendance("u1", bad)) << bad;
  }
  EXPECT_FALSE(parse_attendance("", R"({"f":1795000000000})"));
  EXPECT_FALSE(parse_attendance("\xff", R"({"f":1795000000000})"));
}

TEST(ClusterReplies, AttendanceHashInJoinOrderSkippingBadEntries) {
  std::vector<std::string> skipped;
  const auto list = attendance_from({{"b", R"({"f":1795000000500})"},
                                     {"a", R"({"f":1795000000500})"},
                                     {"z", R"({"f":1795000000000})"},
                                     {"bad", "nope"}},
                                    &skipped);
  ASSERT_EQ(list.size(), 3U);
  EXPECT_EQ(list[0].user_id, "z");
  EXPECT_EQ(list[1].user_id, "a");
  EXPECT_EQ(list[2].user_id, "b");
  EXPECT_EQ(skipped.size(), 1U);
}

TEST(ClusterReplies, LeaveLostEndAndRestoreRepliesDecode) {
  auto leave = decode_leave(array({integer(1), text("Ann"), integer(kT0)}));
  ASSERT_TRUE(leave);
  EXPECT_TRUE(leave->removed);
  EXPECT_EQ(leave->display_name, "Ann");
  EXPECT_EQ(leave->closed_at, at_ms(kT0));
  leave = decode_leave(array({integer(0), text(""), integer(0)}));
  EXPECT_FALSE(leave->removed);
  EXPECT_FALSE(leave->closed_at);
  EXPECT_TRUE(decode_leave(integer(1))->removed) << "the reply of the script before attendance";
  EXPECT_FALSE(decode_leave(array({integer(2), text(""), integer(0)})));
  EXPECT_FALSE(decode_leave(text("x")));
  EXPECT_EQ(decode_leave(array({integer(1), text("\xff"), integer(0)}))->display_name, "") << "not UTF-8";

  const auto lost = decode_lost(array({integer(1), text("Bob")}));
  ASSERT_TRUE(lost);
  EXPECT_TRUE(lost->changed);
  EXPECT_EQ(lost->display_name, "Bob");
  EXPECT_FALSE(decode_lost(integer(1)));

  EXPECT_FALSE(decode_end(array({integer(0)}))->changed);
  const auto end = decode_end(array(
      {integer(1),
       array({text("b"), text(R"({"n":"Bob","f":1795000001000,"l":1795000009000,"c":1,"t":8000,"s":false})"),
              text("a"), text(R"({"f":1795000000000,"l":1795000009000,"c":3,"t":9000})")}),
       array({text("b"), text("2|Bob"), text("a"), text("1|Ann")}), text("2026-11-24T10:00:00.000Z")}));
  ASSERT_TRUE(end && end->changed);
  ASSERT_EQ(end->attendance.size(), 2U);
  EXPECT_EQ(end->attendance[0].user_id, "a");
  EXPECT_EQ(end->attendance[0].connections, 3U);
  EXPECT_EQ(end->attendance[1].connected, 8000ms);
  ASSERT_EQ(end->present.size(), 2U);
  EXPECT_EQ(end->present[0].identity.display_name, "Ann") << "by seq";
  EXPECT_EQ(end->started_at, parse_iso8601("2026-11-24T10:00:00.000Z"));
  EXPECT_FALSE(decode_end(array({integer(1), text("x")}))) << "malformed";
  EXPECT_FALSE(decode_end(integer(1)));

  const auto restore =
      decode_restore(array({integer(1), array({text("a")}), array({text("b"), text("\xff")})}));
  ASSERT_TRUE(restore && restore->applied);
  EXPECT_EQ(restore->resumed, std::vector<std::string>{"a"});
  EXPECT_EQ(restore->rejoined, std::vector<std::string>{"b"}) << "not UTF-8: skipped";
  EXPECT_FALSE(decode_restore(array({integer(0)}))->applied);
}
