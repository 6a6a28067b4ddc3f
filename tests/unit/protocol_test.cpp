#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/duration.hpp"
#include "protocol/client_message.hpp"
#include "protocol/query.hpp"
#include "protocol/server_messages.hpp"

using namespace sig::protocol;
using nlohmann::json;

namespace {

struct Parsed {
  std::optional<ParseError> error;
  ClientMessage message;
  std::string to;  // copied: the view dies with the next parse
};

Parsed parse(std::string_view text) {
  static MessageParser parser;
  Parsed p;
  p.error = parser.parse_copy(text, p.message);
  p.to = std::string(p.message.to_user_id);
  return p;
}

void expect_error(std::string_view text, ErrorCode code) {
  const auto p = parse(text);
  ASSERT_TRUE(p.error.has_value()) << text;
  EXPECT_EQ(p.error->code, code) << text << ": " << p.error->detail;
  EXPECT_FALSE(p.error->detail.empty());
}

}  // namespace

TEST(ClientMessage, ParsesOffer) {
  const auto p = parse(R"({"type":"offer","toUserId":"u1","sdp":"v=0\r\n"})");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.message.type, MessageType::offer);
  EXPECT_EQ(p.to, "u1");
}

TEST(ClientMessage, ParsesAnswerAndCandidate) {
  auto p = parse(R"({"type":"answer","toUserId":"u2","sdp":"x"})");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.message.type, MessageType::answer);
  p = parse(R"({"type":"ice-candidate","toUserId":"u3","candidate":{"candidate":"c","sdpMid":"0"}})");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.message.type, MessageType::ice_candidate);
  EXPECT_EQ(p.to, "u3");
}

TEST(ClientMessage, ParsesControlMessages) {
  EXPECT_EQ(parse(R"({"type":"start-session"})").message.type, MessageType::start_session);
  EXPECT_EQ(parse(R"({"type":"end-session"})").message.type, MessageType::end_session);
  EXPECT_EQ(parse(R"({"type":"leave"})").message.type, MessageType::leave);
  const auto hb = parse(R"({"type":"heartbeat","ts":1732443330123})");
  ASSERT_FALSE(hb.error);
  ASSERT_TRUE(hb.message.ts.has_value());
  EXPECT_DOUBLE_EQ(*hb.message.ts, 1732443330123.0);
  EXPECT_FALSE(parse(R"({"type":"heartbeat"})").message.ts.has_value());
  EXPECT_FALSE(parse(R"({"type":"heartbeat","ts":"x"})").message.ts.has_value());
}

TEST(ClientMessage, ExtraFieldsAreAllowed) {
  EXPECT_FALSE(parse(R"({"type":"offer","toUserId":"u1","sdp":"x","extra":{"a":[1,2]}})").error);
}

TEST(ClientMessage, RejectsMalformedJson) {
  expect_error("{bad", ErrorCode::invalid_json);
  expect_error("", ErrorCode::invalid_json);
  expect_error(R"({"type":"offer",})", ErrorCode::invalid_json);
  expect_error("{\"type\":\"offer\",\"sdp\":\"\xff\"}", ErrorCode::invalid_json);  // not UTF-8
}

TEST(ClientMessage, RejectsNonObjects) {
  expect_error("[1]", ErrorCode::invalid_message);
  expect_error("\"x\"", ErrorCode::invalid_message);
  expect_error("3", ErrorCode::invalid_message);
  expect_error("null", ErrorCode::invalid_message);
}

TEST(ClientMessage, RejectsMissingOrWrongType) {
  expect_error(R"({})", ErrorCode::invalid_message);
  expect_error(R"({"type":3})", ErrorCode::invalid_message);
  expect_error(R"({"type":"dance"})", ErrorCode::unknown_type);
}

TEST(ClientMessage, RejectsBadRelayFields) {
  expect_error(R"({"type":"offer","sdp":"x"})", ErrorCode::invalid_message);
  expect_error(R"({"type":"offer","toUserId":"","sdp":"x"})", ErrorCode::invalid_message);
  expect_error(R"({"type":"offer","toUserId":7,"sdp":"x"})", ErrorCode::invalid_message);
  expect_error(R"({"type":"offer","toUserId":"u"})", ErrorCode::invalid_message);
  expect_error(R"({"type":"answer","toUserId":"u","sdp":5})", ErrorCode::invalid_message);
  expect_error(R"({"type":"answer","toUserId":"u","sdp":""})", ErrorCode::invalid_message);
  expect_error(R"({"type":"ice-candidate","toUserId":"u"})", ErrorCode::invalid_message);
  expect_error(R"({"type":"ice-candidate","toUserId":"u","candidate":"c"})", ErrorCode::invalid_message);
  expect_error(R"({"type":"ice-candidate","toUserId":"u","candidate":null})", ErrorCode::invalid_message);
  expect_error(R"({"type":"offer","toUserId":")" + std::string(257, 'x') + R"(","sdp":"x"})",
               ErrorCode::invalid_message);
}

TEST(ClientMessage, RefusesClientFromUserId) {
  expect_error(R"({"type":"offer","toUserId":"u","sdp":"x","fromUserId":"someone"})",
               ErrorCode::invalid_message);
}

TEST(ClientMessage, RefusesDuplicateRoutingFields) {
  expect_error(R"({"type":"offer","toUserId":"a","toUserId":"b","sdp":"x"})", ErrorCode::invalid_message);
  expect_error(R"({"type":"offer","type":"answer","toUserId":"a","sdp":"x"})", ErrorCode::invalid_message);
}

TEST(ServerMessages, RelayedAddsFromUserIdAndKeepsThePayload) {
  const std::string in =
      "{\"type\":\"offer\",\"toUserId\":\"u1\",\"sdp\":\"v=0\\r\\n\\u00e9\",\"x\":[1]}  \n";
  const auto out = relayed(in, from_user_suffix("u\"3"));
  EXPECT_EQ(out,
            "{\"type\":\"offer\",\"toUserId\":\"u1\",\"sdp\":\"v=0\\r\\n\\u00e9\",\"x\":[1],\"fromUserId\":"
            "\"u\\\"3\"}");
  const auto j = json::parse(out);
  EXPECT_EQ(j["fromUserId"], "u\"3");
  EXPECT_EQ(j["sdp"], "v=0\r\n\u00e9");
}

TEST(ServerMessages, ExactShapes) {
  EXPECT_EQ(participant_joined({"u1", "Alice"}),
            R"({"type":"participant-joined","participant":{"userId":"u1","displayName":"Alice"}})");
  EXPECT_EQ(participant_left("u1"), R"({"type":"participant-left","userId":"u1"})");
  EXPECT_EQ(session_started("2026-11-24T10:15:30.123Z"),
            R"({"type":"session-started","startedAt":"2026-11-24T10:15:30.123Z"})");
  EXPECT_EQ(session_ended("completed"), R"({"type":"session-ended","reason":"completed"})");
  EXPECT_EQ(heartbeat_ack(std::nullopt), R"({"type":"heartbeat-ack"})");
  EXPECT_EQ(heartbeat_ack(1732443330123.0), R"({"type":"heartbeat-ack","ts":1732443330123})");
  EXPECT_EQ(json::parse(heartbeat_ack(1.5))["ts"], 1.5);
  EXPECT_EQ(error(ErrorCode::target_not_connected, "m", "u9"),
            R"({"type":"error","code":"target_not_connected","message":"m","toUserId":"u9"})");
}

TEST(ServerMessages, JoinedListsPeersStatusAndHost) {
  const PeerRef peers[] = {{"u1", "Alice"}, {"u2", "Bob"}};
  JoinedInfo info;
  info.session_id = "s1";
  info.self = {"u3", "Carol"};
  info.participants = peers;
  info.host_user_id = "u1";
  info.started = true;
  info.started_at = "2026-11-24T10:15:30.123Z";
  info.heartbeat_interval_ms = 15000;
  const auto j = json::parse(joined(info));
  EXPECT_EQ(j, json::parse(R"({"type":"joined","sessionId":"s1","self":{"userId":"u3","displayName":"Carol"},
    "participants":[{"userId":"u1","displayName":"Alice"},{"userId":"u2","displayName":"Bob"}],
    "hostUserId":"u1","status":"started","startedAt":"2026-11-24T10:15:30.123Z","heartbeatIntervalMs":15000,
    "resumed":false})"));
  info.started = false;
  const auto waiting = json::parse(joined(info));
  EXPECT_EQ(waiting["status"], "waiting");
  EXPECT_FALSE(waiting.contains("startedAt"));
  EXPECT_FALSE(waiting.contains("resumeId"));
  info.resume_id = "r\"1";
  info.resumed = true;
  const auto resumed = json::parse(joined(info));
  EXPECT_EQ(resumed["resumeId"], "r\"1");
  EXPECT_EQ(resumed["resumed"], true);
}

// Found by fuzz_client_message: 1700000012000000122e3 was echoed as a 22-digit integer, which a
// parser that keeps integers exact (simdjson) refuses as a big integer.
TEST(ServerMessages, HeartbeatAckEchoesHugeNumbersInAParsableForm) {
  for (const double ts : {1.7000000120000002e21, 1e300, -4.5e17, 123456789012345678.0}) {
    const auto ack = json::parse(heartbeat_ack(ts));
    EXPECT_EQ(ack["ts"].get<double>(), ts);
    EXPECT_TRUE(ack["ts"].is_number_float()) << ack.dump();
  }
}

TEST(ServerMessages, ReconnectingAndReconnected) {
  EXPECT_EQ(json::parse(participant_reconnecting("u\"1")),
            json::parse(R"({"type":"participant-reconnecting","userId":"u\"1"})"));
  EXPECT_EQ(json::parse(participant_reconnected("u1")),
            json::parse(R"({"type":"participant-reconnected","userId":"u1"})"));
  EXPECT_EQ(json::parse(error(sig::protocol::ErrorCode::undelivered, "m", "u2"))["code"], "undelivered");
}

TEST(Query, FindsAndDecodesParameters) {
  const auto t = split_target("/ws/signaling?token=a.b.c&sessionId=s%201&x");
  EXPECT_EQ(t.path, "/ws/signaling");
  EXPECT_EQ(query_param(t.query, "token"), "a.b.c");
  EXPECT_EQ(query_param(t.query, "sessionId"), "s 1");
  EXPECT_EQ(query_param(t.query, "x"), "");
  EXPECT_FALSE(query_param(t.query, "missing").has_value());
  EXPECT_FALSE(query_param("a=%zz", "a").has_value());
  EXPECT_FALSE(query_param("a=%4", "a").has_value());
  EXPECT_EQ(query_param("a=1+2", "a"), "1 2");
}

TEST(Duration, ParsesUnits) {
  using std::chrono::milliseconds;
  EXPECT_EQ(sig::parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(sig::parse_duration("15s"), milliseconds(15000));
  EXPECT_EQ(sig::parse_duration("30"), milliseconds(30000));
  EXPECT_EQ(sig::parse_duration("2m"), milliseconds(120000));
  EXPECT_EQ(sig::parse_duration("1h"), milliseconds(3600000));
  EXPECT_EQ(sig::parse_duration("1.5s"), milliseconds(1500));
  EXPECT_FALSE(sig::parse_duration("").has_value());
  EXPECT_FALSE(sig::parse_duration("-1s").has_value());
  EXPECT_FALSE(sig::parse_duration("5 parsecs").has_value());
  EXPECT_FALSE(sig::parse_duration("ms").has_value());
}
