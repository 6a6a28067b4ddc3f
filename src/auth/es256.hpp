#pragma once
// ES256 (ECDSA P-256 with SHA-256) signature encodings: JWS carries R || S (RFC 7518 3.4),
// OpenSSL speaks DER ECDSA-Sig-Value; and the low-S form. Internal to the auth module.

#include <cstddef>
#include <string>
#include <string_view>

namespace sig::auth::detail {

constexpr std::size_t kEs256SigSize = 64;  // R || S, 32 bytes each
constexpr std::size_t kEs256CoordSize = 32;

// (R, S) and (R, n - S) are both valid ECDSA signatures of the same message: the verifier checks
// the "low S" one (S <= n / 2), after normalising a high S or refusing it
// (VerifierOptions::es256_require_low_s), and the signer makes it, so a token has one canonical
// signature (no malleability).

// S of a raw R || S signature is above n / 2.
bool es256_high_s(const unsigned char* raw);
// S := n - S, in place (32 bytes, big-endian): the low-S twin of a signature.
void to_low_s(unsigned char* s);

// R || S (JWS) -> DER ECDSA-Sig-Value. Returns the DER length, 0 on failure (the OpenSSL error
// queue is left to the caller).
std::size_t es256_raw_to_der(const unsigned char* raw, unsigned char* der, std::size_t der_cap);
// DER ECDSA-Sig-Value -> R || S, each left-padded to 32 bytes. Throws on a bad DER.
std::string es256_der_to_raw(std::string_view der);

}  // namespace sig::auth::detail
