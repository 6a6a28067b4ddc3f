// The transport-facing service without a server: admission, dispatch, relay and errors.
#include <gtest/gtest.h>

#include "app/signaling_service.hpp"
#include "protocol/client_message.hpp"
#include "support/recording_endpoint.hpp"

using namespace sig;
using nlohmann::json;
using protocol::CloseCode;
using test_support::RecordingEndpoint;

namespace {

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest()
      : verifier(auth::VerifierOptions{}),
        signer(auth::Signer::hmac(auth::Algorithm::HS256, "secret")),
        hub(clock, domain::SessionSettings{}),
        service(hub, verifier, app::ServiceOptions{20, 40, {}}) {
    verifier.set_hmac_secret("secret");
    domain::SessionSpec spec;
    spec.host_user_id = "a";
    spec.participants = {{"a", "Alice"}, {"b", "Bob"}, {"c", "Carol"}};
    hub.put_session("s1", spec);
  }

  std::string token(const std::string& sub, long long exp_offset = 600) {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(clock.wall_now().time_since_epoch()).count();
    return signer.sign(json{{"sub", sub}, {"exp", now + exp_offset}}.dump());
  }

  struct Client {
    std::shared_ptr<RecordingEndpoint> ep = std::make_shared<RecordingEndpoint>();
    net::Admission admission;
  };

  Client open(const std::string& target) {
    Client c;
    service.open(target, c.ep, "n:" + std::to_string(++serial),
                 [&c](net::Admission a) { c.admission = std::move(a); });
    return c;
  }
  Client join(const std::string& user) {
    return open("/ws/signaling?token=" + token(user) + "&sessionId=s1");
  }

  void say(Client& c, std::string_view text) { service.on_text(*c.admission.state, *c.ep, padded(text)); }

  // The service may read kPadding bytes past the text, as the transport guarantees.
  std::string_view padded(std::string_view text) {
    buffer.assign(text);
    buffer.append(protocol::MessageParser::kPadding, ' ');
    return {buffer.data(), text.size()};
  }

  domain::ManualClock clock;
  auth::Verifier verifier;
  auth::Signer signer;
  domain::Hub hub;
  app::SignalingService service;
  std::string buffer;
  int serial = 0;
};

}  // namespace

TEST_F(ServiceTest, DevModeTokensJoinTheirSessionOnly) {
  // --dev: only_session set; a valid token for a listed user is refused on any other session.
  domain::SessionSpec spec;
  spec.host_user_id = "a";
  spec.participants = {{"a", "Alice"}};
  hub.put_session("demo", spec);
  app::SignalingService dev(hub, verifier, app::ServiceOptions{20, 40, "demo"});
  auto admit = [&](const std::string& session) {
    auto ep = std::make_shared<RecordingEndpoint>();
    net::Admission got;
    dev.open("/ws/signaling?token=" + token("a") + "&sessionId=" + session, ep,
             "n:" + std::to_string(++serial), [&got](net::Admission a) { got = std::move(a); });
    return got;
  };
  const auto other = admit("s1");
  EXPECT_EQ(other.state, nullptr);
  EXPECT_EQ(other.error, protocol::ErrorCode::invalid_token);
  EXPECT_NE(admit("demo").state, nullptr) << "the same token joins the dev session";
}

TEST_F(ServiceTest, RefusalsCarryTheirCodes) {
  EXPECT_EQ(open("/ws/signaling?token=" + token("a")).admission.error, protocol::ErrorCode::bad_request);
  EXPECT_EQ(open("/ws/signaling?sessionId=s1").admission.error, protocol::ErrorCode::invalid_token);
  EXPECT_EQ(open("/ws/signaling?token=x.y.z&sessionId=s1").admission.error,
            protocol::ErrorCode::invalid_token);
  EXPECT_EQ(open("/ws/signaling?token=" + token("a", -3600) + "&sessionId=s1").admission.error,
            protocol::ErrorCode::invalid_token);
  EXPECT_EQ(open("/ws/signaling?token=" + token("a") + "&sessionId=zz").admission.error,
            protocol::ErrorCode::session_not_found);
  EXPECT_EQ(open("/ws/signaling?token=" + token("zed") + "&sessionId=s1").admission.error,
            protocol::ErrorCode::not_participant);
  const auto refused = open("/ws/signaling?token=x.y.z&sessionId=s1");
  EXPECT_FALSE(refused.admission.state);
  EXPECT_EQ(refused.admission.message.find("x.y.z"), std::string::npos) << "the token is never echoed";
}

TEST_F(ServiceTest, RelaysWithFromUserIdAndTheSameBytes) {
  auto a = join("a");
  auto b = join("b");
  ASSERT_TRUE(a.admission.state && b.admission.state);
  a.ep->take();
  b.ep->take();
  const std::string offer = R"({"type":"offer","toUserId":"a","sdp":"v=0\r\n","extra":{"k":[1,"\u00e9"]}})";
  say(b, offer);
  const auto got = a.ep->messages();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0], offer.substr(0, offer.size() - 1) + R"(,"fromUserId":"b"})");
  EXPECT_TRUE(b.ep->messages().empty());
}

TEST_F(ServiceTest, RelayErrorsGoToTheSenderOnly) {
  auto a = join("a");
  auto b = join("b");
  a.ep->take();
  b.ep->take();
  say(b, R"({"type":"answer","toUserId":"c","sdp":"x"})");
  say(b, R"({"type":"answer","toUserId":"b","sdp":"x"})");
  say(b, R"({"type":"answer","toUserId":"a","sdp":"x","fromUserId":"c"})");
  const auto errors = b.ep->take();
  ASSERT_EQ(errors.size(), 3U);
  EXPECT_EQ(errors[0]["code"], "target_not_connected");
  EXPECT_EQ(errors[0]["toUserId"], "c");
  EXPECT_EQ(errors[1]["code"], "invalid_target");
  EXPECT_EQ(errors[2]["code"], "invalid_message");
  EXPECT_TRUE(a.ep->messages().empty());
}

TEST_F(ServiceTest, HeartbeatIsAnswered) {
  auto a = join("a");
  a.ep->take();
  say(a, R"({"type":"heartbeat","ts":42})");
  say(a, R"({"type":"heartbeat"})");
  EXPECT_EQ(a.ep->take(), (std::vector{json::parse(R"({"type":"heartbeat-ack","ts":42})"),
                                       json::parse(R"({"type":"heartbeat-ack"})")}));
}

TEST_F(ServiceTest, BadInputGetsAnErrorAndTheConnectionGoesOn) {
  auto a = join("a");
  a.ep->take();
  say(a, "{nope");
  say(a, "[1,2]");
  say(a, R"({"type":"moonwalk"})");
  service.on_binary(*a.admission.state, *a.ep);
  const auto errors = a.ep->take();
  ASSERT_EQ(errors.size(), 4U);
  EXPECT_EQ(errors[0]["code"], "invalid_json");
  EXPECT_EQ(errors[1]["code"], "invalid_message");
  EXPECT_EQ(errors[2]["code"], "unknown_type");
  EXPECT_EQ(errors[3]["code"], "binary_not_supported");
  EXPECT_FALSE(a.ep->closed());
}

TEST_F(ServiceTest, FloodIsDroppedThenClosed) {
  auto a = join("a");
  auto b = join("b");
  a.ep->take();
  b.ep->take();
  for (int i = 0; i < 100; ++i)
    say(b, R"({"type":"ice-candidate","toUserId":"a","candidate":{}})");
  EXPECT_EQ(a.ep->messages().size(), 40U) << "the burst passes, the rest is dropped";
  const auto warnings = b.ep->take();
  ASSERT_EQ(warnings.size(), 1U) << "one warning per second, not one per dropped message";
  EXPECT_EQ(warnings[0]["code"], "rate_limited");
  EXPECT_FALSE(b.ep->closed());
  for (int i = 0; i < 200; ++i)
    say(b, R"({"type":"heartbeat"})");
  EXPECT_EQ(b.ep->closed(), CloseCode::flood);
  EXPECT_EQ(a.ep->json().back(), json::parse(R"({"type":"participant-left","userId":"b"})"));
}

TEST_F(ServiceTest, LeaveAndClose) {
  auto a = join("a");
  auto b = join("b");
  a.ep->take();
  say(b, R"({"type":"leave"})");
  EXPECT_EQ(b.ep->closed(), CloseCode::normal);
  service.on_closed(*b.admission.state, net::Departure::clean);  // the socket then closes
  EXPECT_EQ(a.ep->take(), std::vector{json::parse(R"({"type":"participant-left","userId":"b"})")});
}

TEST_F(ServiceTest, HostControlsTheSession) {
  auto a = join("a");
  auto b = join("b");
  b.ep->take();
  say(b, R"({"type":"start-session"})");
  EXPECT_EQ(b.ep->take().at(0)["code"], "not_host");
  say(a, R"({"type":"start-session"})");
  EXPECT_EQ(b.ep->take().at(0)["type"], "session-started");
  say(a, R"({"type":"start-session"})");
  EXPECT_EQ(a.ep->json().back()["code"], "invalid_state");
  say(a, R"({"type":"end-session"})");
  EXPECT_EQ(b.ep->take().at(0), json::parse(R"({"type":"session-ended","reason":"host_ended"})"));
  EXPECT_EQ(b.ep->closed(), CloseCode::normal);
}
