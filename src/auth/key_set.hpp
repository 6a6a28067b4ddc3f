#pragma once
// A set of token verification keys, each with an optional key id (kid) and bound to the one
// algorithm family it may verify (no algorithm confusion): a secret to HS256/HS384/HS512 (or to
// one of them, when a JWK says so), an RSA key of 2048+ bits to RS256, a P-256 key to ES256.
//
// A KeySet is built, then handed to Verifier::set_keys, which shares it immutably with every
// verifying thread. Copying a set is cheap (its keys are shared, read-only).
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwt.hpp"

namespace sig::auth {

namespace detail {
struct KeyEntry;
}

class KeySet {
 public:
  KeySet();
  ~KeySet();
  KeySet(const KeySet&);
  KeySet& operator=(const KeySet&);
  KeySet(KeySet&&) noexcept;
  KeySet& operator=(KeySet&&) noexcept;

  // A shared secret under kid (empty: a key without kid). `only` restricts it to one HS
  // algorithm; without it HS256, HS384 and HS512 all verify with it. Throws
  // std::invalid_argument on an empty secret (anyone could forge tokens), std::runtime_error on
  // an OpenSSL failure. The secret is wiped once keyed.
  void add_hmac_secret(std::string kid, std::string secret, std::optional<Algorithm> only = std::nullopt);
  // An RSA (RS256) or P-256 (ES256) public key, PEM (or a certificate). Throws
  // std::runtime_error on a bad or unsuitable key.
  void add_public_key_pem(std::string kid, std::string_view pem);
  // Every key of other, after the keys of this set.
  void add_all(const KeySet& other);
  // Drops the keys without kid of one family (HS* for any HS algorithm, RS256, ES256).
  void remove_unnamed(Algorithm family);

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  bool has_kid(std::string_view kid) const noexcept;
  // One line per key, "kid=<kid> alg=<alg>" ("kid=-" without one), for logs: never key material.
  std::vector<std::string> describe() const;

  // Internal to the auth module (the JWKS parser, the verifier).
  void add_entry(std::shared_ptr<const detail::KeyEntry> entry);
  const std::vector<std::shared_ptr<const detail::KeyEntry>>& entries() const noexcept { return entries_; }

 private:
  std::vector<std::shared_ptr<const detail::KeyEntry>> entries_;
};

}  // namespace sig::auth
