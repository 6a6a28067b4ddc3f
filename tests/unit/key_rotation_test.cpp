// Unit tests of the app side of key rotation: --jwt-secret kid:secret, the JWKS URL check, the
// Cache-Control parser and refresh delay, the JWKS source's refresh and unknown-kid rate limit
// (on a fake fetch), and the SIGHUP diff by option name.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "app/jwks_source.hpp"
#include "app/keys.hpp"
#include "app/reload.hpp"
#include "auth/jwt.hpp"

namespace {

using namespace std::chrono_literals;
using sig::app::cache_control_max_age;
using sig::app::next_refresh_delay;

TEST(JwtSecretOption, KidColonSecretOrAPlainSecret) {
  auto s = sig::app::parse_jwt_secret("k-1.a_b:the-secret");
  EXPECT_EQ(s.kid, "k-1.a_b");
  EXPECT_EQ(s.secret, "the-secret");
  s = sig::app::parse_jwt_secret("k1:with:colons");
  EXPECT_EQ(s.kid, "k1");
  EXPECT_EQ(s.secret, "with:colons");
  for (const char* plain : {"plain", "k1:", ":secret", "not a kid:secret", "k/1:secret"}) {
    s = sig::app::parse_jwt_secret(plain);
    EXPECT_EQ(s.kid, "") << plain;
    EXPECT_EQ(s.secret, plain);
  }
  EXPECT_EQ(sig::app::parse_jwt_secret(std::string(65, 'k') + ":s").kid, "");
  EXPECT_EQ(sig::app::parse_jwt_secret(std::string(64, 'k') + ":s").kid, std::string(64, 'k'));
}

TEST(JwtSecretOption, OneWithoutKidAndEachKidOnce) {
  EXPECT_NO_THROW(sig::app::check_jwt_secrets({"plain", "a:x", "b:y"}));
  EXPECT_THROW(sig::app::check_jwt_secrets({"plain", "other"}), std::runtime_error);
  EXPECT_THROW(sig::app::check_jwt_secrets({"a:x", "a:y"}), std::runtime_error);
}

TEST(JwksUrl, HttpOrHttpsWithAHost) {
  EXPECT_TRUE(sig::app::jwks_url_ok("https://idp.example/.well-known/jwks.json"));
  EXPECT_TRUE(sig::app::jwks_url_ok("http://127.0.0.1:8080/jwks"));
  EXPECT_TRUE(sig::app::jwks_url_ok("http://localhost:8080/jwks"));
  EXPECT_TRUE(sig::app::jwks_url_ok("http://[::1]:8080/jwks"));
  // Plain http to anything but loopback: anyone on the path could hand over a key.
  for (const char* bad : {"", "ftp://x/", "https://", "https:///path", "http://user:pw@host/", "http://a b/",
                          "idp.example/jwks", "http://idp.example/jwks", "http://10.0.0.5/jwks",
                          "http://127.0.0.1.evil.example/jwks"}) {
    EXPECT_FALSE(sig::app::jwks_url_ok(bad)) << bad;
  }
}

TEST(CacheControl, MaxAgeAndTheDirectivesThatForbidCaching) {
  EXPECT_EQ(cache_control_max_age("max-age=300"), 300s);
  EXPECT_EQ(cache_control_max_age("public, MAX-AGE = 60 , must-revalidate"), 60s);
  EXPECT_EQ(cache_control_max_age("max-age=\"90\""), 90s);
  EXPECT_EQ(cache_control_max_age("no-cache"), 0s);
  EXPECT_EQ(cache_control_max_age("max-age=600, no-store"), 0s);
  EXPECT_EQ(cache_control_max_age("max-age=99999999999999999999999"), std::chrono::seconds(24 * 3600));
  EXPECT_EQ(cache_control_max_age(""), std::nullopt);
  EXPECT_EQ(cache_control_max_age("public"), std::nullopt);
  EXPECT_EQ(cache_control_max_age("max-age=abc"), std::nullopt);
  EXPECT_EQ(cache_control_max_age("max-age=-5"), std::nullopt);
  EXPECT_EQ(cache_control_max_age("max-age=5, max-age=7"), std::nullopt);  // conflicting: invalid
  EXPECT_EQ(cache_control_max_age("s-maxage=5"), std::nullopt);
}

TEST(CacheControl, TheDelayStaysWithinTheBounds) {
  EXPECT_EQ(next_refresh_delay(std::nullopt, 300s, 30s), 300s);
  EXPECT_EQ(next_refresh_delay(600s, 300s, 30s), 600s);  // the provider says its keys keep longer
  EXPECT_EQ(next_refresh_delay(5s, 300s, 30s), 30s);
  EXPECT_EQ(next_refresh_delay(0s, 300s, 30s), 30s);
  EXPECT_EQ(next_refresh_delay(std::chrono::seconds(7 * 24 * 3600), 300s, 30s), std::chrono::hours(24));
}

// ----- the JWKS source on a fake fetch ----------------------------------------------------------

const std::string kJwks = R"({"keys":[{"kty":"oct","kid":"a","k":")" +
                          sig::auth::base64url_encode(std::string(32, 'x')) + R"("}]})";

struct FakeProvider {
  int calls = 0;
  unsigned status = 200;
  std::string body = kJwks;
  std::string cache_control;
  void operator()(sig::http_client::Request request, sig::app::JwksSource::Fetched done) {
    ++calls;
    EXPECT_EQ(request.method, "GET");
    sig::http_client::Response r;
    r.status = status;
    r.body = body;
    if (!cache_control.empty()) r.headers.emplace_back("cache-control", cache_control);
    done({}, std::move(r));
  }
};

TEST(JwksSource, FetchesAtStartAndHandsTheKeysOver) {
  boost::asio::io_context io;
  FakeProvider provider;
  std::vector<std::size_t> sets;
  sig::app::JwksSourceOptions o;
  o.url = "http://idp/jwks";
  o.refresh = 1h;
  o.refresh_min = 1h;
  sig::app::JwksSource source(io, o, std::ref(provider),
                              [&](sig::auth::KeySet k) { sets.push_back(k.size()); });
  std::string first = "not called";
  source.start([&](std::string e) { first = std::move(e); });
  io.run_for(200ms);
  EXPECT_EQ(first, "");
  EXPECT_EQ(sets, std::vector<std::size_t>{1});
  EXPECT_EQ(provider.calls, 1);
  source.stop();
  io.run_for(50ms);
}

TEST(JwksSource, AFailedFetchKeepsTheLastGoodSetAndIsReported) {
  boost::asio::io_context io;
  FakeProvider provider;
  provider.status = 503;
  int sets = 0;
  sig::app::JwksSourceOptions o;
  o.url = "http://idp/jwks";
  o.refresh = 1h;
  o.refresh_min = 1h;
  sig::app::JwksSource source(io, o, std::ref(provider), [&](sig::auth::KeySet) { ++sets; });
  std::string first;
  source.start([&](std::string e) { first = std::move(e); });
  io.run_for(100ms);
  EXPECT_NE(first.find("503"), std::string::npos);
  EXPECT_EQ(sets, 0);
  provider.status = 200;
  provider.body = R"({"keys":[]})";  // no usable key: refused too
  source.refresh_now();
  io.run_for(100ms);
  EXPECT_EQ(sets, 0);
  source.stop();
  io.run_for(50ms);
}

TEST(JwksSource, UnknownKidRefreshesAreRateLimited) {
  boost::asio::io_context io;
  FakeProvider provider;
  sig::app::JwksSourceOptions o;
  o.url = "http://idp/jwks";
  o.refresh = 1h;
  o.refresh_min = 1h;
  o.unknown_kid_interval = 1h;
  sig::app::JwksSource source(io, o, std::ref(provider), [](sig::auth::KeySet) {});
  source.start([](std::string) {});
  io.run_for(50ms);
  ASSERT_EQ(provider.calls, 1);
  for (int i = 0; i < 100; ++i)
    source.unknown_kid();
  io.run_for(50ms);
  EXPECT_EQ(provider.calls, 2);  // one refresh for the burst, none until the interval passed
  source.stop();
  io.run_for(50ms);
}

TEST(JwksSource, RefreshesAfterMaxAgeWithinTheMinimum) {
  boost::asio::io_context io;
  FakeProvider provider;
  provider.cache_control = "max-age=0";
  sig::app::JwksSourceOptions o;
  o.url = "http://idp/jwks";
  o.refresh = 1h;
  o.refresh_min = 100ms;
  sig::app::JwksSource source(io, o, std::ref(provider), [](sig::auth::KeySet) {});
  source.start([](std::string) {});
  io.run_for(50ms);
  EXPECT_EQ(provider.calls, 1);
  io.run_for(400ms);  // refresh_min, not the hour of --jwt-jwks-refresh
  EXPECT_GE(provider.calls, 2);
  EXPECT_LE(provider.calls, 5);
  source.stop();
  io.run_for(50ms);
}

// ----- SIGHUP: the diff by option name ----------------------------------------------------------

TEST(Reload, ChangedOptionsByNameAppliedOrNeedingARestart) {
  const std::map<std::string, std::string> before{
      {"jwt-secret", "[\"a\"]"}, {"max-participants", "6"}, {"port", "8080"}};
  const std::map<std::string, std::string> after{
      {"jwt-secret", "[\"b\"]"}, {"max-participants", "8"}, {"port", "8080"}, {"webhook-url", "x"}};
  const auto changes = sig::app::diff_options(before, after, {"jwt-secret", "webhook-url"});
  ASSERT_EQ(changes.size(), 3U);
  EXPECT_EQ(changes[0].option, "jwt-secret");
  EXPECT_TRUE(changes[0].applied);
  EXPECT_EQ(changes[1].option, "max-participants");
  EXPECT_FALSE(changes[1].applied);
  EXPECT_EQ(changes[2].option, "webhook-url");
  EXPECT_TRUE(changes[2].applied);
}

}  // namespace
