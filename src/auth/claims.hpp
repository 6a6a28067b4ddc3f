#pragma once
// The registered claims of a verified token's payload (RFC 7519 4.1): exp, nbf, iss, aud, sub,
// and the configured display-name claim. Internal to the auth module.

#include <simdjson.h>

#include <cstdint>

#include "auth/jwt.hpp"

namespace sig::auth::detail {

// Checks the claims of a payload whose signature has been verified, at time now (seconds since
// the epoch), and fills out on success. Never throws.
JwtError check_claims(simdjson::dom::object payload, std::int64_t now, const VerifierOptions& options,
                      Claims& out);

}  // namespace sig::auth::detail
