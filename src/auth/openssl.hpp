#pragma once
// OpenSSL 3 helpers of the auth module: RAII pointers, error text, key loading and the binding
// of a key to the one algorithm it may verify or sign with. Internal to the auth module.
//
// Every failing OpenSSL call's error queue is cleared before returning: the queue is per thread
// and a stale entry would be picked up by the next TLS operation of that thread.

#include <openssl/ec.h>
#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "auth/alg.hpp"

namespace sig::auth::detail {

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct EvpMdFree {
  void operator()(EVP_MD* p) const noexcept { EVP_MD_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree>;
using EvpMdPtr = std::unique_ptr<EVP_MD, EvpMdFree>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

// The last OpenSSL error of this thread as text (and the queue emptied).
std::string openssl_error();
// Throws std::runtime_error("jwt: <what>: <the OpenSSL error>").
[[noreturn]] void throw_openssl(const std::string& what);

// A digest by name ("SHA256"); throws when OpenSSL has none.
EvpMdPtr fetch_md(const char* name);

// A public key from a "PUBLIC KEY" PEM, or from a certificate PEM. Throws on a bad PEM.
EvpPkeyPtr load_public_key(std::string_view pem);
// A private key from a PEM. Throws on a bad PEM.
EvpPkeyPtr load_private_key(std::string_view pem);

bool is_rsa(EVP_PKEY* key);
bool is_p256(EVP_PKEY* key);

constexpr int kMinRsaBits = 2048;  // RFC 7518 3.3

// The algorithm a verification key is for: RS256 for an RSA key of at least kMinRsaBits, ES256
// for a P-256 EC key. Throws std::runtime_error for any other key.
Alg public_key_alg(EVP_PKEY* key);
// Throws std::runtime_error unless the private key fits alg (RS256: RSA, ES256: P-256).
void check_private_key_alg(Alg alg, EVP_PKEY* key);

// Verifies a DER (ES256) or PKCS#1 v1.5 (RS256) signature of input with md. Never throws; false
// on a bad signature or an OpenSSL failure (the error queue cleared).
bool verify_signature(EVP_PKEY* key, const EVP_MD* md, std::string_view input, const unsigned char* sig,
                      std::size_t sig_len);
// The SHA-256 signature of input with a private key (DER for an EC key). Throws on failure.
std::string sign_sha256(EVP_PKEY* key, std::string_view input);

}  // namespace sig::auth::detail
