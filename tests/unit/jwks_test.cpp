// Unit tests of the JWK Set parser (src/auth/jwks.hpp) and of key sets in the verifier (kid
// selection, swaps while other threads verify).
#include "auth/jwks.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "auth/jwt.hpp"
#include "auth/key_set.hpp"

namespace {

using sig::auth::Algorithm;
using sig::auth::base64url_encode;
using sig::auth::Claims;
using sig::auth::JwtError;
using sig::auth::KeySet;
using sig::auth::parse_jwks;
using sig::auth::Signer;
using sig::auth::Verifier;
using sig::auth::VerifierOptions;

constexpr std::int64_t kNow = 1'800'000'000;
const std::string kPayload = R"({"sub":"u1","exp":1800003600})";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A generated key: its private PEM (to sign) and its public JWK members.
struct TestKey {
  std::string private_pem;
  std::string jwk_members;  // "kty":...,"n":...,"e":... (no braces)
};

std::string bn_param(EVP_PKEY* key, const char* name, std::size_t pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error("get_bn_param");
  std::string bytes(pad != 0 ? pad : static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  BN_free(bn);
  return base64url_encode(bytes);
}

std::string private_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

TestKey make_rsa(unsigned bits = 2048) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)));
  return {private_pem(key.get()), R"("kty":"RSA","n":")" + bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N) +
                                      R"(","e":")" + bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E) + "\""};
}

TestKey make_ec() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  return {private_pem(key.get()), R"("kty":"EC","crv":"P-256","x":")" +
                                      bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32) + R"(","y":")" +
                                      bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32) + "\""};
}

const TestKey& rsa1() {
  static const TestKey k = make_rsa();
  return k;
}
const TestKey& rsa2() {
  static const TestKey k = make_rsa();
  return k;
}
const TestKey& ec1() {
  static const TestKey k = make_ec();
  return k;
}

const std::string kOct = "0123456789abcdef0123456789abcdef-oct";  // 36 bytes
std::string oct_members(const std::string& secret = kOct) {
  return R"("kty":"oct","k":")" + base64url_encode(secret) + "\"";
}

std::string jwk(const std::string& members, const std::string& kid = "", const std::string& extra = "") {
  std::string out = "{" + members;
  if (!kid.empty()) out += R"(,"kid":")" + kid + "\"";
  if (!extra.empty()) out += "," + extra;
  return out + "}";
}

std::string jwks(const std::vector<std::string>& keys) {
  std::string out = R"({"keys":[)";
  for (std::size_t i = 0; i < keys.size(); ++i)
    out += (i ? "," : "") + keys[i];
  return out + "]}";
}

std::string header(const char* alg, const std::string& kid) {
  std::string h = std::string(R"({"alg":")") + alg + R"(","typ":"JWT")";
  if (!kid.empty()) h += R"(,"kid":")" + kid + "\"";
  return h + "}";
}

std::string sign_pem(Algorithm alg, const TestKey& key, const std::string& kid) {
  return Signer::private_key_pem(alg, key.private_pem)
      .sign_with_header(header(alg == Algorithm::RS256 ? "RS256" : "ES256", kid), kPayload);
}

std::string sign_hs(Algorithm alg, const std::string& secret, const std::string& kid) {
  const char* name = alg == Algorithm::HS256 ? "HS256" : alg == Algorithm::HS384 ? "HS384" : "HS512";
  return Signer::hmac(alg, secret).sign_with_header(header(name, kid), kPayload);
}

JwtError verify(const Verifier& v, const std::string& token) {
  Claims claims;
  const auto ec = v.verify(token, kNow, claims);
  return ec ? static_cast<JwtError>(ec.value()) : JwtError::ok;
}

Verifier verifier_of(const std::string& document) {
  auto parsed = parse_jwks(document);
  EXPECT_TRUE(parsed.ok()) << parsed.error;
  Verifier v(VerifierOptions{});
  v.set_keys(parsed.keys);
  return v;
}

// ----- the parser -----------------------------------------------------------------------------

TEST(Jwks, ParsesRsaEcAndOctKeysAndBindsEachToItsAlgorithm) {
  const auto parsed = parse_jwks(jwks({jwk(rsa1().jwk_members, "r1", R"("use":"sig","alg":"RS256")"),
                                       jwk(ec1().jwk_members, "e1"), jwk(oct_members(), "o1")}));
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  EXPECT_TRUE(parsed.skipped.empty());
  EXPECT_EQ(parsed.keys.describe(), (std::vector<std::string>{"kid=r1 alg=RS256", "kid=e1 alg=ES256",
                                                              "kid=o1 alg=HS256/HS384/HS512"}));
}

TEST(Jwks, SkipsUnusableKeysWithAReasonAndKeepsTheOthers) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {jwk(rsa1().jwk_members, "enc", R"("use":"enc")"), "\"use\""},
      {jwk(rsa1().jwk_members, "ps", R"("alg":"PS256")"), "PS256"},
      {jwk(rsa1().jwk_members, "es", R"("alg":"ES256")"), "does not fit"},
      {jwk(ec1().jwk_members, "priv", R"("d":"AAAA")"), "private"},
      {jwk(R"("kty":"EC","crv":"P-384","x":"AA","y":"AA")", "p384"), "P-384"},
      {jwk(R"("kty":"OKP","crv":"Ed25519","x":"AA")", "okp"), "OKP"},
      {jwk(oct_members("short"), "short"), "bytes"},
      {jwk(oct_members(), "rs", R"("alg":"RS256")"), "does not fit"},
      {jwk(rsa1().jwk_members, "ops", R"("key_ops":["encrypt"])"), "key_ops"},
      {jwk(R"("kty":"RSA","n":"AQAB","e":"AQAB")", "tiny"), "bits"},
      {jwk(R"("kty":"RSA","e":"AQAB")", "non"), "\"n\" is missing"},
      {jwk(R"("kty":"oct","k":"not base64!")", "b64"), "base64url"},
      {jwk(rsa1().jwk_members, "", R"("kid":7)"), "not a string"},
      {jwk(oct_members(), "twice", R"("kty":"oct")"), "twice"},
      {"42", "not an object"},
  };
  for (const auto& [key, why] : bad) {
    const auto parsed = parse_jwks(jwks({key, jwk(oct_members(), "good")}));
    ASSERT_TRUE(parsed.ok()) << key;
    EXPECT_EQ(parsed.keys.size(), 1U) << key;
    ASSERT_EQ(parsed.skipped.size(), 1U) << key;
    EXPECT_NE(parsed.skipped[0].find(why), std::string::npos) << parsed.skipped[0];
  }
}

TEST(Jwks, AnEcPointOffTheCurveIsSkipped) {
  const std::string x = base64url_encode(std::string(32, '\x01')),
                    y = base64url_encode(std::string(32, '\x02'));
  const auto parsed =
      parse_jwks(jwks({jwk(R"("kty":"EC","crv":"P-256","x":")" + x + R"(","y":")" + y + "\"")}));
  EXPECT_FALSE(parsed.ok());
  ASSERT_EQ(parsed.skipped.size(), 1U);
}

TEST(Jwks, RsaModulusBoundsAndALeadingZeroOctet) {
  EXPECT_FALSE(parse_jwks(jwks({jwk(make_rsa(1024).jwk_members)})).ok());
  // A modulus with a leading zero octet (some libraries write 257 bytes for 2048 bits).
  std::string members = rsa1().jwk_members;
  const auto n_at = members.find(R"("n":")") + 5;
  const auto n_end = members.find('"', n_at);
  auto n = sig::auth::base64url_decode(members.substr(n_at, n_end - n_at));
  members.replace(n_at, n_end - n_at, base64url_encode(std::string(1, '\0') + *n));
  const auto v = verifier_of(jwks({jwk(members, "z")}));
  EXPECT_EQ(verify(v, sign_pem(Algorithm::RS256, rsa1(), "z")), JwtError::ok);
}

TEST(Jwks, RefusesDocumentsThatAreNotKeySetsOrTooLargeOrWithoutUsableKeys) {
  EXPECT_FALSE(parse_jwks("").ok());
  EXPECT_FALSE(parse_jwks("[]").ok());
  EXPECT_FALSE(parse_jwks(R"({"keys":{}})").ok());
  EXPECT_FALSE(parse_jwks(R"({"keys":[]})").ok());
  EXPECT_FALSE(parse_jwks(R"({"keys":[],"keys":[]})").ok());
  EXPECT_FALSE(parse_jwks(R"({"other":[]})").ok());
  EXPECT_FALSE(parse_jwks(jwks({jwk(rsa1().jwk_members, "enc", R"("use":"enc")")})).ok());
  sig::auth::JwksLimits small;
  small.max_keys = 2;
  EXPECT_FALSE(parse_jwks(jwks({jwk(oct_members()), jwk(oct_members()), jwk(oct_members())}), small).ok());
  small.max_bytes = 10;
  EXPECT_FALSE(parse_jwks(jwks({jwk(oct_members())}), small).ok());
}

// ----- key selection in the verifier ----------------------------------------------------------

TEST(KeySets, TheKidPicksTheKeyAndAnUnknownKidIsRefused) {
  const auto v = verifier_of(jwks({jwk(rsa1().jwk_members, "old"), jwk(rsa2().jwk_members, "new"),
                                   jwk(ec1().jwk_members, "ec"), jwk(oct_members(), "hs")}));
  EXPECT_EQ(verify(v, sign_pem(Algorithm::RS256, rsa1(), "old")), JwtError::ok);
  EXPECT_EQ(verify(v, sign_pem(Algorithm::RS256, rsa2(), "new")), JwtError::ok);
  EXPECT_EQ(verify(v, sign_pem(Algorithm::RS256, rsa1(), "new")), JwtError::bad_signature);
  EXPECT_EQ(verify(v, sign_pem(Algorithm::ES256, ec1(), "ec")), JwtError::ok);
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS384, kOct, "hs")), JwtError::ok);
  EXPECT_EQ(verify(v, sign_pem(Algorithm::RS256, rsa1(), "gone")), JwtError::unknown_kid);
  // A kid of another kind of key: no algorithm confusion (the HS secret is not an RSA key).
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, kOct, "old")), JwtError::unsupported_alg);
  EXPECT_EQ(verify(v, sign_pem(Algorithm::ES256, ec1(), "hs")), JwtError::unsupported_alg);
}

TEST(KeySets, AnOctKeyWithAnAlgVerifiesThatAlgOnly) {
  const auto v = verifier_of(jwks({jwk(oct_members(), "h5", R"("alg":"HS512")")}));
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS512, kOct, "h5")), JwtError::ok);
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, kOct, "h5")), JwtError::unsupported_alg);
}

TEST(KeySets, TokensWithoutKidUseTheKeysWithoutKid) {
  KeySet set;
  set.add_hmac_secret("", "plain-secret-without-kid-0123456789");
  set.add_hmac_secret("k1", "secret-of-k1-0123456789abcdef");
  Verifier v(VerifierOptions{});
  v.set_keys(set);
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, "plain-secret-without-kid-0123456789", "")), JwtError::ok);
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, "secret-of-k1-0123456789abcdef", "")),
            JwtError::bad_signature);
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, "secret-of-k1-0123456789abcdef", "k1")), JwtError::ok);
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, "plain-secret-without-kid-0123456789", "k1")),
            JwtError::bad_signature);
}

TEST(KeySets, AKidNoKeyHasFallsBackToTheKeysWithoutKid) {
  // An identity provider signs with its single key and always sets a kid; a server configured
  // with that key as a plain secret (or --jwt-public-key) keeps accepting its tokens.
  KeySet set;
  set.add_hmac_secret("", "plain-secret-without-kid-0123456789");
  set.add_hmac_secret("k1", "secret-of-k1-0123456789abcdef");
  Verifier v(VerifierOptions{});
  std::string heard;
  v.set_unknown_kid_listener([&heard](std::string_view kid) { heard = kid; });
  v.set_keys(set);
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, "plain-secret-without-kid-0123456789", "idp-2026")),
            JwtError::ok);
  EXPECT_EQ(heard, "idp-2026");  // a JWKS URL, if any, still hears of it
  // The fallback is to the kid-less keys only: k1's secret under an unknown kid does not verify.
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, "secret-of-k1-0123456789abcdef", "idp-2026")),
            JwtError::bad_signature);
  // Algorithm binding holds in the fallback: the HS secret is not an RSA key.
  EXPECT_EQ(verify(v, sign_pem(Algorithm::RS256, rsa1(), "idp-2026")), JwtError::unsupported_alg);
}

TEST(KeySets, WithoutKidlessKeysATokenWithoutKidTriesTheKeysOfItsAlg) {
  const auto v = verifier_of(jwks({jwk(rsa1().jwk_members, "a"), jwk(rsa2().jwk_members, "b")}));
  EXPECT_EQ(verify(v, sign_pem(Algorithm::RS256, rsa2(), "")), JwtError::ok);
  EXPECT_EQ(verify(v, sign_pem(Algorithm::ES256, ec1(), "")), JwtError::unsupported_alg);
}

TEST(KeySets, UnknownKidListenerHearsTheKid) {
  auto v = verifier_of(jwks({jwk(oct_members(), "a")}));
  std::string heard;
  v.set_unknown_kid_listener([&heard](std::string_view kid) { heard = kid; });
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, kOct, "zz")), JwtError::unknown_kid);
  EXPECT_EQ(heard, "zz");
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, kOct, "a")), JwtError::ok);
}

TEST(KeySets, AKidThatIsNotAStringIsMalformed) {
  const auto v = verifier_of(jwks({jwk(oct_members(), "a")}));
  const auto token =
      Signer::hmac(Algorithm::HS256, kOct).sign_with_header(R"({"alg":"HS256","kid":1})", kPayload);
  EXPECT_EQ(verify(v, token), JwtError::malformed);
}

TEST(KeySets, LegacySettersKeepTheOtherKeys) {
  Verifier v(VerifierOptions{});
  KeySet set;
  set.add_hmac_secret("k", kOct);
  v.set_keys(set);
  v.set_hmac_secret("legacy-secret-0123456789abcdef");
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, kOct, "k")), JwtError::ok);
  EXPECT_EQ(verify(v, sign_hs(Algorithm::HS256, "legacy-secret-0123456789abcdef", "")), JwtError::ok);
  v.set_hmac_secret("");
  EXPECT_EQ(v.keys()->size(), 1U);
}

TEST(KeySets, SwappingTheSetWhileOtherThreadsVerify) {
  Verifier v(VerifierOptions{});
  KeySet a, b;
  a.add_hmac_secret("a", kOct);
  b.add_hmac_secret("b", kOct);
  v.set_keys(a);
  const std::string token_a = sign_hs(Algorithm::HS256, kOct, "a");
  const std::string token_b = sign_hs(Algorithm::HS256, kOct, "b");
  std::atomic<int> running{2};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 3000; ++i) {
        const auto ra = verify(v, token_a), rb = verify(v, token_b);
        // Each token is either accepted or refused as an unknown kid: never anything else.
        if ((ra != JwtError::ok && ra != JwtError::unknown_kid) ||
            (rb != JwtError::ok && rb != JwtError::unknown_kid))
          ++bad;
      }
      --running;
    });
  }
  int swaps = 0;
  while (running.load() > 0 && swaps < 10'000'000)
    v.set_keys(++swaps % 2 ? a : b);
  for (auto& t : threads)
    t.join();
  EXPECT_GT(swaps, 10);
  EXPECT_EQ(bad.load(), 0);
  v.set_keys(b);
  EXPECT_EQ(verify(v, token_a), JwtError::unknown_kid);
  EXPECT_EQ(verify(v, token_b), JwtError::ok);
}

}  // namespace
