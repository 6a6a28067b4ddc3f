// OpenSSL 3 helpers of the auth module (see auth/openssl.hpp).

#include "auth/openssl.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <stdexcept>

namespace sig::auth::detail {

namespace {

struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

BioPtr mem_bio(std::string_view pem) {
  if (pem.size() > static_cast<std::size_t>(INT_MAX)) throw std::runtime_error("jwt: PEM too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw_openssl("BIO_new_mem_buf");
  return bio;
}

}  // namespace

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

void throw_openssl(const std::string& what) {
  throw std::runtime_error("jwt: " + what + ": " + openssl_error());
}

EvpMdPtr fetch_md(const char* name) {
  EvpMdPtr md(EVP_MD_fetch(nullptr, name, nullptr));
  if (!md) throw_openssl(std::string("cannot fetch digest ") + name);
  return md;
}

EvpPkeyPtr load_public_key(std::string_view pem) {
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(mem_bio(pem).get(), nullptr, nullptr, nullptr));
  if (!key) {
    X509Ptr cert(PEM_read_bio_X509(mem_bio(pem).get(), nullptr, nullptr, nullptr));
    if (cert) key.reset(X509_get_pubkey(cert.get()));
  }
  if (!key) throw_openssl("cannot read the public key PEM");
  ERR_clear_error();  // the failed first attempt, if any
  return key;
}

EvpPkeyPtr load_private_key(std::string_view pem) {
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(mem_bio(pem).get(), nullptr, nullptr, nullptr));
  if (!key) throw_openssl("cannot read the private key PEM");
  return key;
}

bool is_rsa(EVP_PKEY* key) {
  return EVP_PKEY_is_a(key, "RSA") == 1;
}

bool is_p256(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) {
    ERR_clear_error();
    return false;
  }
  const std::string_view group(name, len);
  return group == "prime256v1" || group == "P-256" || group == "secp256r1";
}

Alg public_key_alg(EVP_PKEY* key) {
  if (is_rsa(key)) {
    if (EVP_PKEY_get_bits(key) < kMinRsaBits) {
      throw std::runtime_error("jwt: the RSA public key is shorter than 2048 bits");
    }
    return Alg::RS256;
  }
  if (is_p256(key)) return Alg::ES256;
  throw std::runtime_error("jwt: the public key is neither RSA (RS256) nor P-256 EC (ES256)");
}

void check_private_key_alg(Alg alg, EVP_PKEY* key) {
  if (alg == Alg::RS256 && !is_rsa(key)) throw std::runtime_error("jwt: RS256 needs an RSA private key");
  if (alg == Alg::ES256 && !is_p256(key)) throw std::runtime_error("jwt: ES256 needs a P-256 private key");
}

bool verify_signature(EVP_PKEY* key, const EVP_MD* md, std::string_view input, const unsigned char* sig,
                      std::size_t sig_len) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx.get(), sig, sig_len,
                                   reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

std::string sign_sha256(EVP_PKEY* key, std::string_view input) {
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  EvpMdPtr md = fetch_md("SHA256");
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md.get(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
    throw_openssl("signing");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data, input.size()) !=
      1) {
    throw_openssl("signing");
  }
  sig.resize(len);
  return sig;
}

}  // namespace sig::auth::detail
