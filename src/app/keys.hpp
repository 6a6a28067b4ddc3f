#pragma once
// The token keys of the configuration: the verifier of every join, the key material it holds
// (secrets, PEM key, JWKS file, and the JWKS URL's last good set) and, in --dev, the random
// secret that signs the /dev/token tokens. docs/security.md, "Key rotation".
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.hpp"
#include "auth/jwt.hpp"
#include "auth/key_set.hpp"

namespace sig::app {

// One --jwt-secret: "kid:secret" when the text before the first ':' is a kid
// ([A-Za-z0-9._-]{1,64}) and a secret follows; otherwise the whole text, without kid.
struct JwtSecret {
  std::string kid;
  std::string secret;
};
JwtSecret parse_jwt_secret(std::string_view text);
// Throws std::runtime_error naming --jwt-secret: two secrets without kid, a kid given twice.
void check_jwt_secrets(const std::vector<std::string>& values);
// An http:// or https:// URL with a host (the JWKS URL).
bool jwks_url_ok(std::string_view url);

// The key material read from the configuration at start-up and on SIGHUP: the secrets, the
// --jwt-public-key PEM, the --jwt-jwks-file set. Throws std::runtime_error naming the option.
auth::KeySet load_local_keys(const Config& config);

// The union of the local keys and the JWKS URL's, published to the verifier whenever a part
// changes. Thread-safe (a SIGHUP and a refresh may race).
class KeyRing {
 public:
  // Starts with the verifier's keys as the local ones.
  explicit KeyRing(auth::Verifier& verifier) : verifier_(verifier), local_(*verifier.keys()) {}
  void set_local(auth::KeySet keys);
  void set_remote(auth::KeySet keys);
  bool local_empty() const;

 private:
  void publish();  // with mutex_ held

  auth::Verifier& verifier_;
  mutable std::mutex mutex_;
  auth::KeySet local_;
  auth::KeySet remote_;
};

struct TokenKeys {
  auth::Verifier verifier;
  std::string
      dev_secret;  // --dev only: made now, never written anywhere, so no other node accepts its tokens
};

// The verifier with the local keys (the URL's come later). Throws std::runtime_error naming the
// option when a key cannot be loaded.
TokenKeys make_token_keys(const Config& config);

// `bytes` random bytes from OpenSSL's generator, as lowercase hex.
std::string random_hex(std::size_t bytes);

}  // namespace sig::app
