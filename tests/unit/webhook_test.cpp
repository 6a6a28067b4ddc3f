// The pure parts of the webhook sender (src/webhook): signatures against the Standard Webhooks
// reference vector, the JSON envelope, the bounded per-session-ordered queue, the backoff.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "webhook/backoff.hpp"
#include "webhook/envelope.hpp"
#include "webhook/queue.hpp"
#include "webhook/signing.hpp"

namespace {

using namespace sig::webhook;
using sig::domain::EventType;
using sig::domain::PlatformEvent;
using std::chrono::milliseconds;

sig::domain::WallTime at_ms(std::int64_t ms) {
  return sig::domain::WallTime(milliseconds(ms));
}

TEST(WebhookSigning, MatchesTheStandardWebhooksReferenceVector) {
  // The test vector published with the Standard Webhooks libraries.
  const auto key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->size(), 24U);
  EXPECT_EQ(sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // One byte of the body, id or timestamp changed: another signature.
  EXPECT_NE(sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232315})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  EXPECT_NE(sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSigning, SecretsAreCheckedFailClosed) {
  std::string why;
  EXPECT_FALSE(parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &why));
  EXPECT_NE(why.find("whsec_"), std::string::npos);
  EXPECT_FALSE(parse_secret("whsec_not base64!", &why));
  EXPECT_FALSE(parse_secret("whsec_c2hvcnQ=", &why));  // "short": 5 bytes
  EXPECT_NE(why.find("16 bytes"), std::string::npos);
  EXPECT_FALSE(parse_secret("whsec_", &why));
  EXPECT_TRUE(parse_secret("whsec_" + base64_encode(std::string(16, 'k'))));
  EXPECT_TRUE(parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=="));  // padding tolerated
}

TEST(WebhookSigning, Base64RoundTripsAndIdsAreUnique) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar",
                                                       std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  const auto a = new_message_id();
  const auto b = new_message_id();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("msg_", 0), 0U);
  EXPECT_EQ(a.size(), 4U + 24U);
  EXPECT_EQ(a.find_first_of("+/="), std::string::npos);
}

TEST(WebhookEnvelope, ParticipantEvents) {
  PlatformEvent e;
  e.type = EventType::participant_left;
  e.session_id = "s-1";
  e.at = at_ms(1'790'000'000'123);
  e.user_id = "u\"1";
  e.display_name = "Ada";
  e.left_reason = sig::domain::LeftReason::heartbeat_timeout;
  const auto j = nlohmann::json::parse(envelope_json(e));
  EXPECT_EQ(j["type"], "participant.left");
  EXPECT_EQ(j["timestamp"], "2026-09-21T14:13:20.123Z");
  EXPECT_EQ(j["data"], (nlohmann::json{{"sessionId", "s-1"},
                                       {"userId", "u\"1"},
                                       {"displayName", "Ada"},
                                       {"reason", "heartbeat_timeout"}}));
  EXPECT_FALSE(j.contains("droppedBefore"));
  EXPECT_EQ(nlohmann::json::parse(envelope_json(e, 3))["droppedBefore"], 3);
  for (auto [type, name] : {std::pair{EventType::participant_joined, "participant.joined"},
                            std::pair{EventType::participant_reconnecting, "participant.reconnecting"},
                            std::pair{EventType::participant_reconnected, "participant.reconnected"}}) {
    e.type = type;
    const auto k = nlohmann::json::parse(envelope_json(e));
    EXPECT_EQ(k["type"], name);
    EXPECT_EQ(k["data"].size(), 3U) << k.dump();
  }
}

TEST(WebhookEnvelope, SessionEventsAndAttendance) {
  PlatformEvent s;
  s.type = EventType::session_started;
  s.session_id = "s-1";
  s.at = at_ms(1'000);
  s.started_at = at_ms(1'000);
  auto j = nlohmann::json::parse(envelope_json(s));
  EXPECT_EQ(j["data"], (nlohmann::json{{"sessionId", "s-1"}, {"startedAt", "1970-01-01T00:00:01.000Z"}}));

  PlatformEvent e;
  e.type = EventType::session_ended;
  e.session_id = "s-1";
  e.at = at_ms(100'000);
  e.end_reason = "timeout";
  e.ended_at = at_ms(100'000);
  sig::domain::AttendanceRecord gone{"u1", "Ada", at_ms(2'000), at_ms(14'345), 2, milliseconds(12'345), {}};
  sig::domain::AttendanceRecord here{"u2", "Bob",           at_ms(50'000), std::nullopt,
                                     1,    milliseconds(0), at_ms(90'000)};
  e.attendance = {gone, here};
  j = nlohmann::json::parse(envelope_json(e));
  EXPECT_EQ(j["type"], "session.ended");
  EXPECT_EQ(j["data"]["reason"], "timeout");
  EXPECT_TRUE(j["data"]["startedAt"].is_null());  // never started
  EXPECT_EQ(j["data"]["endedAt"], "1970-01-01T00:01:40.000Z");
  ASSERT_EQ(j["data"]["attendance"].size(), 2U);
  const auto& a = j["data"]["attendance"][0];
  EXPECT_EQ(a, (nlohmann::json{{"userId", "u1"},
                               {"displayName", "Ada"},
                               {"firstJoinedAt", "1970-01-01T00:00:02.000Z"},
                               {"lastLeftAt", "1970-01-01T00:00:14.345Z"},
                               {"connections", 2},
                               {"connectedSeconds", 12.345},
                               {"connected", false}}));
  EXPECT_NE(envelope_json(e).find("\"connectedSeconds\":12.345"), std::string::npos);
  const auto& b = j["data"]["attendance"][1];
  EXPECT_TRUE(b["lastLeftAt"].is_null());
  EXPECT_EQ(b["connected"], true);
  EXPECT_EQ(b["connectedSeconds"], 10.0);  // the open interval up to the event
}

PlatformEvent event_of(const std::string& session, int n) {
  PlatformEvent e;
  e.type = EventType::participant_joined;
  e.session_id = session;
  e.user_id = "u" + std::to_string(n);
  return e;
}

TEST(WebhookQueue, OneEventOutPerSessionInOrderOthersConcurrently) {
  TargetQueue q(100, 10);
  const auto now = std::chrono::steady_clock::now();
  q.push(event_of("a", 1), now);
  q.push(event_of("a", 2), now);
  q.push(event_of("b", 3), now);
  QueuedEvent* first = q.take();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->event.user_id, "u1");
  const auto seq_a1 = first->seq;
  QueuedEvent* second = q.take();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->event.user_id, "u3");  // a's second waits for its first
  const auto seq_b = second->seq;
  EXPECT_EQ(q.take(), nullptr);
  q.finish(seq_b, TargetQueue::End::delivered);
  EXPECT_EQ(q.take(), nullptr);  // still a's first out (say, waiting for a retry)
  q.finish(seq_a1, TargetQueue::End::delivered);
  QueuedEvent* third = q.take();
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->event.user_id, "u2");
  EXPECT_EQ(q.out(), 1U);
}

TEST(WebhookQueue, TheInFlightBoundHolds) {
  TargetQueue q(100, 2);
  const auto now = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i)
    q.push(event_of("s" + std::to_string(i), i), now);
  EXPECT_NE(q.take(), nullptr);
  EXPECT_NE(q.take(), nullptr);
  EXPECT_EQ(q.take(), nullptr);
}

TEST(WebhookQueue, AFullQueueDropsTheOldestAndTheNextDeliveryCountsThem) {
  TargetQueue q(3, 10);
  const auto now = std::chrono::steady_clock::now();
  for (int i = 1; i <= 3; ++i)
    EXPECT_FALSE(q.push(event_of("s" + std::to_string(i), i), now));
  EXPECT_TRUE(q.push(event_of("s4", 4), now));
  EXPECT_TRUE(q.push(event_of("s5", 5), now));
  EXPECT_EQ(q.size(), 3U);
  QueuedEvent* e = q.take();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->event.user_id, "u3");  // u1 and u2 were dropped
  EXPECT_EQ(q.claim_dropped(), 2U);
  e->dropped_before = 2;
  const auto seq = e->seq;
  // Refused by the receiver: the count goes back for the next one to announce.
  q.finish(seq, TargetQueue::End::rejected);
  EXPECT_EQ(q.dropped_pending(), 2U);
  e = q.take();
  ASSERT_NE(e, nullptr);
  e->dropped_before = q.claim_dropped();
  EXPECT_EQ(e->dropped_before, 2U);
  q.finish(e->seq, TargetQueue::End::delivered);
  EXPECT_EQ(q.dropped_pending(), 0U);
  // Too old: dropped and counted too.
  e = q.take();
  ASSERT_NE(e, nullptr);
  q.finish(e->seq, TargetQueue::End::expired);
  EXPECT_EQ(q.dropped_pending(), 1U);
  EXPECT_EQ(q.size(), 0U);
}

TEST(WebhookQueue, AnEventDroppedOnTheWireStillHoldsItsSessionUntilItsAttemptEnds) {
  TargetQueue q(1, 10);
  const auto now = std::chrono::steady_clock::now();
  q.push(event_of("a", 1), now);
  QueuedEvent* e = q.take();
  ASSERT_NE(e, nullptr);
  e->sending = true;
  const auto seq = e->seq;
  EXPECT_TRUE(q.push(event_of("a", 2), now));  // drops u1, which is on the wire
  EXPECT_EQ(q.find(seq), nullptr);
  EXPECT_EQ(q.take(), nullptr);  // u2 must not overtake u1
  q.finish(seq, TargetQueue::End::rejected);
  e = q.take();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->event.user_id, "u2");
  EXPECT_EQ(q.claim_dropped(), 1U);
}

TEST(WebhookQueue, AnEventDroppedWhileWaitingForARetryFreesItsSessionAtOnce) {
  TargetQueue q(1, 10);
  const auto now = std::chrono::steady_clock::now();
  q.push(event_of("a", 1), now);
  ASSERT_NE(q.take(), nullptr);  // out, not sending: waiting for its retry
  EXPECT_TRUE(q.push(event_of("a", 2), now));
  QueuedEvent* e = q.take();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->event.user_id, "u2");
  EXPECT_EQ(q.out(), 1U);
}

TEST(WebhookBackoff, GrowsExponentiallyWithinBoundsWithFullJitter) {
  const milliseconds min(500);
  const milliseconds max(300'000);
  EXPECT_EQ(backoff_delay(1, min, max, 0.99), min);  // the first retry waits the floor
  EXPECT_EQ(backoff_delay(2, min, max, 0.0), min);
  EXPECT_EQ(backoff_delay(2, min, max, 0.5), milliseconds(750));
  EXPECT_EQ(backoff_delay(4, min, max, 0.5), milliseconds(2'250));  // cap 4 s
  EXPECT_EQ(backoff_delay(1000, min, max, 0.999999), milliseconds(299'999));
  EXPECT_LE(backoff_delay(1000, min, max, 1.0), max);
  EXPECT_EQ(backoff_delay(3, milliseconds(10), milliseconds(5), 0.5), milliseconds(10));  // max < min
}

TEST(WebhookBackoff, WhatIsRetried) {
  EXPECT_EQ(classify({}, 200), Verdict::delivered);
  EXPECT_EQ(classify({}, 204), Verdict::delivered);
  EXPECT_EQ(classify(std::make_error_code(std::errc::timed_out), 0), Verdict::retry);
  EXPECT_EQ(classify(std::make_error_code(std::errc::connection_refused), 0), Verdict::retry);
  for (unsigned s : {500U, 502U, 503U, 408U, 429U})
    EXPECT_EQ(classify({}, s), Verdict::retry) << s;
  for (unsigned s : {400U, 401U, 404U, 410U, 301U})
    EXPECT_EQ(classify({}, s), Verdict::reject) << s;
  EXPECT_EQ(parse_retry_after(" 7 "), milliseconds(7'000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_retry_after(""), std::nullopt);
}

}  // namespace
