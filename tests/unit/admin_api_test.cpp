// The admin API as a pure function of the request.
#include <gtest/gtest.h>

#include "app/admin_api.hpp"
#include "common/time.hpp"
#include "support/recording_endpoint.hpp"

using namespace sig;
using nlohmann::json;

namespace {

class AdminTest : public ::testing::Test {
 protected:
  AdminTest() : hub(clock, domain::SessionSettings{}), api(hub, "k3y", [] { return std::string("m 1\n"); }) {}

  net::HttpResponse call(std::string method, std::string target, std::string body = {},
                         std::string key = "k3y") {
    net::HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    if (!key.empty()) r.authorization = "Bearer " + key;
    return api.answer(r);
  }

  static constexpr const char* kSpec =
      R"({"hostUserId":"a","participants":[{"userId":"a","displayName":"Alice"},{"userId":"b","displayName":"Bob"}],"durationSeconds":3600})";

  domain::ManualClock clock;
  domain::Hub hub;
  app::AdminApi api;
};

}  // namespace

TEST_F(AdminTest, RequiresTheKey) {
  EXPECT_EQ(call("GET", "/api/sessions/s1", "", "").status, 401U);
  EXPECT_EQ(call("GET", "/api/sessions/s1", "", "wrong").status, 401U);
  EXPECT_EQ(call("GET", "/api/sessions/s1", "", "k3y-longer").status, 401U);
  EXPECT_EQ(json::parse(call("GET", "/api/sessions/s1", "", "").body)["error"], "unauthorized");
}

TEST_F(AdminTest, WithoutAKeyEverythingIsRefused) {
  app::AdminApi closed(hub, "", nullptr);
  net::HttpRequest r{"GET", "/api/sessions/s1", "Bearer ", ""};
  EXPECT_EQ(closed.answer(r).status, 401U);
}

TEST_F(AdminTest, PutCreatesThenReplaces) {
  auto r = call("PUT", "/api/sessions/s1", kSpec);
  EXPECT_EQ(r.status, 201U);
  const auto body = json::parse(r.body);
  EXPECT_EQ(body["sessionId"], "s1");
  EXPECT_EQ(body["status"], "waiting");
  EXPECT_EQ(body["durationSeconds"], 3600);
  EXPECT_EQ(body["participants"][1], json::parse(R"({"userId":"b","displayName":"Bob","connected":false})"));
  EXPECT_EQ(call("PUT", "/api/sessions/s1", kSpec).status, 200U);
}

TEST_F(AdminTest, GetShowsWhoIsConnected) {
  ASSERT_EQ(call("PUT", "/api/sessions/s1", kSpec).status, 201U);
  auto ep = std::make_shared<test_support::RecordingEndpoint>();
  ASSERT_FALSE(hub.join("s1", {"b", ""}, "n:1", ep).error);
  const auto body = json::parse(call("GET", "/api/sessions/s1").body);
  EXPECT_EQ(body["connected"], json::array({"b"}));
  EXPECT_EQ(body["participants"][1]["connected"], true);
  EXPECT_EQ(body["participants"][0]["connected"], false);
}

TEST_F(AdminTest, GetShowsTheAttendanceAsOfTheRequest) {
  using namespace std::chrono_literals;
  ASSERT_EQ(call("PUT", "/api/sessions/s1", kSpec).status, 201U);
  EXPECT_EQ(json::parse(call("GET", "/api/sessions/s1").body)["attendance"], json::array());
  const auto t0 = clock.wall_now();
  auto eb = std::make_shared<test_support::RecordingEndpoint>();
  auto b = hub.join("s1", {"b", ""}, "n:1", eb);
  clock.advance(1'500ms);
  auto ea = std::make_shared<test_support::RecordingEndpoint>();
  auto a = hub.join("s1", {"a", "Al"}, "n:2", ea);
  clock.advance(250ms);
  a.session->leave(a.participant, clock.now());
  clock.advance(2'000ms);
  const auto body = json::parse(call("GET", "/api/sessions/s1").body);
  EXPECT_EQ(body["attendance"], json::parse(R"([
    {"userId":"b","displayName":"Bob","firstJoinedAt":")" +
                                            format_iso8601(t0) + R"(","lastLeftAt":null,
     "connections":1,"connectedSeconds":3.75,"connected":true},
    {"userId":"a","displayName":"Al","firstJoinedAt":")" +
                                            format_iso8601(t0 + 1'500ms) + R"(",
     "lastLeftAt":")" + format_iso8601(t0 + 1'750ms) +
                                            R"(","connections":1,"connectedSeconds":0.25,
     "connected":false}])"))
      << "join order; b's open interval counts up to the request";
  clock.advance(1ms);
  EXPECT_EQ(json::parse(call("GET", "/api/sessions/s1").body)["attendance"][0]["connectedSeconds"], 3.751);
}

TEST_F(AdminTest, BadBodies) {
  EXPECT_EQ(json::parse(call("PUT", "/api/sessions/s1", "{oops").body)["error"], "invalid_json");
  EXPECT_EQ(call("PUT", "/api/sessions/s1", "{oops").status, 400U);
  for (const auto* body :
       {R"([])", R"({"participants":[]})", R"({"hostUserId":"x","participants":[{"userId":"a"}]})",
        R"({"hostUserId":"a","participants":[{"userId":3}]})",
        R"({"hostUserId":"a","participants":[{"userId":"a"}],"durationSeconds":-1})",
        R"({"hostUserId":"a","participants":[{"userId":"a"}],"durationSeconds":"1"})"}) {
    const auto r = call("PUT", "/api/sessions/s1", body);
    EXPECT_EQ(r.status, 400U) << body;
    EXPECT_EQ(json::parse(r.body)["error"], "invalid_body") << body;
  }
}

TEST_F(AdminTest, LifecycleAndStatusCodes) {
  EXPECT_EQ(call("GET", "/api/sessions/nope").status, 404U);
  EXPECT_EQ(call("POST", "/api/sessions/nope/start").status, 404U);
  ASSERT_EQ(call("PUT", "/api/sessions/s1", kSpec).status, 201U);
  EXPECT_EQ(call("PATCH", "/api/sessions/s1").status, 405U);
  EXPECT_EQ(call("GET", "/api/sessions/s1/start").status, 405U);
  auto started = call("POST", "/api/sessions/s1/start");
  EXPECT_EQ(started.status, 200U);
  EXPECT_EQ(json::parse(started.body)["status"], "started");
  EXPECT_FALSE(json::parse(started.body)["startedAt"].is_null());
  EXPECT_EQ(call("POST", "/api/sessions/s1/start").status, 409U);
  auto ended = call("POST", "/api/sessions/s1/end");
  EXPECT_EQ(json::parse(ended.body)["endReason"], "host_ended");
  EXPECT_EQ(call("POST", "/api/sessions/s1/end").status, 409U);
  EXPECT_EQ(call("DELETE", "/api/sessions/s1").status, 204U);
  EXPECT_EQ(call("GET", "/api/sessions/s1").status, 404U);
  EXPECT_EQ(call("DELETE", "/api/sessions/s1").status, 404U);
}

TEST_F(AdminTest, ParticipantsCanBeAddedAndRemoved) {
  ASSERT_EQ(call("PUT", "/api/sessions/s1", kSpec).status, 201U);
  auto r = call("PUT", "/api/sessions/s1/participants/c", R"({"displayName":"Carol"})");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(json::parse(r.body)["participants"].size(), 3U);
  EXPECT_EQ(call("DELETE", "/api/sessions/s1/participants/c").status, 200U);
  EXPECT_EQ(call("DELETE", "/api/sessions/s1/participants/c").status, 404U);
  EXPECT_EQ(call("DELETE", "/api/sessions/s1/participants/a").status, 409U);
}

TEST_F(AdminTest, HealthReadyMetricsAndUnknownRoutes) {
  EXPECT_EQ(call("GET", "/healthz", "", "").status, 200U);
  EXPECT_EQ(call("GET", "/readyz", "", "").status, 503U);
  api.set_ready(true);
  EXPECT_EQ(call("GET", "/readyz", "", "").status, 200U);
  const auto m = call("GET", "/metrics", "", "");
  EXPECT_EQ(m.body, "m 1\n");
  EXPECT_EQ(m.content_type.rfind("text/plain", 0), 0U);
  EXPECT_EQ(call("GET", "/nothing", "", "").status, 404U);
  EXPECT_EQ(call("GET", "/dev/token?userId=a", "", "").status, 404U) << "no dev mode, no tokens";
}

TEST_F(AdminTest, DevModeHandsOutTokensForListedUsersOnly) {
  auto signer = auth::Signer::hmac(auth::Algorithm::HS256, "dev");
  app::AdminApi dev_api(hub, "k", nullptr, app::DevMode{&signer, "s1"});
  ASSERT_EQ(call("PUT", "/api/sessions/s1", kSpec).status, 201U);
  net::HttpRequest r{"GET", "/dev/token?userId=b", "", ""};
  const auto answer = dev_api.answer(r);
  ASSERT_EQ(answer.status, 200U);
  const auto body = json::parse(answer.body);
  EXPECT_EQ(body["sessionId"], "s1");
  EXPECT_EQ(body["displayName"], "Bob");
  auth::Verifier v(auth::VerifierOptions{});
  v.set_hmac_secret("dev");
  auth::Claims claims;
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(clock.wall_now().time_since_epoch()).count();
  EXPECT_FALSE(v.verify(body["token"].get<std::string>(), now, claims));
  EXPECT_EQ(claims.subject, "b");
  r.target = "/dev/token?userId=zed";
  EXPECT_EQ(dev_api.answer(r).status, 404U);
  r.target = "/dev/token?userId=b&sessionId=other";
  EXPECT_EQ(dev_api.answer(r).status, 400U) << "development tokens are for the dev session only";
}

// Issue 9, point 3: these paths used to abort the process (nlohmann's dump() threw
// type_error.316 on the session id in the answer).
TEST_F(AdminTest, InvalidUtf8InThePathOrQueryIsRefusedWith400) {
  ASSERT_EQ(call("PUT", "/api/sessions/s1", kSpec).status, 201U);
  for (const auto* target :
       {"/api/sessions/%FF", "/api/sessions/s1/participants/%C0%AF", "/api/sessions/%ED%A0%80",
        "/api/sessions/%F4%90%80%80/start", "/api/sessions/\xFF", "/api/sessions/s1?x=%FF", "/healthz?%C3=1",
        "/api/sessions/%E2%82"}) {
    for (const auto* method : {"GET", "PUT", "POST", "DELETE"}) {
      const auto r = call(method, target, R"({"displayName":"x"})");
      EXPECT_EQ(r.status, 400U) << method << " " << target;
      EXPECT_EQ(json::parse(r.body)["error"], "invalid_utf8") << method << " " << target;
    }
  }
  // Valid UTF-8 ids are fine, escaped or not.
  EXPECT_EQ(call("PUT", "/api/sessions/%C3%A9t%C3%A9", kSpec).status, 201U);
  EXPECT_EQ(json::parse(call("GET", "/api/sessions/été").body)["sessionId"], "été");
}

TEST_F(AdminTest, InvalidUtf8InABodyIsRefusedWith400) {
  ASSERT_EQ(call("PUT", "/api/sessions/s1", kSpec).status, 201U);
  const std::string bad_name = "{\"displayName\":\"\xC0\xAF\"}";
  const std::string bad_spec = "{\"hostUserId\":\"a\",\"participants\":[{\"userId\":\"a\xFF\"}]}";
  for (const auto& [target, body] :
       {std::pair{"/api/sessions/s1/participants/c", bad_name}, std::pair{"/api/sessions/s2", bad_spec}}) {
    const auto r = call("PUT", target, body);
    EXPECT_EQ(r.status, 400U) << target;
    EXPECT_EQ(json::parse(r.body)["error"], "invalid_utf8") << target;
  }
  // An escaped lone surrogate is valid UTF-8 text but not a valid JSON string: nlohmann refuses it.
  const auto r = call("PUT", "/api/sessions/s1/participants/c", R"({"displayName":"\udc00"})");
  EXPECT_EQ(r.status, 400U);
  EXPECT_EQ(json::parse(r.body)["error"], "invalid_json");
  EXPECT_EQ(call("GET", "/api/sessions/s2").status, 404U);
}

TEST_F(AdminTest, DurationSecondsIsBoundedToSevenDays) {
  const auto spec = [](const std::string& d) {
    return R"({"hostUserId":"a","participants":[{"userId":"a"}],"durationSeconds":)" + d + "}";
  };
  EXPECT_EQ(call("PUT", "/api/sessions/s1", spec("0")).status, 201U);
  EXPECT_EQ(call("PUT", "/api/sessions/s1", spec("604800")).status, 200U);
  EXPECT_EQ(json::parse(call("GET", "/api/sessions/s1").body)["durationSeconds"], 604800);
  for (const auto* d : {"604801", "9300000000", "18446744073709551615", "1e3", "-5", "3600.5"}) {
    const auto r = call("PUT", "/api/sessions/s2", spec(d));
    EXPECT_EQ(r.status, 400U) << d;
    EXPECT_EQ(json::parse(r.body)["error"], "invalid_body") << d;
  }
  EXPECT_EQ(call("GET", "/api/sessions/s2").status, 404U);
}

namespace {

// A shared store that applies reads at once and reports a write as refused when told to.
class FakeCluster final : public domain::ClusterPort {
 public:
  bool refuse = false;
  int refreshes = 0;
  void join(std::string, domain::Identity, std::string, std::weak_ptr<domain::Endpoint>,
            domain::ResumeRequest, JoinDone) override {}
  std::uint64_t relay_epoch() const override { return 0; }
  void relay(std::string_view, std::string_view, std::string_view, domain::Payload, std::uint64_t) override {}
  void refresh(std::string, std::function<void(bool)> done) override {
    ++refreshes;
    done(true);
  }
  std::uint64_t write_mark() const override { return 7; }
  void flush(std::uint64_t mark, std::function<void(bool)> done) override {
    EXPECT_EQ(mark, 7U);
    done(!refuse);
  }
};

}  // namespace

TEST_F(AdminTest, AWriteTheStoreRefusedAnswers503NeverA2xx) {
  FakeCluster store;
  api.set_cluster(&store);
  const auto handle = [&](std::string method, std::string target, std::string body = {}) {
    net::HttpRequest r{std::move(method), std::move(target), "Bearer k3y", std::move(body)};
    int calls = 0;
    net::HttpResponse out;
    api.handle(std::move(r), [&](net::HttpResponse resp) {
      ++calls;
      out = std::move(resp);
    });
    EXPECT_EQ(calls, 1);
    return out;
  };
  EXPECT_EQ(handle("PUT", "/api/sessions/s1", kSpec).status, 201U);
  store.refuse = true;
  for (const auto& [method, target] :
       {std::pair{"PUT", "/api/sessions/s2"}, std::pair{"POST", "/api/sessions/s1/start"},
        std::pair{"DELETE", "/api/sessions/s1/participants/b"}, std::pair{"DELETE", "/api/sessions/s1"}}) {
    const auto r = handle(method, target, kSpec);
    EXPECT_EQ(r.status, 503U) << method << " " << target;
    EXPECT_EQ(json::parse(r.body)["error"], "store_unavailable") << method << " " << target;
  }
  // Each refused write made the node read the session again (its copy must match the store).
  EXPECT_EQ(store.refreshes, 1 + 4 * 2);
  // A read does not depend on a write.
  EXPECT_EQ(handle("GET", "/api/sessions/s2").status, 200U);
}

TEST(AdminIce, IceTransportPolicyIsValidatedStoredAndShown) {
  domain::ManualClock clock;
  domain::SessionSettings settings;
  auto ice = std::make_shared<domain::IceSettings>();
  ice->turn_uris = {"turn:turn.example.org:3478"};
  ice->turn_secret = "0123456789abcdef";
  settings.ice = ice;
  domain::Hub hub(clock, settings);
  app::AdminApi api(hub, "k3y", [] { return std::string(); });
  const auto call = [&](std::string method, std::string target, std::string body) {
    net::HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.authorization = "Bearer k3y";
    return api.answer(r);
  };
  auto r = call("PUT", "/api/sessions/s1",
                R"({"hostUserId":"a","participants":[{"userId":"a"}],"iceTransportPolicy":"relay"})");
  ASSERT_EQ(r.status, 201U);
  EXPECT_EQ(json::parse(r.body)["iceTransportPolicy"], "relay");
  auto ep = std::make_shared<test_support::RecordingEndpoint>();
  ASSERT_FALSE(hub.join("s1", {"a", ""}, "n:1", ep).error);
  EXPECT_EQ(ep->json().at(0)["iceTransportPolicy"], "relay");
  // Omitted (or null): the server's default, shown as null.
  ASSERT_EQ(call("PUT", "/api/sessions/s2", R"({"hostUserId":"a","participants":[{"userId":"a"}]})").status,
            201U);
  EXPECT_TRUE(json::parse(call("GET", "/api/sessions/s2", "").body)["iceTransportPolicy"].is_null());
  for (const auto* body :
       {R"({"hostUserId":"a","participants":[{"userId":"a"}],"iceTransportPolicy":"none"})",
        R"({"hostUserId":"a","participants":[{"userId":"a"}],"iceTransportPolicy":1})",
        R"({"hostUserId":"a","participants":[{"userId":"a"}],"iceTransportPolicy":"RELAY"})"}) {
    const auto bad = call("PUT", "/api/sessions/s3", body);
    EXPECT_EQ(bad.status, 400U) << body;
    EXPECT_EQ(json::parse(bad.body)["error"], "invalid_body") << body;
  }
}

TEST_F(AdminTest, RelayOnlyNeedsATurnServer) {
  const auto r = call("PUT", "/api/sessions/s1",
                      R"({"hostUserId":"a","participants":[{"userId":"a"}],"iceTransportPolicy":"relay"})");
  EXPECT_EQ(r.status, 400U);
  EXPECT_EQ(json::parse(r.body)["error"], "invalid_body");
  EXPECT_NE(r.body.find("--turn-uri"), std::string::npos);
  EXPECT_EQ(call("PUT", "/api/sessions/s1",
                 R"({"hostUserId":"a","participants":[{"userId":"a"}],"iceTransportPolicy":"all"})")
                .status,
            201U);
}
