// Unit tests of the JWT verifier and signer (src/auth/jwt.hpp).
#include "auth/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using sig::auth::Algorithm;
using sig::auth::base64url_decode;
using sig::auth::base64url_encode;
using sig::auth::Claims;
using sig::auth::JwtError;
using sig::auth::Signer;
using sig::auth::Verifier;
using sig::auth::VerifierOptions;

constexpr std::int64_t kNow = 1'800'000'000;
const std::string kSecret = "a-test-secret-of-a-reasonable-length-0123456789";

// ----- key material, generated once per run with the OpenSSL API ------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};

KeyPair export_pems(EVP_PKEY* key) {
  if (key == nullptr) throw std::runtime_error("key generation failed");
  KeyPair pair;
  std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), &BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> pub(BIO_new(BIO_s_mem()), &BIO_free);
  if (PEM_write_bio_PrivateKey(priv.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key) != 1) {
    throw std::runtime_error("PEM export failed");
  }
  pair.private_pem = bio_text(priv.get());
  pair.public_pem = bio_text(pub.get());
  return pair;
}

KeyPair rsa_keys(unsigned bits) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)));
  return export_pems(key.get());
}

KeyPair ec_keys(const char* curve) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  return export_pems(key.get());
}

const KeyPair& rsa() {
  static const KeyPair keys = rsa_keys(2048);
  return keys;
}
const KeyPair& rsa_other() {
  static const KeyPair keys = rsa_keys(2048);
  return keys;
}
const KeyPair& ec() {
  static const KeyPair keys = ec_keys("P-256");
  return keys;
}
const KeyPair& ec_other() {
  static const KeyPair keys = ec_keys("P-256");
  return keys;
}

// ----- helpers --------------------------------------------------------------------------------

std::string claims_json(std::string_view sub = "u1", std::int64_t exp = kNow + 3600,
                        std::string_view extra = "") {
  std::string json = R"({"sub":")";
  json += sub;
  json += R"(","exp":)";
  json += std::to_string(exp);
  if (!extra.empty()) {
    json += ',';
    json += extra;
  }
  json += '}';
  return json;
}

Verifier hmac_verifier(VerifierOptions options = {}) {
  Verifier v(std::move(options));
  v.set_hmac_secret(kSecret);
  return v;
}

Verifier rsa_verifier() {
  Verifier v(VerifierOptions{});
  v.set_public_key_pem(rsa().public_pem);
  return v;
}

Verifier ec_verifier() {
  Verifier v(VerifierOptions{});
  v.set_public_key_pem(ec().public_pem);
  return v;
}

std::string hs256(std::string_view payload) {
  return Signer::hmac(Algorithm::HS256, kSecret).sign(payload);
}

// An unsigned token: header.payload.
std::string unsigned_token(std::string_view header, std::string_view payload) {
  return base64url_encode(header) + "." + base64url_encode(payload) + ".";
}

JwtError verify(const Verifier& v, std::string_view token, std::int64_t now = kNow) {
  Claims claims;
  const std::error_code ec = v.verify(token, now, claims);
  if (!ec) return JwtError::ok;
  EXPECT_EQ(&ec.category(), &sig::auth::jwt_category());
  return static_cast<JwtError>(ec.value());
}

// Replaces the character at position pos of s by another base64url character.
std::string flip_char(std::string s, std::size_t pos) {
  s[pos] = s[pos] == 'A' ? 'B' : 'A';
  return s;
}

// ----- valid tokens ---------------------------------------------------------------------------

TEST(JwtVerify, ValidHs256) {
  const Verifier v = hmac_verifier();
  Claims claims;
  const std::string token = hs256(claims_json("user-1", kNow + 600, R"("name":"Alice")"));
  ASSERT_FALSE(v.verify(token, kNow, claims));
  EXPECT_EQ(claims.subject, "user-1");
  EXPECT_EQ(claims.display_name, "Alice");
  EXPECT_EQ(claims.expires_at, kNow + 600);
}

TEST(JwtVerify, ValidHs384) {
  const Verifier v = hmac_verifier();
  Claims claims;
  const std::string token = Signer::hmac(Algorithm::HS384, kSecret).sign(claims_json("u384"));
  ASSERT_FALSE(v.verify(token, kNow, claims));
  EXPECT_EQ(claims.subject, "u384");
}

TEST(JwtVerify, ValidHs512) {
  const Verifier v = hmac_verifier();
  Claims claims;
  const std::string token = Signer::hmac(Algorithm::HS512, kSecret).sign(claims_json("u512"));
  ASSERT_FALSE(v.verify(token, kNow, claims));
  EXPECT_EQ(claims.subject, "u512");
}

TEST(JwtVerify, ValidRs256) {
  const Verifier v = rsa_verifier();
  Claims claims;
  const std::string token =
      Signer::private_key_pem(Algorithm::RS256, rsa().private_pem).sign(claims_json("rsa-user"));
  ASSERT_FALSE(v.verify(token, kNow, claims));
  EXPECT_EQ(claims.subject, "rsa-user");
}

TEST(JwtVerify, ValidEs256) {
  const Verifier v = ec_verifier();
  const Signer signer = Signer::private_key_pem(Algorithm::ES256, ec().private_pem);
  // Several tokens, so that R or S with leading zero bytes are covered now and then.
  for (int i = 0; i < 20; ++i) {
    Claims claims;
    const std::string token = signer.sign(claims_json("ec-user-" + std::to_string(i)));
    const auto sig = base64url_decode(token.substr(token.rfind('.') + 1));
    ASSERT_TRUE(sig.has_value());
    EXPECT_EQ(sig->size(), 64u);
    ASSERT_FALSE(v.verify(token, kNow, claims)) << token;
    EXPECT_EQ(claims.subject, "ec-user-" + std::to_string(i));
  }
}

TEST(JwtVerify, ValidWithBothSecretAndPublicKeysConfigured) {
  Verifier v(VerifierOptions{});
  v.set_hmac_secret(kSecret);
  v.set_public_key_pem(rsa().public_pem);
  v.set_public_key_pem(ec().public_pem);
  EXPECT_EQ(verify(v, hs256(claims_json())), JwtError::ok);
  EXPECT_EQ(verify(v, Signer::private_key_pem(Algorithm::RS256, rsa().private_pem).sign(claims_json())),
            JwtError::ok);
  EXPECT_EQ(verify(v, Signer::private_key_pem(Algorithm::ES256, ec().private_pem).sign(claims_json())),
            JwtError::ok);
}

// RFC 7515 appendix A.1: an HS256 token made by someone else (CRLF in the JSON, key from a JWK).
TEST(JwtVerify, Rfc7515AppendixA1Interop) {
  const auto key = base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(key.has_value());
  Verifier v(VerifierOptions{});
  v.set_hmac_secret(*key);
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  // The signature and exp are good; the example has no sub.
  EXPECT_EQ(verify(v, token, 1300819000), JwtError::missing_subject);
  EXPECT_EQ(verify(v, token, 1300819380 + 30), JwtError::expired);
  EXPECT_EQ(verify(v, flip_char(token, token.size() - 3), 1300819000), JwtError::bad_signature);
}

TEST(JwtVerify, SecretLongerThanTheHashBlock) {
  const std::string long_secret(300, 'k');
  Verifier v(VerifierOptions{});
  v.set_hmac_secret(long_secret);
  EXPECT_EQ(verify(v, Signer::hmac(Algorithm::HS256, long_secret).sign(claims_json())), JwtError::ok);
  EXPECT_EQ(verify(v, Signer::hmac(Algorithm::HS512, long_secret).sign(claims_json())), JwtError::ok);
  EXPECT_EQ(verify(v, Signer::hmac(Algorithm::HS256, std::string(299, 'k')).sign(claims_json())),
            JwtError::bad_signature);
}

TEST(JwtVerify, SecretOfExactlyOneBlock) {
  const std::string block_secret(64, 'b');
  Verifier v(VerifierOptions{});
  v.set_hmac_secret(block_secret);
  EXPECT_EQ(verify(v, Signer::hmac(Algorithm::HS256, block_secret).sign(claims_json())), JwtError::ok);
  EXPECT_EQ(verify(v, Signer::hmac(Algorithm::HS384, block_secret).sign(claims_json())), JwtError::ok);
}

// ----- time claims ----------------------------------------------------------------------------

TEST(JwtClaims, Expired) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(claims_json("u1", kNow - 3600))), JwtError::expired);
}

TEST(JwtClaims, ExpMissing) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":"u1"})")), JwtError::expired);
}

TEST(JwtClaims, ExpNotANumber) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":"u1","exp":"1900000000"})")), JwtError::expired);
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":"u1","exp":null})")), JwtError::expired);
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":"u1","exp":true})")), JwtError::expired);
}

TEST(JwtClaims, ExpAsFloat) {
  Claims claims;
  ASSERT_FALSE(hmac_verifier().verify(hs256(R"({"sub":"u1","exp":1800000100.75})"), kNow, claims));
  EXPECT_EQ(claims.expires_at, 1800000100);
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":"u1","exp":1799990000.5})")), JwtError::expired);
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":"u1","exp":1.9e9})")), JwtError::ok);
}

TEST(JwtClaims, ExpHugeIsFarFuture) {
  Claims claims;
  ASSERT_FALSE(hmac_verifier().verify(hs256(R"({"sub":"u1","exp":18446744073709551615})"), kNow, claims));
  EXPECT_EQ(claims.expires_at, INT64_MAX);
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":"u1","exp":1e300})")), JwtError::ok);
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":"u1","exp":-9223372036854775808})")), JwtError::expired);
}

TEST(JwtClaims, ExpExactlyNowWithoutLeewayIsExpired) {
  VerifierOptions options;
  options.leeway = std::chrono::seconds{0};
  const Verifier v = hmac_verifier(options);
  EXPECT_EQ(verify(v, hs256(claims_json("u1", kNow))), JwtError::expired);
  EXPECT_EQ(verify(v, hs256(claims_json("u1", kNow + 1))), JwtError::ok);
}

TEST(JwtClaims, LeewayHonouredExpTenSecondsAgoPasses) {
  VerifierOptions options;
  options.leeway = std::chrono::seconds{30};
  EXPECT_EQ(verify(hmac_verifier(options), hs256(claims_json("u1", kNow - 10))), JwtError::ok);
}

TEST(JwtClaims, LeewayHonouredExpSixtySecondsAgoFails) {
  VerifierOptions options;
  options.leeway = std::chrono::seconds{30};
  EXPECT_EQ(verify(hmac_verifier(options), hs256(claims_json("u1", kNow - 60))), JwtError::expired);
}

TEST(JwtClaims, NbfInTheFuture) {
  EXPECT_EQ(
      verify(hmac_verifier(), hs256(claims_json("u1", kNow + 3600, "\"nbf\":" + std::to_string(kNow + 600)))),
      JwtError::not_yet_valid);
}

TEST(JwtClaims, NbfWithinLeewayPasses) {
  EXPECT_EQ(
      verify(hmac_verifier(), hs256(claims_json("u1", kNow + 3600, "\"nbf\":" + std::to_string(kNow + 20)))),
      JwtError::ok);
}

TEST(JwtClaims, NbfInThePastPasses) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(claims_json("u1", kNow + 3600,
                                                      "\"nbf\":" + std::to_string(kNow - 20) +
                                                          ",\"iat\":" + std::to_string(kNow - 20)))),
            JwtError::ok);
}

TEST(JwtClaims, NbfNotANumber) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(claims_json("u1", kNow + 3600, R"("nbf":"soon")"))),
            JwtError::not_yet_valid);
}

TEST(JwtClaims, DuplicateExpIsMalformed) {
  EXPECT_EQ(verify(hmac_verifier(),
                   hs256(claims_json("u1", kNow + 3600, "\"exp\":" + std::to_string(kNow - 3600)))),
            JwtError::malformed);
}

// ----- signature ------------------------------------------------------------------------------

TEST(JwtSignature, WrongSecret) {
  EXPECT_EQ(verify(hmac_verifier(), Signer::hmac(Algorithm::HS256, "another-secret").sign(claims_json())),
            JwtError::bad_signature);
}

TEST(JwtSignature, TamperedPayload) {
  const std::string token = hs256(claims_json("alice"));
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = token.rfind('.');
  const std::string forged =
      token.substr(0, dot1 + 1) + base64url_encode(claims_json("admin")) + token.substr(dot2);
  EXPECT_EQ(verify(hmac_verifier(), forged), JwtError::bad_signature);
}

TEST(JwtSignature, TamperedHeader) {
  const std::string token = hs256(claims_json());
  const std::string forged =
      base64url_encode(R"({"alg":"HS256","typ":"JWT","x":1})") + token.substr(token.find('.'));
  EXPECT_EQ(verify(hmac_verifier(), forged), JwtError::bad_signature);
}

TEST(JwtSignature, TamperedSignatureHs256) {
  const std::string token = hs256(claims_json());
  EXPECT_EQ(verify(hmac_verifier(), flip_char(token, token.size() - 5)), JwtError::bad_signature);
}

TEST(JwtSignature, TruncatedSignatureHs256) {
  const std::string token = hs256(claims_json());
  EXPECT_EQ(verify(hmac_verifier(), token.substr(0, token.size() - 4)), JwtError::bad_signature);
  EXPECT_EQ(verify(hmac_verifier(), token.substr(0, token.rfind('.') + 1)), JwtError::bad_signature);
}

TEST(JwtSignature, TamperedSignatureRs256) {
  const std::string token = Signer::private_key_pem(Algorithm::RS256, rsa().private_pem).sign(claims_json());
  EXPECT_EQ(verify(rsa_verifier(), flip_char(token, token.size() - 10)), JwtError::bad_signature);
}

TEST(JwtSignature, TamperedSignatureEs256) {
  const std::string token = Signer::private_key_pem(Algorithm::ES256, ec().private_pem).sign(claims_json());
  EXPECT_EQ(verify(ec_verifier(), flip_char(token, token.size() - 10)), JwtError::bad_signature);
}

TEST(JwtSignature, Rs256SignedByAnotherKey) {
  const std::string token =
      Signer::private_key_pem(Algorithm::RS256, rsa_other().private_pem).sign(claims_json());
  EXPECT_EQ(verify(rsa_verifier(), token), JwtError::bad_signature);
}

TEST(JwtSignature, Es256SignedByAnotherKey) {
  const std::string token =
      Signer::private_key_pem(Algorithm::ES256, ec_other().private_pem).sign(claims_json());
  EXPECT_EQ(verify(ec_verifier(), token), JwtError::bad_signature);
}

TEST(JwtSignature, Es256SignatureOfWrongLength) {
  const std::string token = Signer::private_key_pem(Algorithm::ES256, ec().private_pem).sign(claims_json());
  const std::string signing_input = token.substr(0, token.rfind('.'));
  const std::string sig = *base64url_decode(token.substr(token.rfind('.') + 1));
  EXPECT_EQ(verify(ec_verifier(), signing_input + "." + base64url_encode(sig.substr(0, 63))),
            JwtError::bad_signature);
  EXPECT_EQ(verify(ec_verifier(), signing_input + "." + base64url_encode(sig + '\0')),
            JwtError::bad_signature);
  EXPECT_EQ(verify(ec_verifier(), signing_input + "." + base64url_encode(std::string(64, '\0'))),
            JwtError::bad_signature);
  EXPECT_EQ(verify(ec_verifier(), signing_input + "."), JwtError::bad_signature);
}

// ----- ES256 malleability: only the low-S form of a signature is valid ------------------------

struct BnFree {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

BnPtr p256_order() {
  BIGNUM* n = nullptr;
  if (BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551") == 0)
    throw std::runtime_error("BN_hex2bn");
  return BnPtr(n);
}

// The raw R || S signature with S replaced by n - S (the other valid signature of the same input).
std::string flip_s(const std::string& raw) {
  const auto n = p256_order();
  BnPtr s(BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
  BnPtr flipped(BN_new());
  if (!s || !flipped || BN_sub(flipped.get(), n.get(), s.get()) != 1) throw std::runtime_error("BN_sub");
  std::string out = raw;
  if (BN_bn2binpad(flipped.get(), reinterpret_cast<unsigned char*>(out.data()) + 32, 32) != 32)
    throw std::runtime_error("BN_bn2binpad");
  return out;
}

bool s_is_low(const std::string& raw) {
  const auto n = p256_order();
  BnPtr half(BN_new());
  BnPtr s(BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
  if (!half || !s || BN_rshift1(half.get(), n.get()) != 1) throw std::runtime_error("BN_rshift1");
  return BN_cmp(s.get(), half.get()) <= 0;
}

// OpenSSL's own verdict on a raw ES256 signature, without the verifier's low-S rule: shows that
// the flipped signature is mathematically valid, so its refusal comes from that rule.
bool openssl_accepts_es256(const std::string& signing_input, const std::string& raw) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(ec().public_pem.data(), static_cast<int>(ec().public_pem.size())), &BIO_free);
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), &ECDSA_SIG_free);
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  if (!key || !sig ||
      ECDSA_SIG_set0(sig.get(), BN_bin2bn(bytes, 32, nullptr), BN_bin2bn(bytes + 32, 32, nullptr)) != 1)
    throw std::runtime_error("ECDSA_SIG_set0");
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  const bool ok = der_len > 0 &&
                  EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(der_len),
                                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                                   signing_input.size()) == 1;
  OPENSSL_free(der);
  ERR_clear_error();
  return ok;
}

// A high S is normalised: the twin verifies to the same claims as the low-S original.
TEST(JwtSignature, Es256HighSIsNormalisedToLowS) {
  const Verifier v = ec_verifier();
  const Signer signer = Signer::private_key_pem(Algorithm::ES256, ec().private_pem);
  for (int i = 0; i < 8; ++i) {
    const std::string token = signer.sign(claims_json("ec-user-" + std::to_string(i)));
    const std::string signing_input = token.substr(0, token.rfind('.'));
    const std::string raw = *base64url_decode(token.substr(token.rfind('.') + 1));
    ASSERT_EQ(raw.size(), 64u);
    Claims low_claims;
    ASSERT_FALSE(v.verify(token, kNow, low_claims)) << "the original (low-S) token passes";
    const std::string high = flip_s(raw);
    ASSERT_NE(high, raw);
    ASSERT_TRUE(openssl_accepts_es256(signing_input, high)) << "n - S is a valid ECDSA signature too";
    Claims high_claims;
    ASSERT_FALSE(v.verify(signing_input + "." + base64url_encode(high), kNow, high_claims));
    EXPECT_EQ(high_claims.subject, low_claims.subject);
    EXPECT_EQ(high_claims.expires_at, low_claims.expires_at);
    // A high S whose low twin is not a signature stays refused (normalising forges nothing).
    std::string bad = high;
    bad[63] = static_cast<char>(bad[63] ^ 1);
    EXPECT_EQ(verify(v, signing_input + "." + base64url_encode(bad)), JwtError::bad_signature);
  }
}

TEST(JwtSignature, Es256HighSIsRefusedWhenLowSIsRequired) {
  VerifierOptions options;
  options.es256_require_low_s = true;
  Verifier v(options);
  v.set_public_key_pem(ec().public_pem);
  const Signer signer = Signer::private_key_pem(Algorithm::ES256, ec().private_pem);
  for (int i = 0; i < 8; ++i) {
    const std::string token = signer.sign(claims_json("ec-user-" + std::to_string(i)));
    const std::string signing_input = token.substr(0, token.rfind('.'));
    const std::string raw = *base64url_decode(token.substr(token.rfind('.') + 1));
    EXPECT_EQ(verify(v, token), JwtError::ok) << "the original (low-S) token passes";
    const std::string high = flip_s(raw);
    ASSERT_TRUE(openssl_accepts_es256(signing_input, high)) << "n - S is a valid ECDSA signature too";
    EXPECT_EQ(verify(v, signing_input + "." + base64url_encode(high)), JwtError::bad_signature)
        << "the high-S twin is refused";
  }
}

TEST(JwtSignature, Es256SignerMakesLowS) {
  // OpenSSL's ECDSA gives a high S about half of the time: 32 signatures all low is the signer's doing.
  const Signer signer = Signer::private_key_pem(Algorithm::ES256, ec().private_pem);
  for (int i = 0; i < 32; ++i) {
    const std::string token = signer.sign(claims_json("u" + std::to_string(i)));
    const std::string raw = *base64url_decode(token.substr(token.rfind('.') + 1));
    EXPECT_TRUE(s_is_low(raw)) << token;
    EXPECT_EQ(verify(ec_verifier(), token), JwtError::ok);
  }
}

TEST(JwtSignature, HeaderAlgDifferentFromTheMacUsed) {
  // alg says HS256 but the MAC is HS512 over the same input.
  const Signer hs512 = Signer::hmac(Algorithm::HS512, kSecret);
  EXPECT_EQ(verify(hmac_verifier(), hs512.sign_with_header(R"({"alg":"HS256"})", claims_json())),
            JwtError::bad_signature);
}

TEST(JwtSignature, BadSignatureCheckedBeforeExpiry) {
  const std::string token = Signer::hmac(Algorithm::HS256, "wrong").sign(claims_json("u1", kNow - 3600));
  EXPECT_EQ(verify(hmac_verifier(), token), JwtError::bad_signature);
}

TEST(JwtSignature, BadSignatureCheckedBeforeMalformedPayload) {
  const std::string token = Signer::hmac(Algorithm::HS256, "wrong").sign("[1,2,3]");
  EXPECT_EQ(verify(hmac_verifier(), token), JwtError::bad_signature);
}

TEST(JwtSignature, OpenSslErrorQueueLeftEmpty) {
  ERR_clear_error();
  const std::string rs = Signer::private_key_pem(Algorithm::RS256, rsa().private_pem).sign(claims_json());
  EXPECT_EQ(verify(rsa_verifier(), flip_char(rs, rs.size() - 10)), JwtError::bad_signature);
  EXPECT_EQ(ERR_peek_error(), 0u);
  const std::string es = Signer::private_key_pem(Algorithm::ES256, ec().private_pem).sign(claims_json());
  EXPECT_EQ(verify(ec_verifier(), flip_char(es, es.size() - 10)), JwtError::bad_signature);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// ----- algorithm selection --------------------------------------------------------------------

TEST(JwtAlg, AlgNoneWithSignature) {
  const std::string token = Signer::hmac(Algorithm::HS256, kSecret)
                                .sign_with_header(R"({"alg":"none","typ":"JWT"})", claims_json());
  EXPECT_EQ(verify(hmac_verifier(), token), JwtError::unsupported_alg);
}

TEST(JwtAlg, AlgNoneWithoutSignature) {
  const std::string token = unsigned_token(R"({"alg":"none","typ":"JWT"})", claims_json());
  EXPECT_EQ(verify(hmac_verifier(), token), JwtError::unsupported_alg);
  EXPECT_EQ(verify(rsa_verifier(), token), JwtError::unsupported_alg);
}

TEST(JwtAlg, AlgNoneWithoutTheLastDotIsMalformed) {
  const std::string token = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(claims_json());
  EXPECT_EQ(verify(hmac_verifier(), token), JwtError::malformed);
}

TEST(JwtAlg, AlgNoneCaseVariants) {
  for (const char* alg : {"None", "NONE", "nOnE"}) {
    const std::string token = unsigned_token(std::string(R"({"alg":")") + alg + "\"}", claims_json());
    EXPECT_EQ(verify(hmac_verifier(), token), JwtError::unsupported_alg) << alg;
  }
}

// The classic algorithm confusion: HS256 keyed with the RSA public key PEM, while the server only
// has that public key. It must not be used as an HMAC secret.
TEST(JwtAlg, AlgorithmConfusionHs256WithPublicKeyAsSecret) {
  const std::string token = Signer::hmac(Algorithm::HS256, rsa().public_pem).sign(claims_json());
  EXPECT_EQ(verify(rsa_verifier(), token), JwtError::unsupported_alg);
  const std::string token_ec = Signer::hmac(Algorithm::HS256, ec().public_pem).sign(claims_json());
  EXPECT_EQ(verify(ec_verifier(), token_ec), JwtError::unsupported_alg);
}

TEST(JwtAlg, Rs256WhenOnlyASecretIsConfigured) {
  const std::string token = Signer::private_key_pem(Algorithm::RS256, rsa().private_pem).sign(claims_json());
  EXPECT_EQ(verify(hmac_verifier(), token), JwtError::unsupported_alg);
}

TEST(JwtAlg, Es256TokenGivenToAnRsaKey) {
  const std::string token = Signer::private_key_pem(Algorithm::ES256, ec().private_pem).sign(claims_json());
  EXPECT_EQ(verify(rsa_verifier(), token), JwtError::unsupported_alg);
}

TEST(JwtAlg, Rs256TokenGivenToAnEcKey) {
  const std::string token = Signer::private_key_pem(Algorithm::RS256, rsa().private_pem).sign(claims_json());
  EXPECT_EQ(verify(ec_verifier(), token), JwtError::unsupported_alg);
}

TEST(JwtAlg, HmacTokenWhenNoSecretIsConfigured) {
  EXPECT_EQ(verify(ec_verifier(), hs256(claims_json())), JwtError::unsupported_alg);
}

TEST(JwtAlg, UnknownAlg) {
  const Signer signer = Signer::hmac(Algorithm::HS256, kSecret);
  for (const char* alg : {"HS1024", "hs256", "PS256", "RS512", "ES384", "EdDSA", "", "HS256 "}) {
    const std::string token =
        signer.sign_with_header(std::string(R"({"alg":")") + alg + "\"}", claims_json());
    EXPECT_EQ(verify(hmac_verifier(), token), JwtError::unsupported_alg) << alg;
  }
}

TEST(JwtAlg, AlgMissing) {
  const std::string token =
      Signer::hmac(Algorithm::HS256, kSecret).sign_with_header(R"({"typ":"JWT"})", claims_json());
  EXPECT_EQ(verify(hmac_verifier(), token), JwtError::malformed);
}

TEST(JwtAlg, AlgNotAString) {
  const Signer signer = Signer::hmac(Algorithm::HS256, kSecret);
  EXPECT_EQ(verify(hmac_verifier(), signer.sign_with_header(R"({"alg":256})", claims_json())),
            JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), signer.sign_with_header(R"({"alg":["HS256"]})", claims_json())),
            JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), signer.sign_with_header(R"({"alg":null})", claims_json())),
            JwtError::malformed);
}

TEST(JwtAlg, DuplicateAlgIsMalformed) {
  const Signer signer = Signer::hmac(Algorithm::HS256, kSecret);
  EXPECT_EQ(
      verify(hmac_verifier(), signer.sign_with_header(R"({"alg":"HS256","alg":"none"})", claims_json())),
      JwtError::malformed);
}

TEST(JwtAlg, EscapedAlgIsUnderstood) {
  const Signer signer = Signer::hmac(Algorithm::HS256, kSecret);
  EXPECT_EQ(
      verify(hmac_verifier(), signer.sign_with_header(R"({"\u0061lg":"HS\u00325\u0036"})", claims_json())),
      JwtError::ok);
}

TEST(JwtAlg, CritHeaderIsRefused) {
  const Signer signer = Signer::hmac(Algorithm::HS256, kSecret);
  EXPECT_EQ(verify(hmac_verifier(),
                   signer.sign_with_header(R"({"alg":"HS256","crit":["b64"],"b64":false})", claims_json())),
            JwtError::malformed);
}

TEST(JwtAlg, NoKeysAtAll) {
  const Verifier v(VerifierOptions{});
  EXPECT_FALSE(v.has_keys());
  EXPECT_EQ(verify(v, hs256(claims_json())), JwtError::unsupported_alg);
}

TEST(JwtAlg, EmptySecretIsNotAKey) {
  Verifier v(VerifierOptions{});
  v.set_hmac_secret("");
  EXPECT_FALSE(v.has_keys());
  EXPECT_EQ(verify(v, Signer::hmac(Algorithm::HS256, "").sign(claims_json())), JwtError::unsupported_alg);
}

// ----- issuer and audience --------------------------------------------------------------------

VerifierOptions with_issuer(std::string issuer) {
  VerifierOptions options;
  options.issuer = std::move(issuer);
  return options;
}

VerifierOptions with_audience(std::string audience) {
  VerifierOptions options;
  options.audience = std::move(audience);
  return options;
}

TEST(JwtIssuer, Match) {
  EXPECT_EQ(verify(hmac_verifier(with_issuer("https://idp.example")),
                   hs256(claims_json("u1", kNow + 60, R"("iss":"https://idp.example")"))),
            JwtError::ok);
}

TEST(JwtIssuer, Mismatch) {
  EXPECT_EQ(verify(hmac_verifier(with_issuer("https://idp.example")),
                   hs256(claims_json("u1", kNow + 60, R"("iss":"https://evil.example")"))),
            JwtError::bad_issuer);
}

TEST(JwtIssuer, Missing) {
  EXPECT_EQ(verify(hmac_verifier(with_issuer("https://idp.example")), hs256(claims_json())),
            JwtError::bad_issuer);
}

TEST(JwtIssuer, NotAString) {
  EXPECT_EQ(verify(hmac_verifier(with_issuer("1")), hs256(claims_json("u1", kNow + 60, R"("iss":1)"))),
            JwtError::bad_issuer);
}

TEST(JwtIssuer, IgnoredWhenNotConfigured) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(claims_json("u1", kNow + 60, R"("iss":42,"aud":{"x":1})"))),
            JwtError::ok);
}

TEST(JwtAudience, StringMatch) {
  EXPECT_EQ(verify(hmac_verifier(with_audience("signaling")),
                   hs256(claims_json("u1", kNow + 60, R"("aud":"signaling")"))),
            JwtError::ok);
}

TEST(JwtAudience, ArrayMatch) {
  EXPECT_EQ(verify(hmac_verifier(with_audience("signaling")),
                   hs256(claims_json("u1", kNow + 60, R"("aud":["billing","signaling"])"))),
            JwtError::ok);
}

TEST(JwtAudience, StringMismatch) {
  EXPECT_EQ(verify(hmac_verifier(with_audience("signaling")),
                   hs256(claims_json("u1", kNow + 60, R"("aud":"billing")"))),
            JwtError::bad_audience);
}

TEST(JwtAudience, ArrayMismatch) {
  EXPECT_EQ(verify(hmac_verifier(with_audience("signaling")),
                   hs256(claims_json("u1", kNow + 60, R"("aud":["billing","chat"])"))),
            JwtError::bad_audience);
  EXPECT_EQ(
      verify(hmac_verifier(with_audience("signaling")), hs256(claims_json("u1", kNow + 60, R"("aud":[])"))),
      JwtError::bad_audience);
}

TEST(JwtAudience, Missing) {
  EXPECT_EQ(verify(hmac_verifier(with_audience("signaling")), hs256(claims_json())), JwtError::bad_audience);
}

TEST(JwtAudience, WrongTypes) {
  const Verifier v = hmac_verifier(with_audience("signaling"));
  EXPECT_EQ(verify(v, hs256(claims_json("u1", kNow + 60, R"("aud":["signaling",1])"))),
            JwtError::bad_audience);
  EXPECT_EQ(verify(v, hs256(claims_json("u1", kNow + 60, R"("aud":{"signaling":true})"))),
            JwtError::bad_audience);
  EXPECT_EQ(verify(v, hs256(claims_json("u1", kNow + 60, R"("aud":null)"))), JwtError::bad_audience);
}

// ----- subject and display name ---------------------------------------------------------------

TEST(JwtSubject, Missing) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"exp":1900000000})")), JwtError::missing_subject);
}

TEST(JwtSubject, Empty) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(claims_json(""))), JwtError::missing_subject);
}

TEST(JwtSubject, NotAString) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":42,"exp":1900000000})")), JwtError::missing_subject);
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":null,"exp":1900000000})")), JwtError::missing_subject);
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":["u1"],"exp":1900000000})")), JwtError::missing_subject);
}

TEST(JwtSubject, UnicodeEscapesDecoded) {
  Claims claims;
  ASSERT_FALSE(
      hmac_verifier().verify(hs256(R"({"sub":"J\u00fcrgen \"x\"","exp":1900000000})"), kNow, claims));
  EXPECT_EQ(claims.subject, "J\xc3\xbcrgen \"x\"");
}

TEST(JwtDisplayName, Present) {
  Claims claims;
  ASSERT_FALSE(
      hmac_verifier().verify(hs256(claims_json("u1", kNow + 60, R"("name":"Carol")")), kNow, claims));
  EXPECT_EQ(claims.display_name, "Carol");
}

TEST(JwtDisplayName, Absent) {
  Claims claims;
  claims.display_name = "stale";
  ASSERT_FALSE(hmac_verifier().verify(hs256(claims_json()), kNow, claims));
  EXPECT_EQ(claims.display_name, "");
}

TEST(JwtDisplayName, CustomClaimName) {
  VerifierOptions options;
  options.name_claim = "preferred_username";
  Claims claims;
  ASSERT_FALSE(hmac_verifier(options).verify(
      hs256(claims_json("u1", kNow + 60, R"("name":"Ignored","preferred_username":"dave")")), kNow, claims));
  EXPECT_EQ(claims.display_name, "dave");
}

TEST(JwtDisplayName, NotAString) {
  Claims claims;
  ASSERT_FALSE(
      hmac_verifier().verify(hs256(claims_json("u1", kNow + 60, R"("name":{"first":"Eve"})")), kNow, claims));
  EXPECT_EQ(claims.display_name, "");
  ASSERT_FALSE(hmac_verifier().verify(hs256(claims_json("u1", kNow + 60, R"("name":7)")), kNow, claims));
  EXPECT_EQ(claims.display_name, "");
}

// ----- malformed tokens -----------------------------------------------------------------------

TEST(JwtMalformed, TwoParts) {
  const std::string token = hs256(claims_json());
  EXPECT_EQ(verify(hmac_verifier(), token.substr(0, token.rfind('.'))), JwtError::malformed);
}

TEST(JwtMalformed, FourParts) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(claims_json()) + ".AAAA"), JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), hs256(claims_json()) + "."), JwtError::malformed);
}

TEST(JwtMalformed, OnlyDots) {
  EXPECT_EQ(verify(hmac_verifier(), ".."), JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), "..."), JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), "."), JwtError::malformed);
}

TEST(JwtMalformed, BadBase64Url) {
  const std::string token = hs256(claims_json());
  std::string bad_header = token;
  bad_header[3] = '+';
  EXPECT_EQ(verify(hmac_verifier(), bad_header), JwtError::malformed);
  std::string bad_payload = token;
  bad_payload[token.find('.') + 2] = '/';
  EXPECT_EQ(verify(hmac_verifier(), bad_payload), JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), token + "="), JwtError::malformed);   // padding
  EXPECT_EQ(verify(hmac_verifier(), token + "AA"), JwtError::malformed);  // 43 + 2: impossible length (4n+1)
  std::string space = token;
  space.insert(token.find('.') + 1, " ");
  EXPECT_EQ(verify(hmac_verifier(), space), JwtError::malformed);
  std::string nul = token;
  nul[token.size() - 2] = '\0';
  EXPECT_EQ(verify(hmac_verifier(), nul), JwtError::malformed);
}

TEST(JwtMalformed, HeaderNotJson) {
  const std::string token =
      Signer::hmac(Algorithm::HS256, kSecret).sign_with_header("alg=HS256", claims_json());
  EXPECT_EQ(verify(hmac_verifier(), token), JwtError::malformed);
  const std::string truncated =
      Signer::hmac(Algorithm::HS256, kSecret).sign_with_header(R"({"alg":"HS256")", claims_json());
  EXPECT_EQ(verify(hmac_verifier(), truncated), JwtError::malformed);
  const std::string trailing =
      Signer::hmac(Algorithm::HS256, kSecret).sign_with_header(R"({"alg":"HS256"}x)", claims_json());
  EXPECT_EQ(verify(hmac_verifier(), trailing), JwtError::malformed);
}

TEST(JwtMalformed, HeaderJsonButNotAnObject) {
  const Signer signer = Signer::hmac(Algorithm::HS256, kSecret);
  EXPECT_EQ(verify(hmac_verifier(), signer.sign_with_header(R"(["HS256"])", claims_json())),
            JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), signer.sign_with_header(R"("HS256")", claims_json())),
            JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), signer.sign_with_header("", claims_json())), JwtError::malformed);
}

TEST(JwtMalformed, PayloadAJsonArray) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"([{"sub":"u1","exp":1900000000}])")), JwtError::malformed);
}

TEST(JwtMalformed, PayloadNotJson) {
  EXPECT_EQ(verify(hmac_verifier(), hs256(R"({"sub":"u1","exp":1900000000)")), JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), hs256("sub=u1")), JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), hs256("")), JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), hs256("{\"sub\":\"\xff\xfe\",\"exp\":1900000000}")), JwtError::malformed);
}

TEST(JwtMalformed, EmptyString) {
  EXPECT_EQ(verify(hmac_verifier(), ""), JwtError::malformed);
}

TEST(JwtMalformed, HugeToken) {
  const std::string big_name(20000, 'x');
  const std::string token = hs256(claims_json("u1", kNow + 60, "\"name\":\"" + big_name + "\""));
  EXPECT_EQ(verify(hmac_verifier(), token), JwtError::malformed);
  EXPECT_EQ(verify(hmac_verifier(), std::string(1 << 20, 'A')), JwtError::malformed);
}

TEST(JwtMalformed, MaxTokenLengthConfigurable) {
  const std::string big_name(20000, 'x');
  const std::string token = hs256(claims_json("u1", kNow + 60, "\"name\":\"" + big_name + "\""));
  VerifierOptions options;
  options.max_token_length = 64 * 1024;
  Claims claims;
  ASSERT_FALSE(hmac_verifier(options).verify(token, kNow, claims));
  EXPECT_EQ(claims.display_name, big_name);
}

// ----- base64url ------------------------------------------------------------------------------

TEST(Base64Url, KnownVectors) {
  // RFC 4648 section 10, without padding.
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_");  // the url-safe characters
  EXPECT_EQ(base64url_decode("Zm9vYmE"), std::optional<std::string>("fooba"));
  EXPECT_EQ(base64url_decode("-_-_"), std::optional<std::string>("\xfb\xff\xbf"));
  EXPECT_EQ(base64url_decode(""), std::optional<std::string>(""));
}

TEST(Base64Url, RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 600; ++i) {
    const auto encoded = base64url_encode(bytes);
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    const auto decoded = base64url_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << i;
    ASSERT_EQ(*decoded, bytes) << i;
    bytes.push_back(static_cast<char>(static_cast<unsigned char>((i * 131 + 7) & 0xff)));
  }
}

TEST(Base64Url, RejectsInvalidCharacters) {
  for (const char* bad : {"Zm9v+", "Zm9/", "Zm8=", "Zg==", "Zm 9v", "Zm9v\n", "Zm\x80v", "Zm.v"}) {
    EXPECT_FALSE(base64url_decode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(base64url_decode(std::string_view("Zm\0v", 4)).has_value());
}

TEST(Base64Url, RejectsImpossibleLength) {
  EXPECT_FALSE(base64url_decode("Z").has_value());
  EXPECT_FALSE(base64url_decode("Zm9vY").has_value());
}

TEST(Base64Url, RejectsNonCanonicalTrailingBits) {
  EXPECT_TRUE(base64url_decode("Zg").has_value());
  EXPECT_FALSE(base64url_decode("Zh").has_value());
  EXPECT_TRUE(base64url_decode("Zm8").has_value());
  EXPECT_FALSE(base64url_decode("Zm9").has_value());
}

// ----- keys, errors, objects ------------------------------------------------------------------

TEST(JwtKeys, GarbagePublicKeyThrows) {
  Verifier v(VerifierOptions{});
  EXPECT_THROW(v.set_public_key_pem("not a pem"), std::runtime_error);
  EXPECT_THROW(v.set_public_key_pem(""), std::runtime_error);
  EXPECT_FALSE(v.has_keys());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(JwtKeys, NonP256EcKeyThrows) {
  Verifier v(VerifierOptions{});
  EXPECT_THROW(v.set_public_key_pem(ec_keys("P-384").public_pem), std::runtime_error);
}

TEST(JwtKeys, ShortRsaKeyThrows) {
  Verifier v(VerifierOptions{});
  EXPECT_THROW(v.set_public_key_pem(rsa_keys(1024).public_pem), std::runtime_error);
}

TEST(JwtKeys, PrivateKeyPemIsNotAPublicKey) {
  Verifier v(VerifierOptions{});
  EXPECT_THROW(v.set_public_key_pem(ec().private_pem), std::runtime_error);
}

TEST(JwtKeys, HasKeys) {
  Verifier v(VerifierOptions{});
  EXPECT_FALSE(v.has_keys());
  v.set_public_key_pem(ec().public_pem);
  EXPECT_TRUE(v.has_keys());
}

TEST(JwtKeys, SignerKeyKindMustMatchAlg) {
  EXPECT_THROW(Signer::private_key_pem(Algorithm::RS256, ec().private_pem), std::runtime_error);
  EXPECT_THROW(Signer::private_key_pem(Algorithm::ES256, rsa().private_pem), std::runtime_error);
  EXPECT_THROW(Signer::private_key_pem(Algorithm::ES256, "garbage"), std::runtime_error);
  EXPECT_THROW(Signer::private_key_pem(Algorithm::HS256, rsa().private_pem), std::invalid_argument);
  EXPECT_THROW(Signer::hmac(Algorithm::RS256, kSecret), std::invalid_argument);
}

TEST(JwtKeys, SignerHeaderShape) {
  const std::string token = hs256(claims_json());
  EXPECT_EQ(*base64url_decode(token.substr(0, token.find('.'))), R"({"alg":"HS256","typ":"JWT"})");
}

TEST(JwtErrors, CategoryAndNames) {
  const std::error_code ec = JwtError::bad_signature;
  EXPECT_EQ(std::string(ec.category().name()), "jwt");
  EXPECT_FALSE(ec.message().empty());
  EXPECT_FALSE(std::error_code(JwtError::ok));
  EXPECT_EQ(sig::auth::to_string(JwtError::unsupported_alg), "unsupported_alg");
  EXPECT_EQ(sig::auth::to_string(JwtError::missing_subject), "missing_subject");
  EXPECT_EQ(sig::auth::to_string(JwtError::ok), "ok");
}

TEST(JwtObjects, MovedVerifierStillVerifies) {
  Verifier a = hmac_verifier();
  Verifier b = std::move(a);
  EXPECT_EQ(verify(b, hs256(claims_json())), JwtError::ok);
  Verifier c(VerifierOptions{});
  c = std::move(b);
  EXPECT_EQ(verify(c, hs256(claims_json())), JwtError::ok);
}

TEST(JwtObjects, ConcurrentVerification) {
  Verifier v(VerifierOptions{});
  v.set_hmac_secret(kSecret);
  v.set_public_key_pem(rsa().public_pem);
  v.set_public_key_pem(ec().public_pem);
  const std::vector<std::string> good = {
      hs256(claims_json("h")),
      Signer::private_key_pem(Algorithm::RS256, rsa().private_pem).sign(claims_json("r")),
      Signer::private_key_pem(Algorithm::ES256, ec().private_pem).sign(claims_json("e")),
  };
  const std::string bad = flip_char(good[0], good[0].size() - 3);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Claims claims;
      for (int i = 0; i < 200; ++i) {
        const std::string& token = good[static_cast<std::size_t>(i) % good.size()];
        if (v.verify(token, kNow, claims)) ++failures;
        if (v.verify(bad, kNow, claims) != std::error_code(JwtError::bad_signature)) ++failures;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
