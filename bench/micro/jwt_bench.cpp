// Micro-benchmark of Verifier::verify (the join path) for HS256, RS256 and ES256 tokens.
// Keys are generated at start-up with the OpenSSL API, so the benchmark needs no files.
#include <benchmark/benchmark.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "auth/jwt.hpp"

namespace {

using sig::auth::Algorithm;
using sig::auth::Claims;
using sig::auth::Signer;
using sig::auth::Verifier;
using sig::auth::VerifierOptions;

constexpr std::int64_t kNow = 1'800'000'000;
const char* const kPayload =
    R"({"sub":"user-42","name":"Alice Example","iss":"https://idp.example","aud":"signaling",)"
    R"("iat":1799999000,"exp":1800003600})";

struct Pems {
  std::string private_pem;
  std::string public_pem;
};

Pems generate(const char* type, const char* curve) {
  EVP_PKEY* key = curve != nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve)
                                   : EVP_PKEY_Q_keygen(nullptr, nullptr, type, std::size_t{2048});
  if (key == nullptr) throw std::runtime_error("key generation failed");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> owner(key, &EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), &BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> pub(BIO_new(BIO_s_mem()), &BIO_free);
  if (PEM_write_bio_PrivateKey(priv.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key) != 1) {
    throw std::runtime_error("PEM export failed");
  }
  const auto text = [](BIO* bio) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(len));
  };
  return {text(priv.get()), text(pub.get())};
}

VerifierOptions options() {
  VerifierOptions o;
  o.issuer = "https://idp.example";
  o.audience = "signaling";
  return o;
}

void run(benchmark::State& state, const Verifier& verifier, const std::string& token, bool expect_ok) {
  Claims claims;
  for (auto _ : state) {
    const std::error_code ec = verifier.verify(token, kNow, claims);
    benchmark::DoNotOptimize(ec);
    if (static_cast<bool>(ec) == expect_ok) {
      state.SkipWithError("unexpected verification result");
      break;
    }
  }
  benchmark::DoNotOptimize(claims);
  state.SetItemsProcessed(state.iterations());
}

void BM_VerifyHs256(benchmark::State& state) {
  Verifier verifier(options());
  verifier.set_hmac_secret("a-benchmark-secret-of-32-bytes!!");
  const std::string token = Signer::hmac(Algorithm::HS256, "a-benchmark-secret-of-32-bytes!!").sign(kPayload);
  run(state, verifier, token, true);
}
BENCHMARK(BM_VerifyHs256);

void BM_VerifyHs256BadSignature(benchmark::State& state) {
  Verifier verifier(options());
  verifier.set_hmac_secret("a-benchmark-secret-of-32-bytes!!");
  const std::string token = Signer::hmac(Algorithm::HS256, "another-secret").sign(kPayload);
  run(state, verifier, token, false);
}
BENCHMARK(BM_VerifyHs256BadSignature);

void BM_VerifyRs256(benchmark::State& state) {
  static const Pems pems = generate("RSA", nullptr);
  Verifier verifier(options());
  verifier.set_public_key_pem(pems.public_pem);
  const std::string token = Signer::private_key_pem(Algorithm::RS256, pems.private_pem).sign(kPayload);
  run(state, verifier, token, true);
}
BENCHMARK(BM_VerifyRs256);

void BM_VerifyEs256(benchmark::State& state) {
  static const Pems pems = generate("EC", "P-256");
  Verifier verifier(options());
  verifier.set_public_key_pem(pems.public_pem);
  const std::string token = Signer::private_key_pem(Algorithm::ES256, pems.private_pem).sign(kPayload);
  run(state, verifier, token, true);
}
BENCHMARK(BM_VerifyEs256);

}  // namespace

BENCHMARK_MAIN();
