#pragma once
// JSON Web Token verification (and signing, for tests, the load tool and the demo mode),
// written directly on OpenSSL. No I/O; the current time is a parameter.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sig::auth {

class KeySet;

enum class JwtError {
  ok = 0,
  malformed,        // not three base64url parts, bad base64url, header/payload not a JSON object
  unsupported_alg,  // alg is none, unknown, or has no configured key (algorithm confusion)
  bad_signature,    // the signature does not verify
  expired,          // exp missing, not a number, or in the past (beyond the leeway)
  not_yet_valid,    // nbf in the future (beyond the leeway)
  bad_issuer,       // iss differs from the configured issuer
  bad_audience,     // aud (string or array) does not contain the configured audience
  missing_subject,  // sub missing, not a string, or empty
  unknown_kid,      // the header's kid names no configured key (a JWKS refresh may bring it)
};
const std::error_category& jwt_category() noexcept;
std::error_code make_error_code(JwtError e) noexcept;
// A short stable name ("ok", "malformed", "unsupported_alg", ...), for logs and metrics.
std::string_view to_string(JwtError e) noexcept;

struct VerifierOptions {
  std::optional<std::string> issuer;    // checked when set
  std::optional<std::string> audience;  // checked when set
  std::string name_claim = "name";      // the claim that carries the display name
  std::chrono::seconds leeway{30};      // allowed clock skew for exp and nbf
  std::size_t max_token_length = 8192;  // longer tokens are malformed (bounds the work per join)
  // ES256: (R, S) and (R, n - S) are both valid signatures of one token. By default a high S is
  // normalised to its low-S twin before verification, so both spellings are the same token to
  // the server (nothing here is keyed on a token's bytes) and issuers that do not normalise
  // (Java, Node, Go: half of their signatures) keep working. true: a high S is refused.
  bool es256_require_low_s = false;
};

struct Claims {
  std::string subject;          // sub: the user id
  std::string display_name;     // the name claim, empty when absent or not a string
  std::int64_t expires_at = 0;  // exp, seconds since the epoch
};

// Verifies compact JWS tokens against a set of keys (auth/key_set.hpp). The set can be
// replaced at any time (a JWKS refresh, SIGHUP) while other threads verify: it is immutable and
// shared (a shared pointer copied under a mutex), so a verification sees the old set or the new
// one, whole.
// The factory functions throw std::runtime_error on a bad key; verify() never throws and is safe
// to call from many threads.
//
// Which key verifies a token: with a kid in its header, the keys of that kid; a kid no key has
// falls back to the keys without kid (a --jwt-public-key or plain --jwt-secret, since identity
// providers put a kid in every token), and is unknown_kid only when every key has a kid. Without
// a kid, the keys without kid, or, when the set has none, every key (at most
// kMaxKidlessCandidates are tried in either fallback). Of those, only a key bound to the token's alg may
// verify it (none: unsupported_alg).
class Verifier {
 public:
  static constexpr std::size_t kMaxKidlessCandidates = 8;

  Verifier(VerifierOptions options);
  ~Verifier();
  Verifier(Verifier&&) noexcept;
  Verifier& operator=(Verifier&&) noexcept;

  // HS256 / HS384 / HS512 with this shared secret, without kid (replaces the previous one; an
  // empty secret removes it).
  void set_hmac_secret(std::string secret);
  // RS256 for an RSA key, ES256 for a P-256 EC key, without kid (replaces the previous key of
  // its kind); PEM text ("-----BEGIN PUBLIC KEY-----").
  void set_public_key_pem(std::string_view pem);
  // Replaces every key at once (atomically for the verifying threads).
  void set_keys(const KeySet& keys);
  std::shared_ptr<const KeySet> keys() const;
  bool has_keys() const;

  // Called (on the verifying thread, cheaply: it should only post work) with the kid of each
  // token refused as unknown_kid. Set before verify() runs on other threads.
  void set_unknown_kid_listener(std::function<void(std::string_view kid)> listener);

  // The alg of the header selects the key: HS* only with a secret, RS256 only with an RSA key,
  // ES256 only with an EC key. now_unix is the current time in seconds since the epoch.
  std::error_code verify(std::string_view token, std::int64_t now_unix, Claims& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

enum class Algorithm { HS256, HS384, HS512, RS256, ES256 };

// Signs tokens. For tests, the load tool and the development mode only.
class Signer {
 public:
  static Signer hmac(Algorithm alg, std::string secret);               // HS*
  static Signer private_key_pem(Algorithm alg, std::string_view pem);  // RS256 / ES256; throws on a bad key
  ~Signer();
  Signer(Signer&&) noexcept;
  Signer& operator=(Signer&&) noexcept;

  // payload_json must be a JSON object's text; the header is {"alg":"...","typ":"JWT"}.
  std::string sign(std::string_view payload_json) const;
  // Signs an arbitrary header (to build hostile tokens in tests, e.g. alg "none").
  std::string sign_with_header(std::string_view header_json, std::string_view payload_json) const;

 private:
  Signer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// base64url without padding, as JWS uses it. decode returns nullopt on an invalid character.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace sig::auth

template <>
struct std::is_error_code_enum<sig::auth::JwtError> : std::true_type {};
