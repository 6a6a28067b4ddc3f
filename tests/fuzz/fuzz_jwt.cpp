// Fuzz target: any input, verified as a token, must give an error code or claims, never a crash.
// The input is also signed as a payload with the verifier's secret and verified, so the fuzzer
// reaches the JSON and claim checks behind the signature; and it goes through base64url.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "auth/jwt.hpp"

namespace {

constexpr std::string_view kFuzzSecret = "fuzz-secret";
constexpr std::int64_t kFuzzNow = 1'800'000'000;

const sig::auth::Verifier& verifier() {
  static const sig::auth::Verifier v = [] {
    sig::auth::VerifierOptions options;
    options.audience = "signaling";
    sig::auth::Verifier made(std::move(options));
    made.set_hmac_secret(std::string(kFuzzSecret));
    return made;
  }();
  return v;
}

const sig::auth::Verifier& plain_verifier() {
  static const sig::auth::Verifier v = [] {
    sig::auth::Verifier made(sig::auth::VerifierOptions{});
    made.set_hmac_secret(std::string(kFuzzSecret));
    return made;
  }();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  sig::auth::Claims claims;
  const std::error_code ec = plain_verifier().verify(input, kFuzzNow, claims);
  if (!ec && claims.subject.empty()) std::abort();  // success always carries a subject
  (void)verifier().verify(input, kFuzzNow, claims);

  // The input as the (signed) payload: exercises the claim parsing past the signature check.
  static const sig::auth::Signer signer =
      sig::auth::Signer::hmac(sig::auth::Algorithm::HS256, std::string(kFuzzSecret));
  const std::string token = signer.sign(input);
  const std::error_code signed_ec = verifier().verify(token, kFuzzNow, claims);
  if (signed_ec == sig::auth::JwtError::bad_signature || signed_ec == sig::auth::JwtError::unsupported_alg) {
    std::abort();  // our own signature over any payload must verify
  }
  if (!signed_ec && claims.subject.empty()) std::abort();

  // base64url: whatever decodes must encode back to the same text (the decoder is canonical).
  if (const auto decoded = sig::auth::base64url_decode(input)) {
    if (sig::auth::base64url_encode(*decoded) != input) std::abort();
  }
  return 0;
}
