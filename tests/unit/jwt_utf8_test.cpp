// The claims a verified token hands on (sub, the name claim) are always valid UTF-8, with no check
// of our own in jwt.cpp: simdjson validates the whole payload's bytes and refuses lone surrogate
// escapes (proved here, so that a change of the library would be noticed).
// A separate file from jwt_test.cpp: it tests the boundary, not the signature algorithms.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "auth/jwt.hpp"
#include "common/utf8.hpp"

namespace {

using sig::auth::Algorithm;
using sig::auth::Claims;
using sig::auth::JwtError;
using sig::auth::Signer;
using sig::auth::Verifier;

constexpr std::int64_t kNow = 1'800'000'000;
const std::string kSecret = "a-test-secret-of-a-reasonable-length-0123456789";

// Verifies a token signed over `payload` (any bytes): the error, and the claims when accepted.
std::error_code verify(const std::string& payload, Claims& claims) {
  Verifier v({});
  v.set_hmac_secret(kSecret);
  return v.verify(Signer::hmac(Algorithm::HS256, kSecret).sign(payload), kNow, claims);
}

std::string payload_with(const std::string& sub, const std::string& name = "N") {
  return R"({"exp":1900000000,"sub":")" + sub + R"(","name":")" + name + R"("})";
}

}  // namespace

TEST(JwtUtf8, ValidUtf8AndEscapesAreAccepted) {
  Claims c;
  ASSERT_FALSE(verify(payload_with("zoë", "Zoë 🎉"), c));
  EXPECT_EQ(c.subject, "zoë");
  EXPECT_EQ(c.display_name, "Zoë 🎉");
  ASSERT_FALSE(verify(payload_with(R"(\u00e9\ud83c\udf89)"), c));  // é and a surrogate pair
  EXPECT_EQ(c.subject, "é🎉");
}

TEST(JwtUtf8, RawInvalidBytesInAClaimAreRefused) {
  for (const std::string bad : {"\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "a\xE2\x82"}) {
    Claims c;
    EXPECT_EQ(verify(payload_with(bad), c), JwtError::malformed) << sig::utf8::printable(bad);
    EXPECT_EQ(verify(payload_with("u", bad), c), JwtError::malformed) << sig::utf8::printable(bad);
  }
}

TEST(JwtUtf8, LoneSurrogateEscapesAreRefused) {
  // simdjson (3.0) refuses an escaped surrogate that is not part of a pair, so a claim can never
  // decode to the three-byte form of a surrogate: the whole payload is malformed.
  for (const std::string esc : {R"(\ud800)", R"(\udc00)", R"(\udfff)", R"(\ud800x)", R"(\ud800\u0041)",
                                R"(\ud800\ud800)", R"(x\udc00y)"}) {
    for (const bool in_name : {false, true}) {
      Claims c;
      EXPECT_EQ(verify(in_name ? payload_with("u", esc) : payload_with(esc), c), JwtError::malformed) << esc;
    }
  }
}
