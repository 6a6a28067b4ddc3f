#pragma once
// HS256 / HS384 / HS512. Internal to the auth module.
//
// The verifier's keys are digest contexts pre-keyed at configuration time with the inner and
// outer pads (what HMAC_Init does), copied into a per-thread context for each verification, so
// the hot path neither hashes the secret again nor allocates.

#include <openssl/evp.h>

#include <array>
#include <string>
#include <string_view>

#include "auth/alg.hpp"
#include "auth/openssl.hpp"

namespace sig::auth::detail {

class HmacKeys {
 public:
  // Keys HS256/384/512 with secret (wiped afterwards). An empty secret would let anyone forge
  // tokens: it unsets the keys instead. Throws std::runtime_error on an OpenSSL failure.
  void set(std::string secret);
  bool has_secret() const noexcept { return has_secret_; }

  // sig is the HMAC of input under alg (an HS* algorithm, with a secret set), compared in
  // constant time. scratch is a per-thread context to work in. Never throws.
  bool verify(Alg alg, std::string_view input, std::string_view sig, EVP_MD_CTX* scratch) const;

 private:
  // For each of HS256/384/512, a digest context already fed with key^ipad and one fed with
  // key^opad. Read-only after configuration; copied per verification.
  struct Key {
    EvpMdCtxPtr inner;
    EvpMdCtxPtr outer;
  };
  std::array<Key, 3> keys_;
  bool has_secret_ = false;
};

// The HMAC of input under alg (an HS* algorithm), one shot, for the signer. Throws on failure.
std::string hmac_sign(Alg alg, std::string_view secret, std::string_view input);

}  // namespace sig::auth::detail
