// Fuzz target: any input, parsed as a JWK Set, must give keys or a reason, never a crash; the
// keys it gives are bound to an algorithm and verify a token without crashing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/jwks.hpp"
#include "auth/jwt.hpp"

namespace {

// The property this target checks; a violation is a crash libFuzzer reports, with its name.
void require(bool holds, const char* property) {
  if (holds) return;
  std::fprintf(stderr, "fuzz_jwks: property violated: %s\n", property);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  sig::auth::JwksLimits limits;
  limits.max_bytes = 64 * 1024;
  limits.max_keys = 16;
  const auto parsed = sig::auth::parse_jwks(input, limits);
  require(parsed.ok() != parsed.keys.empty(), "keys exactly when the document is accepted");
  require(parsed.keys.size() <= limits.max_keys, "no more keys than the limit");
  if (!parsed.ok()) return 0;
  require(parsed.keys.describe().size() == parsed.keys.size(), "each key described once");

  // The keys in a verifier: tokens of each algorithm, with and without a kid, never crash and
  // a forged signature never verifies.
  sig::auth::Verifier verifier(sig::auth::VerifierOptions{});
  verifier.set_keys(parsed.keys);
  static const char* const kTokens[] = {
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln",                 // HS256, no kid
      "eyJhbGciOiJSUzI1NiIsImtpZCI6InIxIn0.eyJzdWIiOiJ1In0.c2ln",  // RS256, kid r1
      "eyJhbGciOiJFUzI1NiIsImtpZCI6ImUxIn0.eyJzdWIiOiJ1In0.c2ln",  // ES256, kid e1
      "eyJhbGciOiJIUzUxMiIsImtpZCI6Im8xIn0.eyJzdWIiOiJ1In0.c2ln",  // HS512, kid o1
  };
  for (const char* token : kTokens) {
    sig::auth::Claims claims;
    require(static_cast<bool>(verifier.verify(token, 1'800'000'000, claims)),
            "a forged signature never verifies");
  }
  return 0;
}
