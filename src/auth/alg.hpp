#pragma once
// The JWS algorithms the module knows, by header name and by the public Algorithm. Internal to
// the auth module; a key is bound to one of them when it is loaded (auth/openssl.hpp), and a
// token's alg must match the kind of the key that verifies it (no algorithm confusion).

#include <string_view>

#include "auth/jwt.hpp"

namespace sig::auth::detail {

// Internal algorithm index: HS256, HS384, HS512 are 0..2 (the HMAC table index).
enum class Alg : int { HS256 = 0, HS384 = 1, HS512 = 2, RS256 = 3, ES256 = 4, unknown = 5 };

inline bool is_hmac(Alg a) noexcept {
  return a == Alg::HS256 || a == Alg::HS384 || a == Alg::HS512;
}

inline Alg to_alg(Algorithm a) noexcept {
  switch (a) {
    case Algorithm::HS256: return Alg::HS256;
    case Algorithm::HS384: return Alg::HS384;
    case Algorithm::HS512: return Alg::HS512;
    case Algorithm::RS256: return Alg::RS256;
    case Algorithm::ES256: return Alg::ES256;
  }
  return Alg::unknown;
}

// The alg of a token's header (case-sensitive, RFC 7515 4.1.1); "none" and others are unknown.
inline Alg parse_alg(std::string_view name) noexcept {
  if (name == "HS256") return Alg::HS256;
  if (name == "RS256") return Alg::RS256;
  if (name == "ES256") return Alg::ES256;
  if (name == "HS384") return Alg::HS384;
  if (name == "HS512") return Alg::HS512;
  return Alg::unknown;
}

inline const char* alg_name(Alg a) noexcept {
  switch (a) {
    case Alg::HS256: return "HS256";
    case Alg::HS384: return "HS384";
    case Alg::HS512: return "HS512";
    case Alg::RS256: return "RS256";
    case Alg::ES256: return "ES256";
    case Alg::unknown: break;
  }
  return "";
}

// The OpenSSL digest name of an HS* algorithm.
inline const char* hmac_digest_name(Alg a) noexcept {
  switch (a) {
    case Alg::HS384: return "SHA384";
    case Alg::HS512: return "SHA512";
    default: return "SHA256";
  }
}

}  // namespace sig::auth::detail
