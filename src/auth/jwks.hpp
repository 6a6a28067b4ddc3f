#pragma once
// A JSON Web Key Set (RFC 7517) parser: the verification keys an identity provider publishes.
// Pure: text in, keys out (no I/O). Each usable key is bound to its algorithm family as a
// PEM key is (auth/key_set.hpp):
//   kty RSA (n, e)           -> RS256, modulus 2048..8192 bits
//   kty EC, crv P-256 (x, y) -> ES256, the point checked to be on the curve
//   kty oct (k)              -> HS256/HS384/HS512, or the one HS* its "alg" names
// A key's "alg", when given, must be that algorithm (RS384, PS256, ... are not supported);
// a key whose "use" is not "sig", or whose "key_ops" lacks "verify", is not for us. Such keys,
// and malformed ones, are skipped with a reason; the other keys still count. A document that
// is not a JWK Set, is too large, has too many keys, or has no usable key is refused whole.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "auth/key_set.hpp"

namespace sig::auth {

struct JwksLimits {
  std::size_t max_bytes = std::size_t{1} << 20U;  // the document
  std::size_t max_keys = 64;                      // entries of "keys" (skipped ones included)
  std::size_t max_kid_length = 256;
};

// Sizes of the keys a JWKS may hold.
constexpr int kJwkMinRsaBits = 2048;         // RFC 7518 3.3
constexpr int kJwkMaxRsaBits = 8192;         // bounds the work of one verification
constexpr std::size_t kJwkMinOctBytes = 32;  // RFC 7518 3.2: at least the hash size (HS256)
constexpr std::size_t kJwkMaxOctBytes = 1024;

struct JwksResult {
  KeySet keys;                       // the usable keys (empty when error is set)
  std::vector<std::string> skipped;  // "keys[2] (kid \"a\"): <reason>", one per skipped key
  std::string error;                 // not empty: the document is refused
  bool ok() const noexcept { return error.empty(); }
};

// Never throws (an OpenSSL failure skips the key).
JwksResult parse_jwks(std::string_view json, const JwksLimits& limits = {});

}  // namespace sig::auth
