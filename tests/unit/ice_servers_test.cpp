// TURN REST API credentials (against vectors computed independently), STUN/TURN URI checks,
// iceServers in `joined`, and the `ice-servers` refresh on the manual clock.
#include <gtest/gtest.h>

#include "auth/turn_credentials.hpp"
#include "domain/hub.hpp"
#include "domain/ice_servers.hpp"
#include "protocol/server_messages.hpp"
#include "support/recording_endpoint.hpp"

using namespace sig;
using namespace std::chrono_literals;
using test_support::RecordingEndpoint;

namespace {

// Vectors computed outside this code base, e.g.
//   printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac 's3cret' -binary | base64
//   node -e 'console.log(require("crypto").createHmac("sha1",S).update(U).digest("base64"))'
TEST(TurnCredentials, PasswordMatchesIndependentVectors) {
  EXPECT_EQ(auth::turn_password("s3cret", "1700000000:alice"), "TtElzSjT0GdnTQ9xdcRNxx96yQs=");
  EXPECT_EQ(auth::turn_password("turn-secret", "1790014400:u1"), "/2Vdrwgf7bM7cTkUhpcWBXzx+Ys=");
  EXPECT_EQ(auth::turn_password("", "0:"), "OMULkEY8i3k1y1l5jqF6MXE1eYs=");
  // A key longer than SHA-1's block (hashed first) and a UTF-8 user id.
  EXPECT_EQ(auth::turn_password(std::string(100, 'k'), "1790014400:\xc3\xa9l\xc3\xa8ve"),
            "rgsX/xyWevHU6BC2EhXLcgzZEiE=");
  // RFC 2202 test case 2 (HMAC-SHA1 effcdf6a...7c79), in base64.
  EXPECT_EQ(auth::turn_password("Jefe", "what do ya want for nothing?"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
}

TEST(TurnCredentials, UsernameIsExpiryColonUserId) {
  const auto c = auth::turn_credential("s3cret", 1'700'000'000, "alice");
  EXPECT_EQ(c.username, "1700000000:alice");
  EXPECT_EQ(c.credential, "TtElzSjT0GdnTQ9xdcRNxx96yQs=");
}

TEST(IceUri, AcceptsTheShapesOfRfc7064And7065) {
  for (const char* ok :
       {"turn:turn.example.org:3478?transport=udp", "turn:turn.example.org:3478?transport=tcp",
        "turns:turn.example.org:5349?transport=tcp", "turn:127.0.0.1", "turn:[::1]:3478",
        "turns:turn.example.org"}) {
    EXPECT_EQ(domain::check_ice_uri(ok, true), std::nullopt) << ok;
  }
  for (const char* ok : {"stun:stun.example.org:3478", "stun:127.0.0.1", "stuns:[2001:db8::1]:5349"}) {
    EXPECT_EQ(domain::check_ice_uri(ok, false), std::nullopt) << ok;
  }
}

TEST(IceUri, RefusesOtherShapes) {
  for (const char* bad : {"", "stun:x.org", "http://turn.example.org", "turn://turn.example.org:3478",
                          "turn:", "turn::3478", "turn:host:0", "turn:host:65536", "turn:host:34x8",
                          "turn:host:", "turn:host?transport=sctp", "turn:host:3478?transport=udp&x=1",
                          "turn:ho st", "turn:[::1", "turn:[zz::1]:3478", "turn:a\"b", "TURN:host"}) {
    EXPECT_NE(domain::check_ice_uri(bad, true), std::nullopt) << bad;
  }
  EXPECT_NE(domain::check_ice_uri("stun:host?transport=udp", false), std::nullopt);
  EXPECT_NE(domain::check_ice_uri("turn:host", false), std::nullopt);
  EXPECT_NE(domain::check_ice_uri("turn:" + std::string(600, 'a'), true), std::nullopt);
}

domain::IceSettings full_settings() {
  domain::IceSettings s;
  s.stun_uris = {"stun:stun.example.org:3478"};
  s.turn_uris = {"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"};
  s.turn_secret = "turn-secret";
  s.turn_ttl = 4h;
  return s;
}

TEST(IceServersJson, StunThenTurnWithCredentialsThatExpireAfterTheTtl) {
  const auto now = domain::WallTime{std::chrono::seconds{1'790'000'000}};
  const auto j = nlohmann::json::parse(domain::ice_servers_json(full_settings(), "u1", now));
  ASSERT_EQ(j.size(), 2U);
  EXPECT_EQ(j[0], nlohmann::json::parse(R"({"urls":["stun:stun.example.org:3478"]})"));
  EXPECT_EQ(
      j[1]["urls"],
      nlohmann::json::parse(
          R"(["turn:turn.example.org:3478?transport=udp","turns:turn.example.org:5349?transport=tcp"])"));
  EXPECT_EQ(j[1]["username"], "1790014400:u1");  // 1'790'000'000 + 4 h
  EXPECT_EQ(j[1]["credential"], "/2Vdrwgf7bM7cTkUhpcWBXzx+Ys=");
}

TEST(IceServersJson, OnlyWhatIsConfigured) {
  domain::IceSettings none;
  EXPECT_EQ(domain::ice_servers_json(none, "u1", {}), "");
  domain::IceSettings stun;
  stun.stun_uris = {"stun:a.org"};
  EXPECT_EQ(domain::ice_servers_json(stun, "u1", {}), R"([{"urls":["stun:a.org"]}])");
  EXPECT_EQ(stun.refresh_after(), 0ms);
  auto turn = full_settings();
  turn.stun_uris.clear();
  const auto j = nlohmann::json::parse(domain::ice_servers_json(turn, "a\"b", {}));
  ASSERT_EQ(j.size(), 1U);
  EXPECT_EQ(j[0]["username"], "14400:a\"b");
  EXPECT_EQ(turn.refresh_after(), 192min);  // 80 % of 4 h
}

TEST(ServerMessages, IceServersMessage) {
  const auto j = nlohmann::json::parse(protocol::ice_servers(R"([{"urls":["stun:a.org"]}])"));
  EXPECT_EQ(j, nlohmann::json::parse(R"({"type":"ice-servers","iceServers":[{"urls":["stun:a.org"]}]})"));
}

class IceSessionTest : public ::testing::Test {
 protected:
  domain::Hub make_hub(std::shared_ptr<const domain::IceSettings> ice) {
    domain::SessionSettings s;
    s.heartbeat_timeout = 24h;  // the participants and the session stay while the clock moves hours
    s.start_timeout = 720h;
    s.ice = std::move(ice);
    return {clock, s};
  }
  static domain::SessionSpec spec(std::optional<domain::IceTransportPolicy> policy = std::nullopt) {
    domain::SessionSpec sp;
    sp.host_user_id = "a";
    sp.participants = {{"a", "Alice"}, {"b", "Bob"}};
    sp.ice_transport_policy = policy;
    return sp;
  }
  domain::ManualClock clock;
};

TEST_F(IceSessionTest, JoinedCarriesFreshCredentialsAndThePolicy) {
  auto hub = make_hub(std::make_shared<domain::IceSettings>(full_settings()));
  ASSERT_TRUE(hub.put_session("s1", spec()).created);
  auto a = std::make_shared<RecordingEndpoint>();
  ASSERT_FALSE(hub.join("s1", {"a", ""}, "n:1", a).error);
  auto joined = a->take().at(0);
  EXPECT_EQ(joined["iceTransportPolicy"], "all");
  const auto expiry =
      std::chrono::duration_cast<std::chrono::seconds>((clock.wall_now() + 4h).time_since_epoch()).count();
  EXPECT_EQ(joined["iceServers"][1]["username"], std::to_string(expiry) + ":a");
  EXPECT_EQ(joined["iceServers"][1]["credential"],
            auth::turn_password("turn-secret", std::to_string(expiry) + ":a"));

  // A reconnection an hour later gets credentials of its own time.
  clock.advance(1h);
  auto a2 = std::make_shared<RecordingEndpoint>();
  ASSERT_FALSE(hub.join("s1", {"a", ""}, "n:2", a2).error);
  EXPECT_EQ(a2->take().at(0)["iceServers"][1]["username"], std::to_string(expiry + 3600) + ":a");
}

TEST_F(IceSessionTest, FreshCredentialsAtEightyPercentOfTheTtl) {
  auto hub = make_hub(std::make_shared<domain::IceSettings>(full_settings()));
  ASSERT_TRUE(hub.put_session("s1", spec()).created);
  auto a = std::make_shared<RecordingEndpoint>();
  ASSERT_FALSE(hub.join("s1", {"a", ""}, "n:1", a).error);
  clock.advance(2h);
  auto b = std::make_shared<RecordingEndpoint>();
  ASSERT_FALSE(hub.join("s1", {"b", ""}, "n:2", b).error);
  a->take();
  b->take();

  clock.advance(192min - 2h - 1s);  // a: 80 % of 4 h minus a second
  hub.tick(clock.now());
  EXPECT_TRUE(a->take().empty());
  clock.advance(1s);
  hub.tick(clock.now());
  auto got = a->take();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0]["type"], "ice-servers");
  const auto expiry =
      std::chrono::duration_cast<std::chrono::seconds>((clock.wall_now() + 4h).time_since_epoch()).count();
  EXPECT_EQ(got[0]["iceServers"][1]["username"], std::to_string(expiry) + ":a");
  EXPECT_TRUE(b->take().empty());  // b joined 2 h later: its turn comes 2 h later
  hub.tick(clock.now());
  EXPECT_TRUE(a->take().empty());  // once per period

  clock.advance(2h);
  hub.tick(clock.now());
  EXPECT_EQ(b->take().size(), 1U);
  EXPECT_TRUE(a->take().empty());
  clock.advance(192min - 2h);
  hub.tick(clock.now());
  EXPECT_EQ(a->take().size(), 1U);  // and again, for sessions longer than two TTLs
}

TEST_F(IceSessionTest, NothingConfiguredMeansNoIceServersAndPolicyAll) {
  auto hub = make_hub(nullptr);
  ASSERT_TRUE(hub.put_session("s1", spec()).created);
  auto a = std::make_shared<RecordingEndpoint>();
  ASSERT_FALSE(hub.join("s1", {"a", ""}, "n:1", a).error);
  const auto joined = a->take().at(0);
  EXPECT_FALSE(joined.contains("iceServers"));
  EXPECT_EQ(joined["iceTransportPolicy"], "all");
  clock.advance(23h);  // within the heartbeat timeout
  hub.tick(clock.now());
  EXPECT_TRUE(a->take().empty());
}

TEST_F(IceSessionTest, SessionPolicyOverridesTheDefault) {
  auto ice = std::make_shared<domain::IceSettings>(full_settings());
  ice->default_policy = domain::IceTransportPolicy::relay;
  auto hub = make_hub(ice);
  ASSERT_TRUE(hub.put_session("s1", spec()).created);
  ASSERT_TRUE(hub.put_session("s2", spec(domain::IceTransportPolicy::all)).created);
  auto a = std::make_shared<RecordingEndpoint>();
  auto b = std::make_shared<RecordingEndpoint>();
  ASSERT_FALSE(hub.join("s1", {"a", ""}, "n:1", a).error);
  ASSERT_FALSE(hub.join("s2", {"a", ""}, "n:2", b).error);
  EXPECT_EQ(a->take().at(0)["iceTransportPolicy"], "relay");
  EXPECT_EQ(b->take().at(0)["iceTransportPolicy"], "all");
}

}  // namespace
