#pragma once
// One verification key of a KeySet (auth/key_set.hpp). Internal to the auth module.
#include <optional>
#include <string>

#include "auth/alg.hpp"
#include "auth/hmac.hpp"
#include "auth/openssl.hpp"

namespace sig::auth::detail {

struct KeyEntry {
  std::string kid;            // empty: a key without kid
  Alg family = Alg::unknown;  // HS256 (for every HS*), RS256 or ES256
  std::optional<Alg> only;    // HS*: the one algorithm a JWK's "alg" allows
  HmacKeys hmac;              // family HS*
  EvpPkeyPtr pkey;            // family RS256 / ES256

  // Whether a token of algorithm a may be verified with this key.
  bool accepts(Alg a) const noexcept {
    if (is_hmac(a)) return family == Alg::HS256 && (!only || *only == a);
    return a == family;
  }
};

}  // namespace sig::auth::detail
