#pragma once
// The token keys of the configuration, loaded at start-up: the verifier of every join, and in
// --dev the random secret that signs the /dev/token tokens.
#include <cstddef>
#include <string>

#include "app/config.hpp"
#include "auth/jwt.hpp"

namespace sig::app {

struct TokenKeys {
  auth::Verifier verifier;
  std::string
      dev_secret;  // --dev only: made now, never written anywhere, so no other node accepts its tokens
};

// Throws std::runtime_error naming the option (--jwt-public-key) when a key cannot be loaded.
TokenKeys make_token_keys(const Config& config);

// `bytes` random bytes from OpenSSL's generator, as lowercase hex.
std::string random_hex(std::size_t bytes);

}  // namespace sig::app
